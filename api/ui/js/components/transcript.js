// Renders a session's event log. Events are applied in seq order and at most once: anything at
// or below the last applied seq is dropped, so replays after a reconnect never duplicate.

import { h } from '../dom.js';
import { renderMarkdown } from '../markdown.js';
import { duration, cost } from '../format.js';
import { changesView } from './diff.js';

export const TERMINAL = new Set(['completed', 'error', 'interrupted']);

function pretty(value) {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Tool results come as a string, content blocks ([{type:'text', text}]), or any JSON. */
function resultText(content) {
  if (Array.isArray(content) && content.every((b) => b && typeof b === 'object' && 'text' in b)) {
    return content.map((b) => b.text).join('\n');
  }
  return pretty(content ?? '');
}

export class Transcript {
  /** `imageBase`: the session's images URL (`/api/sessions/<id>/images`), for thumbnails. */
  constructor({ onRender = () => {}, imageBase = null } = {}) {
    this.imageBase = imageBase;
    this.el = h('ol', { class: 'transcript', 'aria-label': 'Conversation' });
    this.lastSeq = 0;
    this.count = 0;
    this.lastType = null;
    this.assistant = null;
    this.tools = new Map();
    this.onRender = onRender;
    this.dirty = new Set();
    this.flushQueued = false;
    this.lastCompleted = null;
    this.sync();
  }

  sync() {
    this.el.dataset.lastSeq = String(this.lastSeq);
    this.el.dataset.count = String(this.count);
  }

  /** Applies one event; returns false when it was already applied (a duplicate). */
  apply(event) {
    const seq = Number(event.seq);
    if (!Number.isFinite(seq) || seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    this.count += 1;
    this.lastType = event.type;
    const data = event.data && typeof event.data === 'object' ? event.data : {};
    switch (event.type) {
      case 'user_message': this.userMessage(data, seq); break;
      case 'run_started': this.runStarted(data, seq); break;
      case 'assistant_message': this.assistantDelta(data, seq); break;
      case 'tool_use': this.toolUse(data, seq); break;
      case 'tool_result': this.toolResult(data, seq); break;
      case 'changes': this.changes(data, seq); break;
      case 'completed': this.completed(data, seq); break;
      case 'error': this.terminal('error', 'Error', data.message || 'The run failed.', seq); break;
      case 'interrupted': this.terminal('interrupted', 'Interrupted', data.message || 'Stopped.', seq); break;
      default: break; // Unknown event types are skipped (newer servers may send more).
    }
    this.sync();
    this.onRender();
    return true;
  }

  add(node) {
    this.el.append(node);
    return node;
  }

  closeAssistant() {
    if (this.assistant) this.renderNow(this.assistant);
    this.assistant = null;
  }

  userMessage(data, seq) {
    this.closeAssistant();
    const ids = Array.isArray(data.images) && this.imageBase ? data.images : [];
    const thumbs = ids.length === 0 ? null : h('div', { class: 'msg-images' },
      ids.map((image, i) => {
        const src = `${this.imageBase}/${encodeURIComponent(image)}`;
        return h('a', { href: src, target: '_blank', rel: 'noopener', class: 'msg-image' },
          h('img', { src, alt: `Image ${i + 1} sent with this prompt`, loading: 'lazy' }));
      }));
    this.add(h('li', { class: 'msg msg-user', dataset: { seq } },
      h('div', { class: 'msg-author', text: 'You' }),
      thumbs,
      h('div', { class: 'msg-text', text: data.text ?? '' })));
  }

  runStarted(data, seq) {
    this.closeAssistant();
    const what = [data.provider, data.model].filter(Boolean).join(' · ');
    this.add(h('li', { class: 'run-marker', dataset: { seq } }, `Run started${what ? ` · ${what}` : ''}`));
  }

  assistantDelta(data, seq) {
    if (!this.assistant) {
      const body = h('div', { class: 'md' });
      const li = this.add(h('li', { class: 'msg msg-assistant', dataset: { seq } },
        h('div', { class: 'msg-author', text: 'Assistant' }), body));
      this.assistant = { li, body, raw: '' };
    }
    this.assistant.raw += typeof data.text === 'string' ? data.text : '';
    this.assistant.li.dataset.lastSeq = String(seq);
    this.schedule(this.assistant);
  }

  schedule(msg) {
    this.dirty.add(msg);
    if (this.flushQueued) return;
    this.flushQueued = true;
    const flush = () => {
      if (!this.flushQueued) return;
      this.flushQueued = false;
      for (const m of this.dirty) this.renderNow(m);
      this.onRender();
    };
    // requestAnimationFrame batches bursts; the timer covers hidden tabs, where it never fires.
    requestAnimationFrame(flush);
    setTimeout(flush, 100);
  }

  renderNow(msg) {
    this.dirty.delete(msg);
    msg.body.replaceChildren(renderMarkdown(msg.raw));
  }

  toolUse(data, seq) {
    this.closeAssistant();
    const state = h('span', { class: 'tool-state', text: 'running…' });
    const details = h('details', { class: 'tool' },
      h('summary', {}, h('span', { class: 'tool-label', text: 'Tool' }), ' ',
        h('code', { class: 'tool-name', text: data.name || 'tool' }), ' ', state),
      h('div', { class: 'tool-section' },
        h('div', { class: 'tool-heading', text: 'Input' }),
        h('pre', { class: 'code-block' }, h('code', { text: pretty(data.input ?? {}) }))));
    const li = this.add(h('li', { class: 'tool-item', dataset: { seq, toolId: data.id || '' } }, details));
    if (data.id) this.tools.set(data.id, { li, details, state });
  }

  toolResult(data, seq) {
    this.closeAssistant();
    const section = h('div', { class: `tool-section tool-result${data.isError ? ' is-error' : ''}` },
      h('div', { class: 'tool-heading', text: data.isError ? 'Error' : 'Result' }),
      h('pre', { class: 'code-block' }, h('code', { text: resultText(data.content) })));
    const tool = this.tools.get(data.toolUseId);
    if (tool) {
      tool.details.append(section);
      tool.state.textContent = data.isError ? 'failed' : 'done';
      tool.li.classList.toggle('is-error', Boolean(data.isError));
      tool.li.dataset.resultSeq = String(seq);
      this.tools.delete(data.toolUseId);
    } else {
      this.add(h('li', { class: 'tool-item', dataset: { seq } },
        h('details', { class: 'tool' }, h('summary', { text: 'Tool result' }), section)));
    }
  }

  /** A coding run's report of its branch: a summary line, the diff folded under it. */
  changes(data, seq) {
    this.closeAssistant();
    const files = Array.isArray(data.files) ? data.files : [];
    const sum = (k) => files.reduce((n, f) => n + (Number(f[k]) || 0), 0);
    const head = typeof data.headCommit === 'string' ? ` · ${data.headCommit.slice(0, 7)}` : ' · not pushed';
    const title = `Changes on ${data.branch || 'the branch'}: ${files.length} file${files.length === 1 ? '' : 's'}`
      + ` (+${sum('additions')} −${sum('deletions')})${head}`;
    this.lastChanges = data;
    this.add(h('li', { class: 'tool-item changes-item', dataset: { seq } },
      h('details', { class: 'tool', open: true }, h('summary', { text: title }),
        h('div', { class: 'tool-section' }, changesView(data)))));
  }

  finishTools() {
    for (const tool of this.tools.values()) tool.state.textContent = 'no result';
    this.tools.clear();
  }

  completed(data, seq) {
    this.closeAssistant();
    this.finishTools();
    this.lastCompleted = data;
    const parts = ['Completed'];
    if (data.durationMs != null) parts.push(`in ${duration(data.durationMs)}`);
    const extra = [];
    if (data.costUsd != null) extra.push(cost(data.costUsd));
    const u = data.usage;
    if (u && (u.inputTokens != null || u.outputTokens != null)) {
      extra.push(`${u.inputTokens ?? 0} in / ${u.outputTokens ?? 0} out tokens`);
    }
    this.add(h('li', { class: 'run-end run-completed', dataset: { seq } },
      parts.join(' '), extra.length ? ` · ${extra.join(' · ')}` : ''));
  }

  terminal(kind, label, message, seq) {
    this.closeAssistant();
    this.finishTools();
    this.add(h('li', { class: `run-end run-${kind}`, dataset: { seq } },
      h('strong', { text: `${label}: ` }), message));
  }
}
