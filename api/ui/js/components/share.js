// The chat page's Share control: create a read-only link (shown once, with Copy), replace it,
// or revoke it. The link is `/shared#<token>`; the server keeps only the token's hash, so an
// existing link cannot be shown again — only replaced or revoked.

import { api, post, del, describe } from '../api.js';
import { h, mount } from '../dom.js';
import { toast } from '../ui.js';
import { icon } from '../icons.js';
import { dateTime } from '../format.js';

export function shareControls(sessionId) {
  const base = `/api/sessions/${encodeURIComponent(sessionId)}/share`;
  const panel = h('div', { class: 'share-panel', id: 'share-panel', role: 'region', 'aria-label': 'Share this session', hidden: true });
  const button = h('button', {
    type: 'button', class: 'icon-button', id: 'share-button', 'aria-label': 'Share session', title: 'Share',
    'aria-expanded': 'false', 'aria-controls': 'share-panel',
  }, icon('share'));

  let shared = null; // { createdAt } when a link exists
  let fresh = null; // the URL just created (shown until the panel closes)

  function render() {
    const close = h('button', { type: 'button', class: 'button-small button-quiet', text: 'Close', onClick: () => toggle(false) });
    if (fresh) {
      const field = h('input', { type: 'text', readonly: true, class: 'share-url', id: 'share-url', value: fresh, 'aria-label': 'Share link' });
      mount(panel,
        h('p', { text: 'Anyone with this link can read this session and follow its runs live. It is shown only now: copy it.' }),
        h('div', { class: 'share-row' }, field,
          h('button', { type: 'button', class: 'button-small primary', id: 'share-copy', text: 'Copy', onClick: () => copy(field) })),
        h('div', { class: 'share-row' },
          h('button', { type: 'button', class: 'button-small danger-quiet', id: 'share-revoke', text: 'Revoke link', onClick: revoke }),
          close));
      field.select();
    } else if (shared) {
      mount(panel,
        h('p', { text: `A read-only link exists since ${dateTime(shared.createdAt)}. Replace it to see a link again (the old one stops working).` }),
        h('div', { class: 'share-row' },
          h('button', { type: 'button', class: 'button-small', id: 'share-create', text: 'Replace link', onClick: create }),
          h('button', { type: 'button', class: 'button-small danger-quiet', id: 'share-revoke', text: 'Revoke link', onClick: revoke }),
          close));
    } else {
      mount(panel,
        h('p', { text: 'Not shared. A link lets anyone who has it read this session (no account needed); you can revoke it at any time.' }),
        h('div', { class: 'share-row' },
          h('button', { type: 'button', class: 'button-small primary', id: 'share-create', text: 'Create link', onClick: create }),
          close));
    }
  }

  async function load() {
    try {
      shared = await api(base);
    } catch (e) {
      if (e.status !== 404) toast(describe(e), 'error');
      shared = null;
    }
  }

  async function create() {
    try {
      const res = await post(base);
      shared = { createdAt: res.createdAt };
      fresh = `${location.origin}${res.path}`;
      render();
      panel.querySelector('#share-copy')?.focus();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  async function revoke() {
    try {
      await del(base);
      shared = null;
      fresh = null;
      render();
      toast('The link was revoked: it no longer works.');
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  async function copy(field) {
    try {
      await navigator.clipboard.writeText(field.value);
      toast('Link copied.');
    } catch {
      field.select();
      toast('Press Ctrl+C (⌘C) to copy the selected link.', 'info');
    }
  }

  async function toggle(open) {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (!open) {
      fresh = null;
      button.focus();
      return;
    }
    await load();
    render();
  }

  button.addEventListener('click', () => toggle(panel.hidden));
  return { button, panel };
}
