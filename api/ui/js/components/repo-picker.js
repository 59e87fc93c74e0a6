// Starting a session on a GitHub repository: a keyboard-searchable repository list (the
// connected account's repositories it can push to) and a base-branch select. The last choice
// is remembered in localStorage (names only, never a token). Unchecked: a chat session.

import { api, describe } from '../api.js';
import { h, mount, uniqueId } from '../dom.js';

const KEY = 'webedt.lastRepository';

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

export function repoPicker() {
  const id = uniqueId('repo');
  const last = remembered();
  const toggle = h('input', { type: 'checkbox', id: `${id}-on`, checked: Boolean(last && last.on) });
  const search = h('input', {
    type: 'search', id: `${id}-q`, role: 'combobox', 'aria-expanded': 'false', 'aria-controls': `${id}-list`,
    'aria-autocomplete': 'list', autocomplete: 'off', placeholder: 'Search your repositories…',
  });
  const options = h('ul', { class: 'repo-options', id: `${id}-list`, role: 'listbox', 'aria-label': 'Repositories', hidden: true });
  const branch = h('select', { id: `${id}-branch`, name: 'baseBranch', 'aria-label': 'Base branch', disabled: true });
  const status = h('p', { class: 'form-status', role: 'status' });
  const body = h('div', { class: 'repo-picker' },
    h('label', { for: `${id}-q`, text: 'Repository' }), search, options,
    h('label', { for: `${id}-branch`, text: 'Base branch' }), branch, status);
  body.hidden = !toggle.checked;
  const el = h('fieldset', { class: 'repo-fieldset' },
    h('legend', {}, toggle, h('label', { for: `${id}-on`, text: ' Work on a GitHub repository' })),
    body);

  let items = [];
  let active = -1;
  let chosen = last && last.cloneUrl ? last : null;
  if (chosen) search.value = chosen.fullName || '';

  function save() {
    const v = { on: toggle.checked, ...(chosen || {}), branch: branch.value || (chosen && chosen.branch) };
    try {
      localStorage.setItem(KEY, JSON.stringify(v));
    } catch { /* storage full or disabled: not remembered */ }
  }

  function showList(show) {
    options.hidden = !show || items.length === 0;
    search.setAttribute('aria-expanded', String(!options.hidden));
  }

  function renderOptions() {
    mount(options, items.map((r, i) => h('li', {
      id: `${id}-opt-${i}`, role: 'option', 'aria-selected': String(i === active),
      text: `${r.fullName}${r.private ? ' 🔒' : ''}`,
      onMousedown: (e) => { e.preventDefault(); pick(i); },
    })));
    if (active >= 0) search.setAttribute('aria-activedescendant', `${id}-opt-${active}`);
    else search.removeAttribute('aria-activedescendant');
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    status.textContent = 'Loading repositories…';
    try {
      const q = search.value.trim();
      const page = await api(`/api/repositories${q ? `?q=${encodeURIComponent(q)}` : ''}`);
      if (mine !== seq) return;
      items = page.repositories || [];
      active = items.length ? 0 : -1;
      status.textContent = items.length ? '' : 'No repository matches.';
      renderOptions();
      showList(document.activeElement === search);
    } catch (e) {
      if (mine !== seq) return;
      items = [];
      renderOptions();
      showList(false);
      if (e.code === 'github_not_connected' || e.code === 'reconnect_github') {
        status.replaceChildren(e.code === 'github_not_connected' ? 'GitHub is not connected. ' : 'GitHub needs to be connected again. ',
          h('a', { href: '/account', text: 'Connect GitHub' }));
      } else status.textContent = describe(e);
    }
  }

  async function loadBranches(wanted) {
    branch.disabled = true;
    mount(branch, h('option', { value: '', text: 'Loading…' }));
    try {
      const list = await api(`/api/repositories/${encodeURIComponent(chosen.owner)}/${encodeURIComponent(chosen.name)}/branches`);
      const names = (list.branches || []).map((b) => b.name);
      mount(branch, names.map((n) => h('option', { value: n, text: n })));
      branch.value = names.includes(wanted) ? wanted : (names.includes(chosen.defaultBranch) ? chosen.defaultBranch : names[0] || '');
      branch.disabled = false;
      save();
    } catch (e) {
      mount(branch);
      status.textContent = describe(e);
    }
  }

  function pick(i) {
    const r = items[i];
    if (!r) return;
    chosen = { fullName: r.fullName, owner: r.owner, name: r.name, cloneUrl: r.cloneUrl, defaultBranch: r.defaultBranch };
    search.value = r.fullName;
    showList(false);
    loadBranches(r.defaultBranch);
  }

  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  });
  search.addEventListener('focus', () => { if (!items.length) load(); else showList(true); });
  search.addEventListener('blur', () => showList(false));
  search.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!items.length) return;
      active = (active + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      renderOptions();
      showList(true);
      const node = options.children[active];
      if (node && node.scrollIntoView) node.scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter' && !options.hidden && active >= 0) {
      e.preventDefault();
      e.stopPropagation();
      pick(active);
    } else if (e.key === 'Escape') {
      showList(false);
    }
  });
  branch.addEventListener('change', save);
  toggle.addEventListener('change', () => {
    body.hidden = !toggle.checked;
    save();
    if (toggle.checked && !chosen) search.focus();
  });
  if (toggle.checked && chosen) loadBranches(chosen.branch);

  return {
    el,
    /** `{repository, baseBranch}` for a code session, `{}` for chat; `null` when incomplete. */
    value() {
      if (!toggle.checked) return {};
      if (!chosen || !branch.value) return null;
      return { repository: chosen.cloneUrl, baseBranch: branch.value };
    },
  };
}
