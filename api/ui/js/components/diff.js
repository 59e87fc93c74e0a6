// A changes report rendered for review: the file list with +/− counts, then each file's part of
// the unified diff with old and new line numbers, highlighted by the file's language. Nodes
// only (no HTML strings), so a diff of hostile content cannot inject markup.

import { h } from '../dom.js';
import { highlightInto, languageOf } from '../highlight.js';

/** Splits a unified diff (`git diff` output) into files: {path, lines:[{kind, old, new, text}]}. */
export function parseDiff(diff) {
  const files = [];
  let file = null;
  let oldNo = 0;
  let newNo = 0;
  for (const line of String(diff || '').split('\n')) {
    if (line.startsWith('diff --git ')) {
      const m = / b\/(.*)$/.exec(line);
      file = { path: m ? m[1] : line.slice(11), lines: [] };
      files.push(file);
      continue;
    }
    if (!file) continue;
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      file.lines.push({ kind: 'hunk', old: '', new: '', text: line });
    } else if (line.startsWith('+++ ') || line.startsWith('--- ') || line.startsWith('index ')
      || line.startsWith('new file') || line.startsWith('deleted file') || line.startsWith('similarity')
      || line.startsWith('rename ') || line.startsWith('Binary files')) {
      if (line.startsWith('Binary files')) file.lines.push({ kind: 'meta', old: '', new: '', text: line });
    } else if (line.startsWith('+')) {
      file.lines.push({ kind: 'add', old: '', new: newNo++, text: line.slice(1) });
    } else if (line.startsWith('-')) {
      file.lines.push({ kind: 'del', old: oldNo++, new: '', text: line.slice(1) });
    } else if (line.startsWith(' ')) {
      file.lines.push({ kind: 'ctx', old: oldNo++, new: newNo++, text: line.slice(1) });
    } else if (line.startsWith('\\')) {
      file.lines.push({ kind: 'meta', old: '', new: '', text: line });
    }
  }
  return files;
}

/** The element for a changes report (`changes` event data). */
export function changesView(data) {
  const files = Array.isArray(data.files) ? data.files : [];
  const parsed = parseDiff(data.diff);
  const list = h('ul', { class: 'diff-files', 'aria-label': 'Files changed' },
    files.map((f) => h('li', {},
      h('span', { class: 'diff-path', text: f.path || f.filename || '' }),
      h('span', { class: 'diff-add', text: `+${Number(f.additions) || 0}` }),
      h('span', { class: 'diff-del', text: `−${Number(f.deletions) || 0}` }))));
  const code = (text, lang) => {
    const el = h('code');
    highlightInto(el, text, lang);
    return el;
  };
  const parts = parsed.map((f) => { const lang = languageOf(f.path); return h('section', { class: 'diff-file' },
    h('h4', { class: 'diff-file-head', text: f.path }),
    h('table', { class: 'diff-table' },
      h('tbody', {}, f.lines.map((l) => h('tr', { class: `diff-${l.kind}` },
        h('td', { class: 'diff-no', text: String(l.old) }),
        h('td', { class: 'diff-no', text: String(l.new) }),
        h('td', { class: 'diff-sign', text: l.kind === 'add' ? '+' : l.kind === 'del' ? '−' : '' }),
        h('td', { class: 'diff-code' }, l.kind === 'hunk' || l.kind === 'meta' ? h('code', { text: l.text }) : code(l.text, lang))))))); });
  return h('div', { class: 'diff' }, list,
    parts.length ? parts : h('p', { class: 'muted', text: '(no differences)' }),
    data.truncated ? h('p', { class: 'muted', text: 'The diff was cut: it is larger than shown.' }) : null);
}
