// Administration: the users and the audit log (server-enforced /api/admin/* routes), and the
// status of whichever replica answered (/health/status, refreshed every 5 s).

import { describe, noteResponse } from '../api.js';
import { h, mount } from '../dom.js';
import { title } from '../ui.js';
import { bytes, uptime, dateTime } from '../format.js';
import { mountAdmin } from './admin-users.js';

const label = (key) => key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());

function value(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return null;
  return String(v);
}

/** Any JSON object as a definition list; nested keys are flattened ("Last result › ok"). */
function kv(obj) {
  const dl = h('dl', { class: 'kv' });
  const walk = (o, prefix) => {
    for (const [k, v] of Object.entries(o || {})) {
      const key = prefix ? `${prefix} › ${label(k)}` : label(k);
      if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, key);
      else {
        const text = Array.isArray(v) ? v.join(', ') : value(v);
        const iso = typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v);
        dl.append(h('dt', { text: key }), h('dd', {}, iso ? h('time', { datetime: v, title: v, text: dateTime(v) }) : text));
      }
    }
  };
  walk(obj, '');
  return dl;
}

function card(heading, ...body) {
  return h('section', { class: 'card status-card' }, h('h2', { text: heading }), ...body);
}

export function render(main, ctx) {
  title('Replica status');
  const body = h('div', { class: 'status-grid', 'aria-live': 'polite' });
  const updated = h('p', { class: 'muted' });
  const admin = h('div', { class: 'admin-sections' });
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });
  let timer = null;
  let closed = false;

  async function load() {
    clearTimeout(timer);
    try {
      const res = await fetch('/health/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
      noteResponse(res);
      const served = res.headers.get('X-Container-ID');
      const s = await res.json();
      if (closed) return;
      draw(s, served);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} (HTTP ${res.status})`;
    } catch (e) {
      if (closed) return;
      updated.textContent = `Could not reach /health/status: ${describe(e)}`;
    }
    if (auto.checked && !closed) timer = setTimeout(load, 5000);
  }

  function draw(s, served) {
    const db = s.database || {};
    const conn = db.connections || {};
    const pool = h('table', { class: 'pool-table' },
      h('caption', { text: 'Connection pool' }),
      h('thead', {}, h('tr', {}, ['total', 'idle', 'inUse', 'waiting', 'min', 'max'].map((k) => h('th', { scope: 'col', text: label(k) })))),
      h('tbody', {}, h('tr', {}, ['total', 'idle', 'inUse', 'waiting', 'min', 'max'].map((k) => h('td', { text: value(conn[k]) })))));
    mount(body,
      card('Replica',
        h('p', { class: 'status-line' },
          h('span', { class: `badge status-${s.status === 'ok' || s.status === 'healthy' ? 'completed' : 'error'}`, text: s.status || 'unknown' }),
          ' ', h('code', { class: 'container-id', text: s.containerId || served || '?' })),
        h('dl', { class: 'kv' },
          h('dt', { text: 'Served this page' }), h('dd', {}, h('code', { text: served || '?' })),
          h('dt', { text: 'Uptime' }), h('dd', { text: uptime(s.uptimeSeconds) }),
          h('dt', { text: 'Memory (RSS)' }), h('dd', { text: s.memory ? bytes(s.memory.rssBytes) : '—' }),
          h('dt', { text: 'Version' }), h('dd', { text: (s.build && s.build.version) || '—' }),
          h('dt', { text: 'Commit' }), h('dd', {}, h('code', { text: (s.build && s.build.commitSha) || '—' })),
          h('dt', { text: 'Built' }), h('dd', { text: s.build && s.build.timestamp ? dateTime(s.build.timestamp) || s.build.timestamp : '—' }))),
      card('Database',
        h('p', { class: 'status-line' },
          h('span', { class: `badge status-${db.healthy ? 'completed' : 'error'}`, text: db.healthy ? 'healthy' : 'unhealthy' }),
          db.latencyMs != null ? ` ${Number(db.latencyMs).toFixed(1)} ms` : ''),
        pool),
      s.scale ? card('Scale', kv(s.scale)) : null,
      s.jobs ? card('Background jobs', kv(s.jobs)) : null);
  }

  auto.addEventListener('change', () => (auto.checked ? load() : clearTimeout(timer)));
  mount(main, h('section', { class: 'page admin-page' },
    h('div', { class: 'page-head' },
      h('h1', { text: 'Replica status' }),
      h('div', { class: 'page-actions' },
        h('label', { class: 'checkbox' }, auto, ' Auto-refresh'),
        h('button', { type: 'button', class: 'button-quiet', text: 'Refresh', onClick: load }))),
    h('p', { class: 'muted', text: ctx.user && ctx.user.isAdmin ? 'The numbers of the replica that answered, not of the whole deployment: reload to sample another.' : 'Limited view: administrators see this page in the menu.' }),
    updated, body, admin));
  if (ctx.user && ctx.user.isAdmin) mountAdmin(admin, ctx.user);
  load();
  return () => {
    closed = true;
    clearTimeout(timer);
  };
}
