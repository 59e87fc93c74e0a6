// The core promise, in a real browser: a run streams, survives a reload mid-stream with no
// duplicate and no gap, stops on Stop, and takes follow-ups.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until, renderedTranscript,
  assertTranscriptMatchesLog, chatStatus, storedEvents,
} from './lib/harness.mjs';

let env;
let context;
let page;

before(async () => {
  // 40 deltas × 150 ms: a run lasts ~6 s, long enough to reload and then stop it mid-way.
  env = await setup({ prefix: 'stream', env: { DEMO_EVENT_COUNT: '40', DEMO_EVENT_DELAY_MS: '150' } });
  context = await newContext(env.browser);
  page = await context.newPage();
});

after(async () => {
  await env?.teardown();
});

test('register, stream a demo run, reload mid-stream without duplicates or gaps, Stop', async () => {
  await registerViaUi(page, env.base, { displayName: 'Stream Tester' });
  const id = await startSessionViaUi(page, 'Explain **bold** <b>tags</b> and `code`');

  // Streamed text appears, and the session is running.
  await until(async () => ((await page.locator('.msg-assistant .md').first().textContent().catch(() => '')) || '').length > 30,
    'streamed assistant text');
  assert.equal(await chatStatus(page), 'running');
  await screenshot(page, 'chat-streaming');

  // Reload mid-stream.
  const atReload = (await renderedTranscript(page)).lastSeq;
  assert.ok(atReload < 40, `still mid-run at reload (seq ${atReload})`);
  await page.reload();
  await page.locator('ol.transcript').waitFor();
  // The replay brings back everything stored; live events continue after it.
  await until(async () => (await renderedTranscript(page)).lastSeq > atReload + 3, 'events after the reload');
  const mid = await renderedTranscript(page);
  assert.equal(mid.count, mid.lastSeq, 'every seq 1..last applied exactly once after the reload');
  assert.equal(await chatStatus(page), 'running', 'still running after the reload');
  await screenshot(page, 'chat-after-reload');

  // Stop.
  await page.getByRole('button', { name: 'Stop' }).click();
  await until(async () => (await chatStatus(page)) === 'interrupted', 'status interrupted', 5000);
  await until(async () => (await page.locator('.run-end.run-interrupted').count()) === 1, 'the interrupted line');
  assert.equal(await page.getByRole('button', { name: 'Stop' }).isVisible(), false, 'Stop is gone');
  const { events } = await assertTranscriptMatchesLog(assert, page, id);
  assert.equal(events[events.length - 1].type, 'interrupted');
  assert.ok(events.filter((e) => e.type === 'assistant_message').length < 40, 'stopped before the end');
  // The sidebar follows the status.
  await until(async () => (await page.locator(`li[data-id="${id}"] .badge`).textContent()) === 'interrupted', 'sidebar status');
  assert.equal(await page.locator('.stream-state').textContent(), 'Run stopped.', 'the end is announced');
  await screenshot(page, 'chat-interrupted');

  // User text is shown as text, never as markup.
  assert.equal(await page.locator('ol.transcript b').count(), 0, 'no <b> from the prompt');
  assert.equal(await page.locator('.msg-user .msg-text').first().textContent(), 'Explain **bold** <b>tags</b> and `code`');
});

test('a follow-up runs to completion with cost, duration, Markdown code and a collapsible tool call', async () => {
  const id = page.url().split('/sessions/')[1];
  const box = page.getByLabel('Follow-up message');
  await box.fill('Now finish it');
  await box.press('Enter');
  await until(async () => (await chatStatus(page)) === 'running', 'follow-up running');
  await until(async () => (await chatStatus(page)) === 'completed', 'follow-up completed', 20000);
  await until(async () => (await page.locator('.run-end.run-completed').count()) === 1, 'the completed line');
  const done = await page.locator('.run-end.run-completed').textContent();
  assert.match(done, /Completed in \d+(\.\d)? s/);
  assert.match(done, /\$0\.00/);
  assert.match(done, /tokens/);
  assert.match(await page.locator('.chat-totals').textContent(), /total/);

  // The demo answer ends with a fenced rust block: rendered as <pre><code>, as text.
  const code = page.locator('.msg-assistant pre.code-block code').last();
  assert.match(await code.textContent(), /println!\("hello from the demo"\);/);
  assert.equal(await page.locator('.msg-assistant pre.code-block').last().getAttribute('data-lang'), 'rust');

  // Tool calls are collapsed; opening one shows its input and result.
  const tool = page.locator('details.tool').last();
  assert.equal(await tool.getAttribute('open'), null);
  await tool.locator('summary').click();
  assert.match(await tool.textContent(), /src\/main\.rs/);
  assert.match(await tool.textContent(), /Result/);
  const { events } = await assertTranscriptMatchesLog(assert, page, id);
  assert.equal(events.filter((e) => e.type === 'user_message').length, 2);
  await screenshot(page, 'chat-completed');

  // A finished session reloads to the same transcript (replay only, the stream then closes).
  await page.reload();
  await until(async () => (await renderedTranscript(page))?.lastSeq === events[events.length - 1].seq, 'replayed transcript');
  await assertTranscriptMatchesLog(assert, page, id);
  assert.equal(await chatStatus(page), 'completed');
  assert.equal((await storedEvents(page, id)).length, events.length);
  assert.deepEqual(context.problems.filter((p) => p.startsWith('pageerror')), []);
});
