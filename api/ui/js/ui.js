// Page-wide bits: toasts, the footer's replica id and connection state, status badges.

import { h } from './dom.js';

/** A transient message; `action` = { label, run } adds a button (e.g. Undo). */
export function toast(message, kind = 'info', { ms = 6000, action } = {}) {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}` },
    h('span', { text: message }),
    action ? h('button', {
      type: 'button', class: 'button-small', text: action.label,
      onClick: () => { item.remove(); action.run(); },
    }) : null,
    h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss', text: '×', onClick: () => item.remove() }));
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

export function setReplica(id) {
  const el = document.getElementById('replica');
  if (el && el.textContent !== id) {
    el.textContent = id;
    el.title = `This page's last response came from replica ${id}`;
  }
}

/** The footer's connection indicator ('' hides it). */
export function setConnection(text, kind = 'info') {
  const el = document.getElementById('connection');
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
}

const STATUS_LABELS = {
  idle: 'idle', running: 'running', completed: 'completed', error: 'error', interrupted: 'interrupted',
};

export function statusBadge(status) {
  const label = STATUS_LABELS[status] || String(status || 'unknown');
  return h('span', { class: `badge status-${STATUS_LABELS[status] ? status : 'unknown'}`, text: label, dataset: { status: label } });
}

export function updateBadge(badge, status) {
  const fresh = statusBadge(status);
  badge.className = fresh.className;
  badge.textContent = fresh.textContent;
  badge.dataset.status = fresh.dataset.status;
}

/** Sets the document title. */
export function title(text) {
  document.title = text ? `${text} · WebEDT` : 'WebEDT';
}
