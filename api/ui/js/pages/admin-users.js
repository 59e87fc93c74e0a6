// The admin page's server-enforced parts: users (search, disable/enable, stop their runs) and
// the audit log (filter by action, page back in time). Every call goes to /api/admin/*, which
// answers 403 to anyone who is not an administrator.

import { api, post, describe } from '../api.js';
import { h, mount } from '../dom.js';
import { toast } from '../ui.js';
import { dateTime } from '../format.js';

/** The users section: a search box and a table with one row of actions per user. */
export function usersSection(me) {
  const list = h('tbody');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const query = h('input', { type: 'search', id: 'admin-user-search', placeholder: 'Email or name', 'aria-label': 'Search users' });
  let more = null;

  async function load(after) {
    const params = new URLSearchParams({ limit: '50' });
    if (query.value.trim()) params.set('q', query.value.trim());
    if (after) params.set('after', after);
    try {
      const data = await api(`/api/admin/users?${params}`);
      if (!after) list.replaceChildren();
      for (const u of data.users) list.append(row(u));
      more = data.nextAfter;
      moreButton.hidden = !more;
      status.textContent = list.children.length ? '' : 'No users match.';
    } catch (e) {
      status.textContent = describe(e);
    }
  }

  async function act(path, done) {
    try {
      const res = await post(path);
      toast(done(res), 'success');
      await load();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  function row(u) {
    const self = me && me.id === u.id;
    const actions = h('td', { class: 'row-actions' },
      u.disabledAt
        ? h('button', { type: 'button', class: 'button-quiet', text: 'Enable', onClick: () => act(`/api/admin/users/${u.id}/enable`, () => `${u.email} enabled`) })
        : h('button', { type: 'button', class: 'button-danger', text: 'Disable', disabled: self, title: self ? 'You cannot disable yourself' : null,
          onClick: () => {
            if (confirm(`Disable ${u.email}? Every session of this account ends at once.`)) {
              act(`/api/admin/users/${u.id}/disable`, (r) => `${u.email} disabled (${r.endedSessions} sessions ended)`);
            }
          } }),
      ' ',
      h('button', { type: 'button', class: 'button-quiet', text: 'Stop runs', disabled: !u.runningRuns,
        onClick: () => act(`/api/admin/users/${u.id}/runs/stop`, (r) => `Stopping ${r.stopping} run(s) of ${u.email}`) }));
    return h('tr', { dataset: { email: u.email } },
      h('td', {}, h('span', { text: u.email }), u.isAdmin ? h('span', { class: 'badge', text: 'admin' }) : null),
      h('td', { text: u.displayName || '—' }),
      h('td', { text: u.disabledAt ? 'disabled' : 'active', class: u.disabledAt ? 'user-disabled' : 'user-active' }),
      h('td', { text: String(u.activeSessions) }),
      h('td', { text: String(u.runningRuns) }),
      actions);
  }

  const moreButton = h('button', { type: 'button', class: 'button-quiet', text: 'More users', hidden: true, onClick: () => load(more) });
  let debounce = null;
  query.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load(), 250);
  });
  load();
  return h('section', { class: 'card admin-users' },
    h('h2', { text: 'Users' }),
    query,
    h('table', { class: 'users-table' },
      h('thead', {}, h('tr', {}, ['Email', 'Name', 'State', 'Sessions', 'Runs', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
      list),
    status, moreButton);
}

const ACTIONS = ['', 'login', 'login_failed', 'logout', 'register', 'password_changed', 'session_revoked',
  'user_disabled', 'user_enabled', 'user_runs_stopped', 'admin_granted', 'admin_revoked', 'limit_hit'];

/** The audit log: newest first, filtered by action, paged with "Older". */
export function auditSection() {
  const body = h('tbody');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const filter = h('select', { id: 'audit-action', 'aria-label': 'Filter by action' },
    ACTIONS.map((a) => h('option', { value: a, text: a || 'All actions' })));
  let before = null;

  async function load(older) {
    const params = new URLSearchParams({ limit: '50' });
    if (filter.value) params.set('action', filter.value);
    if (older && before) params.set('before', String(before));
    try {
      const data = await api(`/api/admin/audit?${params}`);
      if (!older) body.replaceChildren();
      for (const e of data.entries) {
        const who = e.actorEmail || e.email || '—';
        const detail = e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '';
        body.append(h('tr', { class: 'audit-entry' },
          h('td', {}, h('time', { datetime: e.at, title: e.at, text: dateTime(e.at) })),
          h('td', {}, h('code', { text: e.action })),
          h('td', { text: who }),
          h('td', { text: e.subjectEmail && e.subjectEmail !== who ? e.subjectEmail : '' }),
          h('td', { text: e.ip || '' }),
          h('td', {}, h('code', { text: e.replica })),
          h('td', { text: detail })));
      }
      before = data.nextBefore;
      older_.hidden = !before;
      status.textContent = body.children.length ? '' : 'No entries.';
    } catch (e) {
      status.textContent = describe(e);
    }
  }
  const older_ = h('button', { type: 'button', class: 'button-quiet', text: 'Older', hidden: true, onClick: () => load(true) });
  filter.addEventListener('change', () => load(false));
  load(false);
  return h('section', { class: 'card admin-audit' },
    h('h2', { text: 'Audit log' }),
    filter,
    h('table', { class: 'audit-table' },
      h('thead', {}, h('tr', {}, ['When', 'Action', 'Who', 'About', 'IP', 'Replica', 'Detail'].map((t) => h('th', { scope: 'col', text: t })))),
      body),
    status, older_);
}

export function mountAdmin(el, me) {
  mount(el, usersSection(me), auditSection());
}
