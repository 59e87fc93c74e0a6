// One chat session: its transcript (replayed, then live), status, Stop, and follow-ups.
// The stream resumes from the last rendered seq after any drop, through any replica.

import { api, post, patch, describe } from '../api.js';
import { h, mount, uniqueId } from '../dom.js';
import { resumableStream } from '../sse.js';
import { title, toast, statusBadge, updateBadge } from '../ui.js';
import { cost, duration } from '../format.js';
import { icon } from '../icons.js';
import { Transcript, TERMINAL } from '../components/transcript.js';
import { providerPicker, isDemo } from '../components/provider-picker.js';
import { displayTitle, broadcast } from '../components/session-list.js';
import { inlineRename } from '../components/rename.js';
import { submitOnEnter } from './home.js';
import { shareControls } from '../components/share.js';
import { attachments } from '../components/attachments.js';

const PAGE = 500;

export async function render(main, ctx) {
  const id = ctx.params.id;
  const base = `/api/sessions/${encodeURIComponent(id)}`;
  mount(main, h('p', { class: 'loading', text: 'Loading session…' }));
  let session;
  try {
    session = await api(base);
  } catch (e) {
    if (ctx.isStale()) return null;
    title('Session not found');
    mount(main, h('section', { class: 'page narrow' },
      h('h1', { text: e.status === 404 ? 'Session not found' : 'Could not load the session' }),
      h('p', { text: e.status === 404 ? 'It does not exist, or it is not yours.' : describe(e) }),
      h('p', {}, h('a', { href: '/', text: 'Back to your sessions' }))));
    return null;
  }
  if (ctx.isStale()) return null;

  // --- layout -------------------------------------------------------------------------------
  const scroller = h('div', { class: 'chat-scroll' });
  let stickToBottom = true;
  scroller.addEventListener('scroll', () => {
    stickToBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  });
  const transcript = new Transcript({
    imageBase: `${base}/images`,
    onRender: () => {
      if (stickToBottom) scroller.scrollTop = scroller.scrollHeight;
    },
  });
  const heading = h('h1', { class: 'chat-title', text: displayTitle(session) });
  const renameButton = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Rename session', title: 'Rename' }, icon('pencil'));
  const badge = statusBadge(session.status);
  badge.id = 'chat-status';
  const providerLabel = h('span', { class: 'chat-provider' });
  // Code sessions: the working branch, and the pull request (a button until there is one).
  const branchBadge = h('span', { class: 'badge branch-badge', hidden: true });
  const prLink = h('a', { class: 'pr-link', target: '_blank', rel: 'noopener noreferrer', hidden: true });
  const prButton = h('button', { type: 'button', class: 'secondary', text: 'Create pull request', hidden: true });
  // GitHub's compare view of the working branch, for a repository on a host the user connected
  // as GitHub (github.com or an Enterprise server); other hosts have no such page we know of.
  const compareLink = h('a', { class: 'compare-link', target: '_blank', rel: 'noopener noreferrer', text: 'Compare', hidden: true });
  let githubHosts = null;
  async function loadGithubHosts() {
    githubHosts = [];
    try {
      const data = await api('/api/connections');
      githubHosts = ((data && data.connections) || [])
        .filter((c) => c.provider === 'github' && c.kind !== 'ai_key')
        .map((c) => c.host);
    } catch { /* no link then */ }
    renderCode();
  }
  prButton.addEventListener('click', async () => {
    prButton.disabled = true;
    try {
      const r = await post(`${base}/pull-request`, {});
      if (r.pullRequest) applySession({ pullRequestNumber: r.pullRequest.number, pullRequestUrl: r.pullRequest.url });
      else if (r.hint) toast(r.hint);
    } catch (e) {
      toast(describe(e), 'error');
    }
    prButton.disabled = false;
  });
  const totals = h('span', { class: 'chat-totals' });
  const streamState = h('p', { class: 'stream-state', role: 'status', 'aria-live': 'polite' });
  const stopButton = h('button', { type: 'button', class: 'danger', hidden: true }, icon('stop'), h('span', { text: 'Stop' }));
  const emptyNote = h('p', { class: 'empty', text: 'No messages yet. Send one below to start a run.', hidden: true });

  const followId = uniqueId('followup');
  const followHint = `${followId}-hint`;
  const followup = h('textarea', { id: followId, rows: 2, name: 'message', 'aria-describedby': followHint, placeholder: 'Send a follow-up…' });
  const picker = providerPicker({ provider: session.provider, model: session.model });
  const sendButton = h('button', { type: 'submit', class: 'primary' }, icon('send'), h('span', { text: 'Send' }));
  const sendError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const composerHint = h('p', { class: 'hint', id: followHint, text: 'Enter to send, Shift+Enter for a new line. Paste or drop images into the box.' });
  const images = attachments(followup, { onError: (m) => toast(m, 'error') });
  const composer = h('form', { class: 'composer composer-chat' },
    h('label', { for: followId, class: 'visually-hidden', text: 'Follow-up message' }),
    followup,
    images.el,
    h('div', { class: 'composer-row' }, picker.el, sendButton),
    composerHint, sendError);
  submitOnEnter(followup, composer);
  const share = shareControls(id);

  mount(main, h('section', { class: 'chat', 'aria-labelledby': 'chat-heading' },
    h('header', { class: 'chat-head' },
      h('a', { href: '/', class: 'back-link', 'aria-label': 'Back to sessions' }, icon('back')),
      h('div', { class: 'chat-heading', id: 'chat-heading' }, heading, renameButton, share.button),
      h('div', { class: 'chat-meta' }, badge, providerLabel, branchBadge, compareLink, prLink, prButton, totals),
      stopButton),
    share.panel,
    streamState,
    h('div', { class: 'chat-body' }, scroller),
    composer));
  mount(scroller, transcript.el, emptyNote);

  // --- state --------------------------------------------------------------------------------
  let running = session.status === 'running';
  let stopping = false;
  let stream = null;
  let gapFill = true;
  let closed = false;
  // This page saw the current run live (so its end is worth announcing).
  let watching = false;

  function applySession(s) {
    session = { ...session, ...s };
    heading.textContent = displayTitle(session);
    title(displayTitle(session));
    const provider = { id: session.provider, label: session.provider };
    providerLabel.replaceChildren();
    if (session.provider) {
      providerLabel.append(`${session.provider}${session.model ? ` · ${session.model}` : ''}`);
      if (isDemo(provider)) providerLabel.append(' ', h('span', { class: 'badge badge-demo', text: 'demo', title: 'Built-in demo provider: scripted output, no AI' }));
    }
    if (!transcript.lastType || !TERMINAL.has(transcript.lastType) || session.status === 'running') {
      setStatus(session.status);
    }
    renderTotals();
    renderCode();
  }

  function renderCode() {
    branchBadge.hidden = !session.workingBranch;
    branchBadge.textContent = session.workingBranch || '';
    branchBadge.title = session.repository ? `${session.repository} · from ${session.baseBranch}` : '';
    prLink.hidden = !session.pullRequestUrl;
    if (session.pullRequestUrl) {
      prLink.href = session.pullRequestUrl;
      prLink.textContent = `Pull request #${session.pullRequestNumber}`;
    }
    prButton.hidden = Boolean(session.pullRequestUrl) || !session.headCommit || running;
    if (session.repository && session.headCommit && githubHosts === null) loadGithubHosts();
    const compare = session.headCommit ? compareUrl(session, githubHosts || []) : null;
    compareLink.hidden = !compare;
    if (compare) compareLink.href = compare;
  }

  function renderTotals() {
    const parts = [];
    if (transcript.lastCompleted && transcript.lastCompleted.durationMs != null) parts.push(duration(transcript.lastCompleted.durationMs));
    if (session.totalCostUsd != null) parts.push(`${cost(session.totalCostUsd)} total`);
    totals.textContent = parts.join(' · ');
    totals.hidden = parts.length === 0 || running;
  }

  function setStatus(status) {
    running = status === 'running';
    updateBadge(badge, status);
    badge.id = 'chat-status';
    stopButton.hidden = !running;
    stopButton.disabled = stopping && running;
    if (!running) stopping = false;
    sendButton.disabled = running;
    composerHint.textContent = running ? 'A run is in progress: send a follow-up when it ends, or Stop it.'
      : 'Enter to send, Shift+Enter for a new line. Paste or drop images into the box.';
    renderTotals();
  }

  function showStreamState(text, kind = 'info') {
    streamState.textContent = text;
    streamState.dataset.kind = kind;
    streamState.hidden = !text;
  }
  showStreamState('');

  function apply(event) {
    if (!transcript.apply(event)) return;
    emptyNote.hidden = true;
    if (event.type === 'user_message' || event.type === 'run_started') setStatus('running');
    else if (TERMINAL.has(event.type)) {
      // Announce the end only of a run this page watched live (not of replayed history).
      const watched = watching;
      watching = false;
      setStatus(event.type);
      if (watched) {
        showStreamState(event.type === 'completed' ? 'Run completed.' : event.type === 'error' ? 'Run failed.' : 'Run stopped.');
      }
    }
  }

  /** Events after the last applied seq, from the paged JSON endpoint (up to `until`, exclusive). */
  async function fetchAfter(until = Infinity) {
    let got = 0;
    for (;;) {
      const after = transcript.lastSeq;
      const limit = Number.isFinite(until) ? Math.min(PAGE, until - after - 1) : PAGE;
      if (limit <= 0) return got;
      const data = await api(`${base}/events?after=${after}&limit=${limit}`);
      const events = (data && data.events) || [];
      for (const ev of events) if (ev.seq < until) apply(ev);
      got += events.length;
      if (events.length < limit || transcript.lastSeq === after) return got;
    }
  }

  function startStream() {
    if (stream || closed) return;
    showStreamState(running ? 'Connecting…' : '');
    stream = resumableStream({
      url: (last) => `${base}/events/stream?lastEventId=${last ?? 0}`,
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
        // A hole (a lost frame): fill it from the JSON endpoint before going on.
        if (gapFill && seq > transcript.lastSeq + 1) {
          try {
            if ((await fetchAfter(seq)) === 0) gapFill = false; // seqs are not contiguous here
          } catch {
            return undefined; // keep going; the resume will replay
          }
        }
        apply({ seq, type: frame.event, data });
        return undefined;
      },
      onState: (state, info) => {
        if (closed) return;
        if (state === 'live' && running) {
          watching = true;
          showStreamState('Streaming live.', 'live');
        }
        else if (state === 'reconnecting') showStreamState(`Reconnecting…${info && info.attempt > 2 ? ` (attempt ${info.attempt})` : ''}`, 'warn');
        else if (state === 'failed') {
          showStreamState(info && info.status === 404 ? 'This session is gone.' : 'The stream failed.', 'error');
          stream = null;
        } else if (state === 'closed') {
          stream = null;
          if (streamState.dataset.kind !== 'info') showStreamState('');
        }
      },
      onEnd: async () => {
        // The server closes the stream when no run is active after its replay.
        if (TERMINAL.has(transcript.lastType)) return false;
        const fresh = await api(base);
        applySession(fresh);
        if (fresh.status === 'running') return true;
        await fetchAfter();
        if (!transcript.lastType) emptyNote.hidden = false;
        setStatus(fresh.status);
        return false;
      },
    });
  }

  // --- actions ------------------------------------------------------------------------------
  stopButton.addEventListener('click', async () => {
    stopping = true;
    watching = true;
    stopButton.disabled = true;
    showStreamState('Stopping…');
    try {
      await post(`${base}/interrupt`, {});
    } catch (e) {
      stopping = false;
      stopButton.disabled = false;
      toast(describe(e), 'error');
    }
  });

  composer.addEventListener('submit', async (event) => {
    event.preventDefault();
    sendError.hidden = true;
    const message = followup.value.trim();
    if (!message || running) return;
    sendButton.disabled = true;
    try {
      const body = { message, ...picker.value() };
      if (images.count() > 0) body.images = await images.upload(base);
      const res = await post(`${base}/send`, body);
      followup.value = '';
      images.clear();
      if (res && res.session) {
        applySession(res.session);
        broadcast('updated', res.session);
      }
      setStatus('running');
      startStream();
    } catch (e) {
      sendButton.disabled = running;
      sendError.textContent = e.code === 'run_active' ? 'A run is already in progress.' : describe(e);
      sendError.hidden = false;
      if (e.code === 'run_active') {
        setStatus('running');
        startStream();
      }
    }
  });

  renameButton.addEventListener('click', () => {
    inlineRename(heading, displayTitle(session), async (t) => {
      const updated = await patch(base, { title: t });
      applySession(updated);
      broadcast('updated', updated);
    }, () => renameButton.focus());
  });

  // Another tab or device changed this session (renamed it, started a follow-up…).
  const onSession = (event) => {
    const { kind, session: s } = event.detail;
    if (!s || s.id !== id) return;
    applySession(s);
    if (kind === 'deleted') toast('This session was moved to the trash.', 'info');
    if (s.status === 'running' && !stream) startStream();
  };
  window.addEventListener('webedt:session', onSession);

  applySession(session);
  startStream();

  return () => {
    closed = true;
    window.removeEventListener('webedt:session', onSession);
    if (stream) stream.close();
  };
}

/** `<host>/<owner>/<repo>/compare/<base>...<branch>` when the repository is on a GitHub host. */
export function compareUrl(session, githubHosts) {
  let url;
  try { url = new URL(session.repository); } catch { return null; }
  if (!githubHosts.includes(url.origin)) return null;
  const path = url.pathname.replace(/\.git$/, '').replace(/^\/+|\/+$/g, '');
  if (path.split('/').length !== 2 || !session.baseBranch || !session.workingBranch) return null;
  const ref = (b) => b.split('/').map(encodeURIComponent).join('/');
  return `${url.origin}/${path}/compare/${ref(session.baseBranch)}...${ref(session.workingBranch)}`;
}
