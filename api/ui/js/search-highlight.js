// Marks the words of a search in a text, as DOM nodes: the text is never parsed as HTML, only
// split into text nodes and <mark> elements. Server snippets arrive with their matches between
// U+E000 and U+E001 (private-use characters the server strips from the indexed text first).

import { h } from './dom.js';

const START = '\uE000';
const STOP = '\uE001';

/** The words of a query as the server reads them: letters, digits and `_`. */
export function queryWords(query) {
  return String(query || '').toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter(Boolean);
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` as nodes, each occurrence of a query word at the start of a word wrapped in <mark>. */
export function highlight(text, query) {
  const words = queryWords(query);
  const value = String(text ?? '');
  if (!words.length) return [value];
  // Longest first, so `parse_config` wins over `parse`.
  words.sort((a, b) => b.length - a.length);
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.map(escapeRegExp).join('|')})`, 'giu');
  const nodes = [];
  let at = 0;
  for (const m of value.matchAll(re)) {
    if (m.index > at) nodes.push(value.slice(at, m.index));
    nodes.push(h('mark', { text: m[0] }));
    at = m.index + m[0].length;
  }
  if (at < value.length) nodes.push(value.slice(at));
  return nodes;
}

/** A server snippet (matches between U+E000 and U+E001) as text nodes and <mark> elements. */
export function snippetNodes(snippet) {
  const nodes = [];
  const value = String(snippet ?? '');
  let at = 0;
  for (;;) {
    const start = value.indexOf(START, at);
    if (start === -1) break;
    const stop = value.indexOf(STOP, start + 1);
    if (stop === -1) break;
    if (start > at) nodes.push(value.slice(at, start));
    nodes.push(h('mark', { text: value.slice(start + 1, stop) }));
    at = stop + 1;
  }
  const rest = value.slice(at).replaceAll(START, '').replaceAll(STOP, '');
  if (rest) nodes.push(rest);
  return nodes;
}
