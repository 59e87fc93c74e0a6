// Syntax highlighting with the vendored highlight.js (vendor/highlight/, BSD-3-Clause), without
// HTML strings: highlight.js tokenises, and the nodes are built here from its token tree with
// textContent, so code can never become markup (its element helpers, which write HTML, are
// never called).

import hljs from '../vendor/highlight/highlight.min.js';

const EXT = {
  rs: 'rust', js: 'javascript', mjs: 'javascript', cjs: 'javascript', ts: 'typescript', tsx: 'typescript',
  jsx: 'javascript', py: 'python', rb: 'ruby', go: 'go', java: 'java', kt: 'kotlin', c: 'c', h: 'c',
  cc: 'cpp', cpp: 'cpp', hpp: 'cpp', cs: 'csharp', php: 'php', swift: 'swift', sh: 'bash', bash: 'bash',
  json: 'json', yml: 'yaml', yaml: 'yaml', toml: 'ini', ini: 'ini', md: 'markdown', html: 'xml',
  xml: 'xml', svg: 'xml', css: 'css', scss: 'scss', sql: 'sql', lua: 'lua', pl: 'perl', r: 'r',
};

/** The highlight.js language for a file path, or null. */
export function languageOf(path) {
  const name = String(path || '').split('/').pop().toLowerCase();
  if (name === 'dockerfile') return null;
  if (name === 'makefile') return 'makefile';
  const ext = name.includes('.') ? name.split('.').pop() : '';
  const lang = EXT[ext];
  return lang && hljs.getLanguage(lang) ? lang : null;
}

function build(node, parent) {
  for (const child of node.children || []) {
    if (typeof child === 'string') {
      parent.append(document.createTextNode(child));
    } else {
      const span = document.createElement('span');
      const scope = String(child.scope || child.kind || '');
      if (scope) {
        span.className = scope.split('.').map((s, i) => (i === 0 ? `hljs-${s}` : `${s}${'_'.repeat(i)}`)).join(' ');
      }
      build(child, span);
      parent.append(span);
    }
  }
}

/** Fills `target` with `text` highlighted as `lang`; plain text when that is unknown or fails. */
export function highlightInto(target, text, lang) {
  target.textContent = text;
  if (!lang || !hljs.getLanguage(lang)) return false;
  try {
    const result = hljs.highlight(text, { language: lang, ignoreIllegals: true });
    const root = result && result._emitter && result._emitter.rootNode;
    if (!root) return false;
    target.textContent = '';
    build(root, target);
    target.classList.add('hljs');
    return true;
  } catch {
    target.textContent = text;
    return false;
  }
}
