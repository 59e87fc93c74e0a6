// The sidebar: the caller's chat sessions (or the trash), kept live by /api/sessions/updates.
// Arrow keys move between sessions, F2 renames, Delete moves to the trash. The search box asks
// the server as one types (titles and conversations, best match first); starred sessions come
// first in the plain list. "Select" turns on checkboxes for moving several sessions to the
// trash (or restoring them) at once; the trash can be emptied now, after a confirmation.

import { api, patch, del, post, put, describe } from '../api.js';
import { h, mount } from '../dom.js';
import { resumableStream } from '../sse.js';
import { relativeTime, dateTime } from '../format.js';
import { statusBadge, toast, setConnection } from '../ui.js';
import { icon } from '../icons.js';
import { inlineRename } from './rename.js';
import { navigate } from '../router.js';
import { highlight, snippetNodes } from '../search-highlight.js';

export const displayTitle = (s) => (s.title && s.title.trim()) || 'Untitled session';

/** Other parts of the page (the chat view) hear about session changes through this event. */
export function broadcast(kind, session) {
  window.dispatchEvent(new CustomEvent('webedt:session', { detail: { kind, session } }));
}

export class SessionList {
  constructor(container) {
    this.container = container;
    this.mode = 'active';
    this.sessions = [];
    this.nextCursor = null;
    this.activeId = null;
    this.stream = null;
    this.everLive = false;
    this.loadToken = 0;
    this.query = '';
    this.searchTimer = null;
    this.selecting = false;
    this.selected = new Set();
    this.onSession = (event) => this.apply(event.detail.kind, event.detail.session, false);
  }

  start() {
    this.renderShell();
    this.load();
    window.addEventListener('webedt:session', this.onSession);
    this.stream = resumableStream({
      url: () => '/api/sessions/updates',
      onFrame: (frame) => {
        // Changes that name no single session (the trash emptied, missed notifications).
        if (frame.event === 'resync') {
          this.load();
          return;
        }
        if (frame.event !== 'session') return;
        let msg;
        try {
          msg = JSON.parse(frame.data);
        } catch {
          return;
        }
        if (msg && msg.session) broadcast(msg.kind, msg.session);
      },
      onState: (state) => {
        if (state === 'live') {
          // Changes made while we were away carry no ids to resume from: refetch.
          if (this.everLive) this.load();
          this.everLive = true;
          this.live.dataset.state = 'live';
          this.live.title = 'Live: changes from other tabs and devices appear here';
          setConnection('');
        } else if (state === 'reconnecting') {
          this.live.dataset.state = 'reconnecting';
          this.live.title = 'Reconnecting…';
          setConnection('reconnecting…', 'warn');
        }
      },
    });
  }

  stop() {
    window.removeEventListener('webedt:session', this.onSession);
    if (this.stream) this.stream.close();
    this.stream = null;
    setConnection('');
  }

  renderShell() {
    this.live = h('span', { class: 'live-dot', dataset: { state: 'connecting' }, title: 'Connecting…' });
    this.tabActive = h('button', { type: 'button', class: 'tab', text: 'Sessions', onClick: () => this.setMode('active') });
    this.tabTrash = h('button', { type: 'button', class: 'tab', text: 'Trash', onClick: () => this.setMode('trash') });
    this.search = h('input', {
      type: 'search', class: 'session-search', id: 'session-search', placeholder: 'Search sessions',
      'aria-label': 'Search sessions (titles and conversations)', maxlength: '200', autocomplete: 'off',
      onInput: () => this.onSearch(),
    });
    this.list = h('ul', { class: 'session-list', id: 'session-list', 'aria-label': 'Chat sessions' });
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.empty = h('p', { class: 'empty', hidden: true });
    this.more = h('button', { type: 'button', class: 'button-quiet load-more', text: 'Load more', hidden: true, onClick: () => this.load(true) });
    this.selectToggle = h('button', {
      type: 'button', class: 'button-quiet button-small', id: 'select-toggle', text: 'Select',
      'aria-pressed': 'false', onClick: () => this.setSelecting(!this.selecting),
    });
    this.emptyButton = h('button', {
      type: 'button', class: 'button-quiet button-small danger-quiet', id: 'empty-trash', text: 'Empty trash',
      hidden: true, onClick: () => this.confirmEmpty(),
    });
    this.bulkBar = h('div', { class: 'bulk-bar', id: 'bulk-bar', role: 'group', 'aria-label': 'Selected sessions', hidden: true });
    this.confirmBox = h('div', { class: 'confirm-box', id: 'empty-confirm', role: 'alertdialog', 'aria-label': 'Empty the trash', hidden: true });
    mount(this.container,
      h('div', { class: 'sidebar-head' },
        h('h2', { class: 'sidebar-title' }, 'Your sessions ', this.live),
        h('a', { href: '/', class: 'button button-small primary', 'aria-label': 'New session' }, icon('plus'), h('span', { text: 'New' }))),
      this.search,
      h('div', { class: 'tabs', role: 'group', 'aria-label': 'Show' }, this.tabActive, this.tabTrash),
      h('div', { class: 'list-tools' }, this.selectToggle, this.emptyButton),
      this.confirmBox, this.bulkBar,
      this.list, this.empty, this.more);
    this.syncTabs();
  }

