// The read-only page of a share link: `/shared#<token>`. The token stays in the fragment (never
// sent by the browser, never in a Referer) and goes to the API in the X-Share-Token header, with
// no cookie. It shows the transcript and, while a run is live, follows it like the chat page
// (replay, then live, resuming from the last seq on any replica); a revoked link ends it.

import { noteResponse } from '../api.js';
import { h, mount } from '../dom.js';
import { resumableStream } from '../sse.js';
import { title, statusBadge, updateBadge } from '../ui.js';
import { Transcript, TERMINAL } from '../components/transcript.js';
import { displayTitle } from '../components/session-list.js';

const PAGE = 500;

class Gone extends Error {}

export async function render(main, ctx) {
  const token = decodeURIComponent(location.hash.slice(1));
  const headers = { 'X-Share-Token': token };
  const get = async (path) => {
    const res = await fetch(path, {
      headers: { ...headers, Accept: 'application/json' }, credentials: 'omit', cache: 'no-store',
    });
    noteResponse(res);
    if (res.status === 404) throw new Gone('gone');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  };
  const goneView = () => {
    title('Link not available');
    mount(main, h('section', { class: 'page narrow' },
      h('h1', { text: 'This link does not work' }),
      h('p', { text: 'It was revoked, or the session is no longer shared.' })));
  };
  mount(main, h('p', { class: 'loading', text: 'Loading shared session…' }));
  let session;
  try {
    if (!token) throw new Gone('no token');
    session = await get('/api/shared');
  } catch (e) {
    if (ctx.isStale()) return null;
    if (e instanceof Gone) goneView();
    else mount(main, h('section', { class: 'page narrow' }, h('h1', { text: 'Could not load the session' }), h('p', { text: e.message })));
    return null;
  }
  if (ctx.isStale()) return null;

  const scroller = h('div', { class: 'chat-scroll' });
  let stickToBottom = true;
  scroller.addEventListener('scroll', () => {
    stickToBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  });
  const transcript = new Transcript({
    onRender: () => {
      if (stickToBottom) scroller.scrollTop = scroller.scrollHeight;
    },
  });
  const heading = h('h1', { class: 'chat-title', text: displayTitle(session) });
  const badge = statusBadge(session.status);
  badge.id = 'chat-status';
  const streamState = h('p', { class: 'stream-state', role: 'status', 'aria-live': 'polite', hidden: true });
  mount(main, h('section', { class: 'chat shared', 'aria-labelledby': 'shared-heading' },
    h('header', { class: 'chat-head' },
      h('div', { class: 'chat-heading', id: 'shared-heading' }, heading),
      h('div', { class: 'chat-meta' }, badge,
        h('span', { class: 'badge badge-readonly', text: 'read-only', title: 'A shared session: you can read it, not change it' }),
        h('span', { text: `${session.provider}${session.model ? ` · ${session.model}` : ''}` }))),
    streamState,
    h('div', { class: 'chat-body' }, scroller)));
  mount(scroller, transcript.el);
  title(`${displayTitle(session)} (shared)`);

  let closed = false;
  let stream = null;
  const show = (text, kind = 'info') => {
    streamState.textContent = text;
    streamState.dataset.kind = kind;
    streamState.hidden = !text;
  };
  const setStatus = (status) => {
    updateBadge(badge, status);
    badge.id = 'chat-status';
  };
  const apply = (event) => {
    if (!transcript.apply(event)) return;
    if (event.type === 'user_message' || event.type === 'run_started') setStatus('running');
    else if (TERMINAL.has(event.type)) setStatus(event.type);
  };
  const revoked = () => {
    show('This link was revoked: the session is no longer shared.', 'error');
    if (stream) stream.close();
    stream = null;
  };
  async function fetchAfter() {
    for (;;) {
      const after = transcript.lastSeq;
      const data = await get(`/api/shared/events?after=${after}&limit=${PAGE}`);
      const events = (data && data.events) || [];
      for (const ev of events) apply(ev);
      if (events.length < PAGE || transcript.lastSeq === after) return;
    }
  }

  stream = resumableStream({
    url: (last) => `/api/shared/events/stream?lastEventId=${last ?? 0}`,
    headers,
    credentials: 'omit',
    lastId: () => transcript.lastSeq,
    onFrame: async (frame) => {
      const seq = Number(frame.id);
      if (!Number.isFinite(seq)) return undefined;
      let data;
      try {
        data = JSON.parse(frame.data);
      } catch {
        data = {};
      }
      apply({ seq, type: frame.event, data });
      return undefined;
    },
    onState: (state, info) => {
      if (closed) return;
      if (state === 'live' && session.status === 'running') show('Streaming live.', 'live');
      else if (state === 'reconnecting') show('Reconnecting…', 'warn');
      else if (state === 'failed') {
        if (info && info.status === 404) revoked();
        else show('The stream failed.', 'error');
      }
    },
    onEnd: async () => {
      if (TERMINAL.has(transcript.lastType)) {
        show('');
        return false;
      }
      try {
        const fresh = await get('/api/shared');
        session = fresh;
        if (fresh.status === 'running') return true;
        await fetchAfter();
        setStatus(fresh.status);
        show('');
        return false;
      } catch (e) {
        if (e instanceof Gone) {
          revoked();
          return false;
        }
        return true;
      }
    },
  });

  return () => {
    closed = true;
    if (stream) stream.close();
  };
}
