// A small Markdown renderer for model output. Escape-first by construction: it never parses
// HTML; every piece of text becomes a text node, and links are kept only for http(s) URLs.
// Supports: paragraphs, headings, fenced and indented code blocks, block quotes, nested lists,
// horizontal rules, inline code, bold, italic, strikethrough, links, autolinks and bare URLs.
// Unfinished constructs (an open code fence while streaming) render sensibly.
import { highlightInto } from './highlight.js';

const el = (tag, ...children) => {
  const node = document.createElement(tag);
  for (const c of children) node.append(c);
  return node;
};

/** Renders `source` into a DocumentFragment. */
export function renderMarkdown(source) {
  const frag = document.createDocumentFragment();
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  for (const node of blocks(lines)) frag.append(node);
  return frag;
}

/** A URL we are willing to link to: absolute http or https only. */
export function safeUrl(raw) {
  const text = String(raw).trim();
  if (!/^https?:\/\//i.test(text)) return null;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+\s*)?$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const BULLET = /^( {0,3})([-*+])(\s+)(.*)$/;
const ORDERED = /^( {0,3})(\d{1,9})([.)])(\s+)(.*)$/;

const blank = (line) => line.trim() === '';

function listMarker(line) {
  let m = BULLET.exec(line);
  if (m && !RULE.test(line)) {
    return { ordered: false, indent: m[1].length + 1 + Math.min(m[3].length, 4), rest: m[4], kind: m[2] };
  }
  m = ORDERED.exec(line);
  if (m) {
    return {
      ordered: true, start: Number(m[2]), indent: m[1].length + m[2].length + 1 + Math.min(m[4].length, 4),
      rest: m[5], kind: m[3],
    };
  }
  return null;
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)
    || listMarker(line) !== null;
}

function blocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (blank(line)) {
      i += 1;
      continue;
    }
    let m = FENCE.exec(line);
    if (m) {
      const fence = m[1];
      const lang = m[2];
      const body = [];
      i += 1;
      while (i < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[i])) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or the end of an unfinished block)
      out.push(codeBlock(body.join('\n'), lang));
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || blank(lines[i]))) {
        body.push(lines[i].replace(/^( {4}|\t)/, ''));
        i += 1;
      }
      while (body.length && blank(body[body.length - 1])) body.pop();
      out.push(codeBlock(body.join('\n'), ''));
      continue;
    }
    m = HEADING.exec(line);
    if (m) {
      // Model headings sit below the page's own h1/h2.
      const level = Math.min(6, m[1].length + 2);
      out.push(el(`h${level}`, ...inline(m[2] || '')));
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      out.push(document.createElement('hr'));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && !blank(lines[i])) {
        const q = QUOTE.exec(lines[i]);
        body.push(q ? q[1] : lines[i]);
        i += 1;
      }
      out.push(el('blockquote', ...blocks(body)));
      continue;
    }
    const marker = listMarker(line);
    if (marker) {
      i = list(lines, i, marker, out);
      continue;
    }
    const para = [];
    while (i < lines.length && !blank(lines[i]) && (para.length === 0 || !startsBlock(lines[i]))) {
      para.push(lines[i]);
      i += 1;
    }
    out.push(el('p', ...inline(para.join('\n'))));
  }
  return out;
}

function list(lines, i, first, out) {
  const node = document.createElement(first.ordered ? 'ol' : 'ul');
  if (first.ordered && first.start !== 1) node.setAttribute('start', String(first.start));
  let loose = false;
  const items = [];
  while (i < lines.length) {
    const marker = listMarker(lines[i]);
    if (!marker || marker.ordered !== first.ordered || marker.kind !== first.kind) break;
    const body = [marker.rest];
    i += 1;
    let sawBlank = false;
    while (i < lines.length) {
      const line = lines[i];
      if (blank(line)) {
        sawBlank = true;
        body.push('');
        i += 1;
        continue;
      }
      const indent = line.length - line.trimStart().length;
      if (indent >= marker.indent) {
        if (sawBlank) loose = true;
        body.push(line.slice(marker.indent));
        sawBlank = false;
        i += 1;
        continue;
      }
      // A lazy continuation line of the item's paragraph.
      if (!sawBlank && !startsBlock(line)) {
        body.push(line.trim());
        i += 1;
        continue;
      }
      break;
    }
    while (body.length && blank(body[body.length - 1])) body.pop();
    items.push(body);
    const next = i < lines.length ? listMarker(lines[i]) : null;
    if (sawBlank && next && next.ordered === first.ordered && next.kind === first.kind) loose = true;
  }
  for (const body of items) {
    const li = document.createElement('li');
    const children = blocks(body);
    for (const child of children) {
      // Tight lists: a paragraph's content goes straight into the item.
      if (!loose && child.tagName === 'P') li.append(...child.childNodes);
      else li.append(child);
    }
    node.append(li);
  }
  out.push(node);
  return i;
}

