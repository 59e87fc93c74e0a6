// The start page: a prompt box that creates a session and starts its first run.

import { post, describe } from '../api.js';
import { h, mount, uniqueId } from '../dom.js';
import { title, toast } from '../ui.js';
import { providerPicker } from '../components/provider-picker.js';
import { repoPicker } from '../components/repo-picker.js';
import { broadcast } from '../components/session-list.js';
import { attachments } from '../components/attachments.js';

/** The first line of a prompt, shortened: the new session's title. */
export function titleFrom(prompt) {
  const line = prompt.trim().split('\n')[0].trim();
  return line.length > 60 ? `${line.slice(0, 57).trimEnd()}…` : line;
}

/** Enter sends, Shift+Enter adds a line (IME composition is left alone). */
export function submitOnEnter(textarea, form) {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

export function render(main, ctx) {
  title('New session');
  const id = uniqueId('prompt');
  const hintId = `${id}-hint`;
  const prompt = h('textarea', {
    id, name: 'prompt', rows: 5, required: true, 'aria-describedby': hintId,
    placeholder: 'Describe what you want done, e.g. “Add a health check endpoint and a test for it”.',
  });
  const picker = providerPicker();
  const repo = repoPicker();
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Start session');
  const images = attachments(prompt, { onError: (m) => toast(m, 'error') });
  const form = h('form', { class: 'composer composer-home' },
    h('label', { for: id, class: 'composer-label', text: 'What should the agent do?' }),
    prompt,
    repo.el,
    images.el,
    h('div', { class: 'composer-row' }, picker.el, submit),
    h('p', { class: 'hint', id: hintId, text: 'Enter to start, Shift+Enter for a new line. Paste or drop images into the box.' }),
    error);
  submitOnEnter(prompt, form);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = prompt.value.trim();
    error.hidden = true;
    if (!message) {
      error.textContent = 'Write a prompt first.';
      error.hidden = false;
      prompt.focus();
      return;
    }
    const code = repo.value();
    if (code === null) {
      error.textContent = 'Pick a repository and a base branch, or uncheck “Work on a GitHub repository”.';
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    const choice = picker.value();
    try {
      const session = await post('/api/sessions', { title: titleFrom(message), ...choice, ...code });
      broadcast('created', session);
      try {
        const base = `/api/sessions/${encodeURIComponent(session.id)}`;
        const body = { message, ...choice };
        if (images.count() > 0) body.images = await images.upload(base);
        const sent = await post(`${base}/send`, body);
        if (sent && sent.session) broadcast('updated', sent.session);
      } catch (e) {
        toast(`The session was created but its run did not start: ${describe(e)}`, 'error');
      }
      ctx.navigate(`/sessions/${encodeURIComponent(session.id)}`);
    } catch (e) {
      submit.disabled = false;
      error.textContent = describe(e);
      error.hidden = false;
    }
  });

  const who = ctx.user ? (ctx.user.displayName || ctx.user.email) : '';
  mount(main, h('section', { class: 'page home-page' },
    h('h1', { text: 'New session' }),
    h('p', { class: 'muted', text: `Signed in as ${who}. Runs keep going on the server: close the tab, reload, come back — the stream picks up where it was.` }),
    form));
  if (matchMedia('(min-width: 700px)').matches) prompt.focus();
}