  syncTabs() {
    this.tabActive.setAttribute('aria-pressed', String(this.mode === 'active'));
    this.tabTrash.setAttribute('aria-pressed', String(this.mode === 'trash'));
    this.emptyButton.hidden = this.mode !== 'trash';
    this.confirmBox.hidden = true;
  }

  setSelecting(on) {
    this.selecting = on;
    this.selected.clear();
    this.selectToggle.setAttribute('aria-pressed', String(on));
    this.selectToggle.textContent = on ? 'Done' : 'Select';
    this.renderList();
  }

  /** The bar over the list while selecting: what is selected and what can be done with it. */
  renderBulkBar() {
    this.bulkBar.hidden = !this.selecting;
    if (!this.selecting) return;
    const ids = this.shownIds();
    const n = this.selected.size;
    const all = ids.length > 0 && ids.every((id) => this.selected.has(id));
    const action = this.mode === 'trash'
      ? h('button', { type: 'button', class: 'button-small', id: 'bulk-restore', disabled: n === 0, text: `Restore ${n}`, onClick: () => this.bulk('restore') })
      : h('button', { type: 'button', class: 'button-small danger', id: 'bulk-delete', disabled: n === 0, text: `Move ${n} to trash`, onClick: () => this.bulk('delete') });
    mount(this.bulkBar,
      h('label', { class: 'select-all' },
        h('input', { type: 'checkbox', id: 'select-all', checked: all, onChange: (e) => this.selectAll(e.target.checked) }),
        ' All'),
      h('span', { class: 'bulk-count', text: `${n} selected` }),
      action);
  }

  shownIds() {
    return [...this.list.querySelectorAll('li.session-item')].map((li) => li.dataset.id);
  }

  selectAll(on) {
    for (const id of this.shownIds()) {
      if (on) this.selected.add(id);
      else this.selected.delete(id);
    }
    for (const box of this.list.querySelectorAll('input.select-session')) box.checked = on;
    this.renderBulkBar();
  }

