// Account → Connections → Your AI key: the user's own Anthropic or OpenAI-compatible key, used
// for their runs on that provider instead of the deployment's. The key goes to the server once,
// is stored encrypted and never shown again (the list carries provider, base URL and model).

import { api, post, del, describe } from '../api.js';
import { h, mount, field, setFieldError } from '../dom.js';
import { toast } from '../ui.js';
import { dateTime } from '../format.js';

const KINDS = [['anthropic', 'Anthropic'], ['openai', 'OpenAI-compatible (OpenAI, Ollama, vLLM, …)']];

/** The "Your AI key" part of the Connections card; loads its list when created. */
export function aiKeySection() {
  const provider = field({ label: 'Provider', name: 'ai-provider', tag: 'select' });
  mount(provider.input, KINDS.map(([value, text]) => h('option', { value, text })));
  const baseUrl = field({ label: 'Base URL (optional)', name: 'ai-base-url', maxlength: 300, placeholder: 'https://api.anthropic.com', hint: 'Leave empty for the provider’s own API; https only.' });
  const key = field({ label: 'API key', name: 'ai-key', type: 'password', autocomplete: 'off', required: true, maxlength: 1000, hint: 'Stored encrypted; used only for your runs. Never shown again.' });
  const model = field({ label: 'Model (optional)', name: 'ai-model', maxlength: 200, placeholder: 'claude-sonnet-4-5' });
  const status = h('p', { class: 'form-status', role: 'status' });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Save AI key' });
  const form = h('form', { class: 'stack', novalidate: true, 'aria-label': 'Add your AI key' },
    provider.wrap, baseUrl.wrap, key.wrap, model.wrap, button, status);
  const list = h('ul', { class: 'device-list', 'aria-label': 'Your AI keys' });
  const listStatus = h('p', { class: 'muted', role: 'status', text: 'Loading…' });

  provider.input.addEventListener('change', () => {
    const anthropic = provider.input.value === 'anthropic';
    baseUrl.input.placeholder = anthropic ? 'https://api.anthropic.com' : 'https://api.openai.com/v1';
    model.input.placeholder = anthropic ? 'claude-sonnet-4-5' : 'gpt-4o-mini';
  });

  async function load() {
    try {
      const data = await api('/api/connections');
      const items = ((data && data.connections) || []).filter((c) => c.kind === 'ai_key');
      listStatus.textContent = items.length ? '' : 'No AI key of your own: runs use the deployment’s.';
      mount(list, items.map((c) => h('li', { class: 'device' },
        h('div', { class: 'device-info' },
          h('strong', { text: c.provider === 'anthropic' ? 'Anthropic' : 'OpenAI-compatible' }),
          h('span', { class: 'badge', text: 'AI key' }),
          h('span', { class: 'muted', text: `${c.host}${c.login ? ` · ${c.login}` : ''} · added ${dateTime(c.createdAt)}` })),
        h('button', {
          type: 'button', class: 'danger-quiet', text: 'Remove',
          'aria-label': `Remove your ${c.provider} key`,
          onClick: () => remove(c),
        }))));
    } catch (e) {
      listStatus.textContent = `Could not load your AI keys: ${describe(e)}`;
    }
  }

  async function remove(c) {
    try {
      await del(`/api/connections/${encodeURIComponent(c.id)}`);
      toast('Your AI key was removed.');
      load();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const f of [provider, baseUrl, key, model]) setFieldError(f, '');
    status.textContent = '';
    if (!key.input.value.trim()) {
      setFieldError(key, 'Enter the key.');
      key.input.focus();
      return;
    }
    button.disabled = true;
    try {
      const body = { provider: provider.input.value, key: key.input.value.trim() };
      if (baseUrl.input.value.trim()) body.baseUrl = baseUrl.input.value.trim();
      if (model.input.value.trim()) body.model = model.input.value.trim();
      await post('/api/connections/ai-key', body);
      form.reset();
      status.textContent = 'Saved: your runs on this provider now use your key.';
      load();
    } catch (e) {
      const target = { provider, baseUrl, key, model }[e.field];
      if (target) {
        setFieldError(target, e.message);
        target.input.focus();
      } else status.textContent = describe(e);
    } finally {
      button.disabled = false;
    }
  });

  load();
  return h('div', { class: 'stack' },
    h('h3', { id: 'ai-key-h', text: 'Your AI key' }),
    h('p', { class: 'muted', text: 'Runs on Anthropic or an OpenAI-compatible server use your own key instead of this deployment’s.' }),
    listStatus, list, form);
}
