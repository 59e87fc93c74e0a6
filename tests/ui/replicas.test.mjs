// Multi-replica: two webedt-api processes on one database behind a tiny proxy. The page keeps
// streaming through a network drop, a hard kill of the replica serving the stream, and a
// graceful restart (SIGTERM) of the replica that both runs and streams the session.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until, renderedTranscript,
  assertTranscriptMatchesLog, chatStatus, recordStreamStates, streamStates, sleep,
} from './lib/harness.mjs';
import { startProxy } from './lib/proxy.mjs';

let env;
let proxy;
let page;
let context;
const A = 0;
const B = 1;

before(async () => {
  env = await setup({
    prefix: 'replicas', replicas: 2, env: { DEMO_EVENT_COUNT: '40', DEMO_EVENT_DELAY_MS: '150' },
  });
  proxy = await startProxy(env.servers);
  context = await newContext(env.browser);
  page = await context.newPage();
  await registerViaUi(page, proxy.url);
});

after(async () => {
  await proxy?.close();
  await env?.teardown();
});

const isStream = (req) => req.url.includes('/events/stream');

async function startRun(prompt) {
  await page.goto(`${proxy.url}/`);
  const id = await startSessionViaUi(page, prompt);
  await recordStreamStates(page);
  await until(async () => (await renderedTranscript(page))?.lastSeq >= 8, 'the run to be streaming');
  return id;
}

async function finish(id) {
  await until(async () => (await chatStatus(page)) === 'completed', 'the run to complete', 30000);
  return assertTranscriptMatchesLog(assert, page, id);
}

test('network drops: the stream reconnects, says so, and loses nothing', async () => {
  const id = await startRun('survive network drops');
  for (let i = 0; i < 3; i += 1) {
    assert.equal(proxy.streaming(`/api/sessions/${id}/events/stream`).length, 1, 'one open stream');
    proxy.drop(`/api/sessions/${id}/events/stream`);
    await sleep(700);
  }
  await finish(id);
  const states = await streamStates(page);
  assert.ok(states.some((s) => s.startsWith('Reconnecting')), `showed "Reconnecting…" (saw ${JSON.stringify(states)})`);
  const opened = proxy.log.filter((e) => e.path.startsWith(`/api/sessions/${id}/events/stream`));
  assert.ok(opened.length >= 4, `reconnected after each drop (${opened.length} stream requests)`);
  assert.ok(opened.slice(1).every((e) => /lastEventId=[1-9]/.test(e.path)), 'resumed from the last seq');
});

test('the replica serving the stream is killed (SIGKILL): the page keeps streaming from the other', async () => {
  // The run executes on A (it takes the /send); the stream is served by B, which then dies.
  proxy.setRoute((req) => (isStream(req) ? B : A));
  const id = await startRun('survive a replica crash');
  const serving = proxy.streaming(`/api/sessions/${id}/events/stream`);
  assert.deepEqual(serving.map((s) => s.name), [env.servers[B].name], 'B serves the stream');
  const seqAtKill = (await renderedTranscript(page)).lastSeq;
  await env.servers[B].kill('SIGKILL');
  await until(async () => (await renderedTranscript(page)).lastSeq > seqAtKill + 3, 'events after the kill');
  assert.deepEqual(proxy.streaming(`/api/sessions/${id}/events/stream`).map((s) => s.name), [env.servers[A].name], 'A serves it now');
  await screenshot(page, 'chat-after-replica-kill');
  await finish(id);
  const states = await streamStates(page);
  assert.ok(states.some((s) => s.startsWith('Reconnecting')), `showed "Reconnecting…" (saw ${JSON.stringify(states)})`);
  assert.equal(await page.locator('#replica').textContent(), env.servers[A].name, 'the footer names the surviving replica');
});

test('graceful restart (SIGTERM) of the replica running and streaming the session', async () => {
  // B is dead; bring up a fresh B on the same database, then make A do everything.
  const { startServer } = await import('./lib/harness.mjs');
  env.servers[B] = await startServer({
    db: env.db, name: 'replicas-b2', env: { DEMO_EVENT_COUNT: '40', DEMO_EVENT_DELAY_MS: '150' },
  });
  proxy.setRoute(() => A);
  const id = await startRun('survive a rolling restart');
  const seqAtStop = (await renderedTranscript(page)).lastSeq;
  const exited = env.servers[A].kill('SIGTERM');
  // A ends its streams at once and finishes the run it owns while draining; the page moves to B.
  await until(async () => (await renderedTranscript(page)).lastSeq > seqAtStop + 3, 'events after the restart began');
  assert.deepEqual(proxy.streaming(`/api/sessions/${id}/events/stream`).map((s) => s.name), ['replicas-b2']);
  const { events } = await finish(id);
  assert.equal(events[events.length - 1].type, 'completed', 'the run finished despite the restart');
  await exited;
  await screenshot(page, 'chat-after-rolling-restart');
  assert.deepEqual(context.problems.filter((p) => p.startsWith('pageerror')), []);
});

test('a tab hidden for a while gives up its streams, then resumes without a gap when shown', async () => {
  proxy.setRoute(null); // round-robin again (A is gone; the proxy fails over)
  const id = await startRun('pause while hidden');
  const setVisibility = (state) => page.evaluate(async (s) => {
    const src = document.querySelector('script[type=module]').src;
    const sse = await import(src.replace(/app\.js$/, 'sse.js')); // the app's own module instance
    sse.config.pauseHiddenAfterMs = 100;
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await setVisibility('hidden');
  await until(async () => proxy.streaming('/events/stream').length === 0
    && proxy.streaming('/api/sessions/updates').length === 0, 'no open streams while hidden');
  const seqHidden = (await renderedTranscript(page)).lastSeq;
  await sleep(1000);
  assert.equal((await renderedTranscript(page)).lastSeq, seqHidden, 'nothing arrives while paused');
  await setVisibility('visible');
  await until(async () => proxy.streaming('/api/sessions/updates').length === 1, 'the list stream is back');
  await finish(id);
});