function codeBlock(text, lang) {
  const code = document.createElement('code');
  code.textContent = text;
  const pre = el('pre', code);
  pre.className = 'code-block';
  if (lang) {
    const safe = lang.replace(/[^\w+#.-]/g, '').slice(0, 32);
    if (safe) {
      code.className = `language-${safe}`;
      pre.dataset.lang = safe;
      highlightInto(code, text, safe.toLowerCase());
    }
  }
  return pre;
}

const ESCAPABLE = '\\`*_{}[]()#+-.!>~|<"\'';
const TRAILING_PUNCT = /[.,;:!?'")\]]+$/;

/** Inline Markdown → array of nodes (text nodes, code, strong, em, del, a, br). */
export function inline(text) {
  const nodes = [];
  let buf = '';
  const flush = () => {
    if (buf) nodes.push(document.createTextNode(buf));
    buf = '';
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '\\' && i + 1 < n && ESCAPABLE.includes(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      flush();
      nodes.push(document.createElement('br'));
      i += 2;
      continue;
    }
    if (c === ' ' && text.startsWith('  \n', i)) {
      flush();
      nodes.push(document.createElement('br'));
      i += 3;
      continue;
    }
    if (c === '`') {
      let k = 1;
      while (text[i + k] === '`') k += 1;
      const ticks = '`'.repeat(k);
      let close = text.indexOf(ticks, i + k);
      while (close !== -1 && text[close + k] === '`') {
        let j = close;
        while (text[j] === '`') j += 1;
        close = text.indexOf(ticks, j);
      }
      if (close !== -1) {
        flush();
        let content = text.slice(i + k, close).replace(/\n/g, ' ');
        if (/^ .* $/.test(content) && content.trim()) content = content.slice(1, -1);
        const code = document.createElement('code');
        code.textContent = content;
        nodes.push(code);
        i = close + k;
      } else {
        buf += ticks;
        i += k;
      }
      continue;
    }
    if (c === '[') {
      const link = parseLink(text, i);
      if (link) {
        flush();
        nodes.push(link.node);
        i = link.end;
        continue;
      }
    }
    if (c === '<') {
      const m = /^<(https?:\/\/[^\s<>]+)>/i.exec(text.slice(i));
      if (m && safeUrl(m[1])) {
        flush();
        nodes.push(anchor(safeUrl(m[1]), [document.createTextNode(m[1])]));
        i += m[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && (i === 0 || /[\s(*_~]/.test(text[i - 1]))) {
      const m = /^https?:\/\/[^\s<>]+/i.exec(text.slice(i));
      if (m) {
        const url = m[0].replace(TRAILING_PUNCT, '');
        const href = safeUrl(url);
        if (href && url.length > 'https://'.length - 1) {
          flush();
          nodes.push(anchor(href, [document.createTextNode(url)]));
          i += url.length;
          continue;
        }
      }
    }
    if (c === '*' || c === '_' || c === '~') {
      const span = parseEmphasis(text, i);
      if (span) {
        flush();
        nodes.push(span.node);
        i = span.end;
        continue;
      }
    }
    buf += c;
    i += 1;
  }
  flush();
  return nodes;
}

function parseLink(text, start) {
  let depth = 0;
  let j = start;
  for (; j < text.length; j += 1) {
    if (text[j] === '\\') {
      j += 1;
      continue;
    }
    if (text[j] === '[') depth += 1;
    else if (text[j] === ']') {
      depth -= 1;
      if (depth === 0) break;
    }
  }
  if (j >= text.length || text[j + 1] !== '(') return null;
  const m = /^\(\s*<?([^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)>?(?:\s+"[^"]*")?\s*\)/.exec(text.slice(j + 1));
  if (!m) return null;
  const label = inline(text.slice(start + 1, j));
  const end = j + 1 + m[0].length;
  const href = safeUrl(m[1]);
  if (!href) {
    // Not a link we allow (javascript:, data:, relative…): keep the label as plain content.
    const span = document.createElement('span');
    span.append(...label);
    return { node: span, end };
  }
  return { node: anchor(href, label), end };
}

function anchor(href, children) {
  const a = document.createElement('a');
  a.href = href;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  a.append(...children);
  return a;
}

function parseEmphasis(text, start) {
  const ch = text[start];
  let k = 1;
  while (text[start + k] === ch) k += 1;
  if (ch === '~') {
    if (k !== 2) return null;
  } else if (k > 3) {
    return null;
  }
  const after = text[start + k];
  if (after === undefined || /\s/.test(after)) return null;
  // Intraword underscores (snake_case) are not emphasis.
  if (ch === '_' && start > 0 && /[\p{L}\p{N}]/u.test(text[start - 1])) return null;
  const marker = ch.repeat(k);
  let j = start + k;
  while (j < text.length) {
    const close = text.indexOf(marker, j);
    if (close === -1) return null;
    const before = text[close - 1];
    const next = text[close + k];
    const okClose = close > start + k && !/\s/.test(before) && next !== ch
      && !(ch === '_' && next !== undefined && /[\p{L}\p{N}]/u.test(next));
    if (okClose && text[close - 1] !== '\\') {
      const inner = inline(text.slice(start + k, close));
      let node;
      if (ch === '~') node = document.createElement('del');
      else if (k === 1) node = document.createElement('em');
      else node = document.createElement('strong');
      if (k === 3) {
        const em = document.createElement('em');
        em.append(...inner);
        node.append(em);
      } else node.append(...inner);
      return { node, end: close + k };
    }
    j = close + 1;
    while (text[j] === ch) j += 1;
  }
  return null;
}