  async bulk(action) {
    const ids = [...this.selected].slice(0, 100);
    if (!ids.length) return;
    try {
      const res = await post('/api/sessions/bulk', { action, ids });
      const done = (res.results || []).filter((r) => r.result !== 'not_found').map((r) => r.id);
      for (const id of done) {
        const s = this.sessions.find((x) => x.id === id);
        if (s) broadcast(action === 'delete' ? 'deleted' : 'restored', { ...s, deletedAt: action === 'delete' ? new Date().toISOString() : null });
        this.selected.delete(id);
      }
      if (action === 'delete' && done.includes(this.activeId)) navigate('/');
      const word = action === 'delete' ? 'Moved' : 'Restored';
      const where = action === 'delete' ? ' to the trash' : '';
      toast(`${word} ${done.length} session${done.length === 1 ? '' : 's'}${where}.`);
      this.renderList();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  /** "Empty trash" asks first, in place: the sessions and their conversations are gone for good. */
  confirmEmpty() {
    mount(this.confirmBox,
      h('p', { text: 'Delete every session in the trash for good? This cannot be undone.' }),
      h('div', { class: 'confirm-actions' },
        h('button', { type: 'button', class: 'button-small danger', id: 'empty-confirm-yes', text: 'Empty trash', onClick: () => this.emptyTrash() }),
        h('button', { type: 'button', class: 'button-small button-quiet', text: 'Cancel', onClick: () => { this.confirmBox.hidden = true; this.emptyButton.focus(); } })));
    this.confirmBox.hidden = false;
    this.confirmBox.querySelector('button.button-quiet').focus();
  }

  async emptyTrash() {
    this.confirmBox.hidden = true;
    try {
      const res = await post('/api/sessions/trash/empty');
      const n = res.purgedSessions || 0;
      toast(`Emptied the trash: ${n} session${n === 1 ? '' : 's'} deleted for good.`);
      this.selected.clear();
      this.load();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.syncTabs();
    this.sessions = [];
    this.selected.clear();
    this.renderList();
    this.load();
  }

  /** Debounced: one request per pause in typing; an older answer never overwrites a newer one. */
  onSearch() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => {
      const q = this.search.value.slice(0, 200);
      if (q === this.query) return;
      this.query = q;
      this.load();
    }, 150);
  }

  setActive(id) {
    this.activeId = id || null;
    for (const a of this.list.querySelectorAll('a.session-link')) {
      if (a.dataset.id === this.activeId) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  async load(more = false) {
    const token = ++this.loadToken;
    const params = new URLSearchParams({ limit: '50' });
    if (this.mode === 'trash') params.set('deleted', 'true');
    if (this.query.trim()) params.set('q', this.query);
    if (more && this.nextCursor) params.set('cursor', this.nextCursor);
    try {
      const data = await api(`/api/sessions?${params}`);
      if (token !== this.loadToken) return;
      const got = data.sessions || [];
      this.sessions = more ? this.sessions.concat(got.filter((s) => !this.sessions.some((x) => x.id === s.id))) : got;
      this.nextCursor = data.nextCursor || null;
      this.renderList();
    } catch (e) {
      if (token !== this.loadToken || e.status === 401) return;
      this.empty.textContent = `Could not load sessions: ${describe(e)}`;
      this.empty.hidden = false;
    }
  }

  /** A change from the updates stream, another page of this tab, or this list itself. */
  apply(kind, session) {
    const i = this.sessions.findIndex((s) => s.id === session.id);
    let here;
    if (kind === 'deleted') here = this.mode === 'trash';
    // While searching, only sessions the server matched are shown.
    else if (kind === 'created' || kind === 'restored') here = this.mode === 'active' && !this.query.trim();
    else here = i !== -1; // 'updated': wherever it is shown
    if (!here) {
      if (i !== -1) {
        this.sessions.splice(i, 1);
        this.renderList();
      }
      return;
    }
    if (i === -1) {
      this.sessions.unshift(session);
      this.renderList();
      return;
    }
    // A change notification carries no search snippet: keep the one the search gave.
    this.sessions[i] = this.sessions[i].snippet && !session.snippet ? { ...session, snippet: this.sessions[i].snippet } : session;
    const old = this.list.querySelector(`li[data-id="${CSS.escape(session.id)}"]`);
    if (!old) this.renderList();
    else if (!old.querySelector('form')) {
      const hadFocus = old.contains(document.activeElement);
      const fresh = this.item(session);
      old.replaceWith(fresh);
      if (hadFocus) fresh.querySelector('a').focus();
    }
  }

  renderList() {
    const focusedId = document.activeElement && this.list.contains(document.activeElement)
      ? document.activeElement.closest('li')?.dataset.id : null;
    // Search results keep the server's ranking; otherwise starred sessions come first.
    const shown = this.query.trim()
      ? this.sessions
      : [...this.sessions].sort((a, b) => Number(Boolean(b.favorite)) - Number(Boolean(a.favorite)));
    mount(this.list, shown.map((s) => this.item(s)));
    this.empty.hidden = this.sessions.length > 0;
    this.empty.textContent = this.query.trim()
      ? 'No session matches your search.'
      : this.mode === 'trash' ? 'The trash is empty.' : 'No sessions yet. Start one with “New”.';
    this.more.hidden = !this.nextCursor;
    if (focusedId) this.list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] a`)?.focus();
    // Selections only ever name sessions still shown.
    const ids = new Set(this.shownIds());
    for (const id of [...this.selected]) if (!ids.has(id)) this.selected.delete(id);
    this.renderBulkBar();
  }

  item(s) {
    const title = displayTitle(s);
    const searching = Boolean(this.query.trim());
    const link = h('a', {
      class: 'session-link', href: `/sessions/${encodeURIComponent(s.id)}`, dataset: { id: s.id },
      'aria-current': s.id === this.activeId ? 'page' : null,
    },
    h('span', { class: 'session-title' }, searching ? highlight(title, this.query) : title),
    searching && s.snippet ? h('span', { class: 'session-snippet' }, snippetNodes(s.snippet)) : null,
    h('span', { class: 'session-meta' },
      statusBadge(s.status),
      h('time', { datetime: s.updatedAt, title: dateTime(s.updatedAt), text: relativeTime(s.updatedAt) })));
    const actions = this.mode === 'trash'
      ? [h('button', { type: 'button', class: 'icon-button', 'aria-label': `Restore “${title}”`, title: 'Restore', onClick: () => this.restore(s) }, icon('restore'))]
      : [
        h('button', {
          type: 'button', class: 'icon-button star', 'aria-pressed': String(Boolean(s.favorite)),
          'aria-label': `Star “${title}”`, title: s.favorite ? 'Unstar' : 'Star', onClick: () => this.toggleStar(s),
        }, icon('star')),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': `Rename “${title}”`, title: 'Rename', onClick: () => this.rename(s) }, icon('pencil')),
        h('button', { type: 'button', class: 'icon-button', 'aria-label': `Move “${title}” to trash`, title: 'Move to trash', onClick: () => this.remove(s) }, icon('trash')),
      ];
    const check = this.selecting
      ? h('input', {
        type: 'checkbox', class: 'select-session', 'aria-label': `Select “${title}”`, checked: this.selected.has(s.id),
        onChange: (e) => {
          if (e.target.checked) this.selected.add(s.id);
          else this.selected.delete(s.id);
          this.renderBulkBar();
        },
      })
      : null;
    return h('li', { class: 'session-item', dataset: { id: s.id, status: s.status } },
      check, link, h('div', { class: 'session-actions' }, actions));
  }

  rename(s) {
    const li = this.list.querySelector(`li[data-id="${CSS.escape(s.id)}"]`);
    if (!li) return;
    const link = li.querySelector('a.session-link');
    inlineRename(link, displayTitle(s), async (title) => {
      const updated = await patch(`/api/sessions/${encodeURIComponent(s.id)}`, { title });
      broadcast('updated', updated);
    }, () => {
      const fresh = this.sessions.find((x) => x.id === s.id);
      const current = this.list.querySelector(`li[data-id="${CSS.escape(s.id)}"]`);
      if (fresh && current) current.replaceWith(this.item(fresh));
      this.list.querySelector(`li[data-id="${CSS.escape(s.id)}"] a`)?.focus();
    });
  }

  async toggleStar(s) {
    const path = `/api/sessions/${encodeURIComponent(s.id)}/favorite`;
    try {
      const updated = s.favorite ? await del(path) : await put(path);
      broadcast('updated', updated);
      this.renderList();
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  async remove(s) {
    try {
      await del(`/api/sessions/${encodeURIComponent(s.id)}`);
      broadcast('deleted', s);
      if (this.activeId === s.id) navigate('/');
      toast(`Moved “${displayTitle(s)}” to the trash.`, 'info', { action: { label: 'Undo', run: () => this.restore(s) } });
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  async restore(s) {
    try {
      const restored = await post(`/api/sessions/${encodeURIComponent(s.id)}/restore`);
      broadcast('restored', restored || s);
      toast(`Restored “${displayTitle(restored || s)}”.`);
    } catch (e) {
      toast(describe(e), 'error');
    }
  }

  onKey(event) {
    const links = [...this.list.querySelectorAll('a.session-link')];
    const i = links.indexOf(document.activeElement);
    if (i === -1) return;
    const focus = (j) => {
      event.preventDefault();
      links[Math.max(0, Math.min(links.length - 1, j))].focus();
    };
    const s = this.sessions.find((x) => x.id === links[i].dataset.id);
    switch (event.key) {
      case 'ArrowDown': focus(i + 1); break;
      case 'ArrowUp': focus(i - 1); break;
      case 'Home': focus(0); break;
      case 'End': focus(links.length - 1); break;
      case 'F2':
        if (s && this.mode === 'active') {
          event.preventDefault();
          this.rename(s);
        }
        break;
      case 'Delete':
        if (s) {
          event.preventDefault();
          if (this.mode === 'active') {
            (links[i + 1] || links[i - 1])?.focus();
            this.remove(s);
          } else this.restore(s);
        }
        break;
      default:
    }
  }
}
