// Account → Connections: git hosts connected with a personal access token. The token goes to
// the server once, is checked there against the host, and is never shown again (the list
// carries host and login only).

import { api, post, del, describe } from '../api.js';
import { h, mount, field, setFieldError } from '../dom.js';
import { toast } from '../ui.js';
import { dateTime } from '../format.js';
import { aiKeySection } from './ai-key.js';

const PROVIDERS = [['', 'Detect'], ['github', 'GitHub / GitHub Enterprise'], ['gitlab', 'GitLab'], ['gitea', 'Gitea / Forgejo']];

/** The card; loads the list when created. */
export function connectionsCard() {
  const host = field({ label: 'Host', name: 'host', required: true, maxlength: 300, placeholder: 'github.com', hint: 'github.com, or https://git.example.com for your own server.' });
  const token = field({ label: 'Personal access token', name: 'token', type: 'password', autocomplete: 'off', required: true, maxlength: 1000, hint: 'Stored encrypted; used only for your coding runs on this host.' });
  const provider = field({ label: 'Kind of host', name: 'provider', tag: 'select' });
  mount(provider.input, PROVIDERS.map(([value, text]) => h('option', { value, text })));
  const status = h('p', { class: 'form-status', role: 'status' });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Connect' });
  const form = h('form', { class: 'stack', novalidate: true }, host.wrap, token.wrap, provider.wrap, button, status);
  const list = h('ul', { class: 'device-list', 'aria-label': 'Connected hosts' });
  const listStatus = h('p', { class: 'muted', role: 'status', text: 'Loading…' });

  // GitHub sign-in (the OAuth App): the server redirects to GitHub and back here.
  const GITHUB_ERRORS = {
    access_denied: 'GitHub access was declined.',
    oauth_state_invalid: 'That GitHub sign-in link was not valid here (used, or from another login). Try again.',
    oauth_state_expired: 'The GitHub sign-in took too long. Try again.',
    oauth_failed: 'GitHub did not complete the sign-in. Try again.',
    connection_limit: 'You have too many connections; remove one first.',
  };
  const githubStatus = h('p', { class: 'form-status', role: 'status' });
  const githubButton = h('button', { type: 'button', class: 'primary', text: 'Connect GitHub' });
  githubButton.addEventListener('click', async () => {
    const url = `/api/connections/github/start?returnTo=${encodeURIComponent(location.pathname)}`;
    githubButton.disabled = true;
    try {
      // A redirect means the app is configured: follow it as a page.
      const res = await fetch(url, { redirect: 'manual', credentials: 'same-origin' });
      if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
        location.href = url;
        return;
      }
      const data = await res.json().catch(() => null);
      githubStatus.textContent = (data && data.error && data.error.message) || 'GitHub sign-in is not available.';
    } catch (e) {
      githubStatus.textContent = describe(e);
    }
    githubButton.disabled = false;
  });
  const params = new URLSearchParams(location.search);
  if (params.get('github') === 'connected') githubStatus.textContent = 'GitHub connected.';
  else if (params.get('github_error')) {
    githubStatus.textContent = GITHUB_ERRORS[params.get('github_error')] || 'GitHub sign-in failed.';
  }

  async function load() {
    try {
      const data = await api('/api/connections');
      // AI keys are listed in their own section.
      const items = ((data && data.connections) || []).filter((c) => c.kind !== 'ai_key');
      listStatus.textContent = items.length ? '' : 'No hosts connected yet.';
      mount(list, items.map((c) => h('li', { class: 'device' },
        h('div', { class: 'device-info' },
          h('strong', { text: c.host }),
          h('span', { class: 'badge', text: c.provider }),
          h('span', { class: 'muted', text: `as ${c.login} · connected ${dateTime(c.createdAt)}` })),
        h('button', {
          type: 'button', class: 'danger-quiet', text: 'Disconnect',
          'aria-label': `Disconnect ${c.host}`,
          onClick: () => remove(c),
        }))));
    } catch (e) {
      listStatus.textContent = `Could not load your connections: ${describe(e)}`;
    }
  }

  async function remove(c) {
    try {
      await del(`/api/connections/${encodeURIComponent(c.id)}`);
      toast(`Disconnected ${c.host}.`);
      load();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const f of [host, token, provider]) setFieldError(f, '');
    status.textContent = '';
    if (!host.input.value.trim()) {
      setFieldError(host, 'Enter a host.');
      host.input.focus();
      return;
    }
    if (!token.input.value.trim()) {
      setFieldError(token, 'Enter a token.');
      token.input.focus();
      return;
    }
    button.disabled = true;
    try {
      const body = { host: host.input.value.trim(), token: token.input.value.trim() };
      if (provider.input.value) body.provider = provider.input.value;
      const c = await post('/api/connections', body);
      form.reset();
      status.textContent = `Connected ${c.host} as ${c.login}.`;
      load();
    } catch (e) {
      const target = { host, token, provider }[e.field];
      if (target) {
        setFieldError(target, e.message);
        target.input.focus();
      } else status.textContent = describe(e);
    } finally {
      button.disabled = false;
    }
  });

  load();
  return h('section', { class: 'card', 'aria-labelledby': 'connections-h' },
    h('h2', { id: 'connections-h', text: 'Connections' }),
    h('p', { class: 'muted', text: 'Coding runs on a repository of a connected host clone and push with your token.' }),
    listStatus, list,
    h('div', { class: 'stack' }, githubButton, githubStatus),
    h('h3', { text: 'Or add a personal access token' }),
    form, aiKeySection());
}
