// Server-sent events over fetch, so the client owns reconnection: backoff, the "reconnecting…"
// state, and where to resume (`?lastEventId=` plus the Last-Event-ID header).

import { noteResponse } from './api.js';

/** Parses an SSE byte stream into frames { id, event, data }; comments yield { comment }. */
export async function* parseSse(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let frame = { id: null, event: '', data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      // Keep a trailing lone \r: it may be the first half of \r\n.
      const lines = buffer.split(/\r\n|\r(?!$)|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (frame.data.length > 0) {
            yield { id: frame.id, event: frame.event || 'message', data: frame.data.join('\n') };
          }
          frame = { id: null, event: '', data: [] };
          continue;
        }
        if (line.startsWith(':')) {
          yield { comment: line.slice(1) };
          continue;
        }
        const colon = line.indexOf(':');
        const name = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (name === 'data') frame.data.push(value);
        else if (name === 'event') frame.event = value;
        else if (name === 'id' && !value.includes('\0')) frame.id = value;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

export class HttpError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const done = () => {
    clearTimeout(timer);
    window.removeEventListener('online', done);
    signal.removeEventListener('abort', done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  // Coming back online ends the wait at once.
  window.addEventListener('online', done);
  signal.addEventListener('abort', done);
});

/**
 * Tunables. A tab hidden this long gives up its connections (browsers allow only 6 per host over
 * HTTP/1.1, and every tab holds one or two streams); it resumes from the last seq when shown.
 */
export const config = { pauseHiddenAfterMs: 60000 };

/** 0.25 s, 0.5 s, 1 s, 2 s, 4 s, then 5 s; ±20 % jitter so replicas are not hit in lockstep. */
export function backoff(attempt) {
  const base = Math.min(5000, 250 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Keeps one SSE stream open across drops.
 *   url(lastId)         → the URL to (re)connect to
 *   lastId()            → the last event id handled (sent as Last-Event-ID), or null
 *   onFrame(frame)      → awaited per frame; return 'stop' to end the stream for good
 *   onState(state, info)→ 'connecting' | 'live' | 'reconnecting' | 'paused' | 'closed' | 'failed'
 *   onEnd()             → awaited when the server ended the stream normally; return true to
 *                         reconnect, false to stop (e.g. the run is over)
 *   idleTimeoutMs       → no bytes (not even a heartbeat) for this long = a dead connection
 *   headers             → extra request headers (the shared page's X-Share-Token)
 *   credentials         → fetch's credentials mode ('omit' sends no cookie)
 * Returns { close() }. Permanent HTTP errors (401/403/404) stop it with state 'failed'.
 */
export function resumableStream({ url, lastId = () => null, onFrame, onState = () => {},
  onEnd = async () => true, idleTimeoutMs = 45000, headers: extraHeaders = {},
  credentials = 'same-origin' }) {
  const stop = new AbortController();
  let attempt = 0;
  let conn = null;
  let paused = false;
  let hideTimer = null;
  let resume = null;
  const onVisibility = () => {
    clearTimeout(hideTimer);
    if (document.visibilityState === 'hidden') {
      hideTimer = setTimeout(() => {
        paused = true;
        if (conn) conn.abort();
      }, config.pauseHiddenAfterMs);
    } else if (paused) {
      paused = false;
      if (resume) resume();
    }
  };
  document.addEventListener('visibilitychange', onVisibility);
  const visible = () => new Promise((resolve) => {
    resume = resolve;
    stop.signal.addEventListener('abort', resolve);
  });

  async function connectOnce() {
    const current = new AbortController();
    conn = current;
    const abortConn = () => current.abort();
    stop.signal.addEventListener('abort', abortConn);
    let idle;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(abortConn, idleTimeoutMs);
    };
    try {
      arm();
      const id = lastId();
      const headers = { ...extraHeaders, Accept: 'text/event-stream' };
      if (id != null) headers['Last-Event-ID'] = String(id);
      const res = await fetch(url(id), {
        headers, cache: 'no-store', credentials, signal: current.signal,
      });
      noteResponse(res);
      if (!res.ok) throw new HttpError(res.status);
      attempt = 0;
      onState('live');
      for await (const frame of parseSse(res.body)) {
        arm();
        if (frame.comment !== undefined) continue;
        if ((await onFrame(frame)) === 'stop') return 'stop';
      }
      return 'ended';
    } finally {
      clearTimeout(idle);
      stop.signal.removeEventListener('abort', abortConn);
    }
  }

  (async () => {
    onState('connecting');
    while (!stop.signal.aborted) {
      if (paused) {
        onState('paused');
        await visible();
        attempt = 0;
        continue;
      }
      let outcome;
      try {
        outcome = await connectOnce();
      } catch (e) {
        if (stop.signal.aborted) break;
        if (e instanceof HttpError && [401, 403, 404].includes(e.status)) {
          onState('failed', e);
          return;
        }
        outcome = 'dropped';
      }
      if (stop.signal.aborted) break;
      if (paused) continue; // hidden long enough: wait at the top of the loop
      if (outcome === 'stop') {
        onState('closed');
        return;
      }
      if (outcome === 'ended') {
        let again;
        try {
          again = await onEnd();
        } catch {
          again = true;
        }
        if (!again) {
          onState('closed');
          return;
        }
      }
      attempt += 1;
      onState('reconnecting', { attempt });
      await sleep(outcome === 'ended' && attempt === 1 ? 0 : backoff(attempt), stop.signal);
    }
    onState('closed');
  })().finally(() => {
    clearTimeout(hideTimer);
    document.removeEventListener('visibilitychange', onVisibility);
  });

  return { close: () => stop.abort() };
}
