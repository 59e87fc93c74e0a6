// Sharing by link: the owner creates a link from the chat page's Share button; the link opens
// in a fresh browser context (no cookie, never signed in) on the other replica, shows the
// transcript read-only and follows the live run; revoking it ends the viewer's stream at once,
// and the link no longer loads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until, renderedTranscript,
  storedEvents,
} from './lib/harness.mjs';

let env;
let owner;

before(async () => {
  env = await setup({ prefix: 'share', replicas: 2, env: { DEMO_EVENT_COUNT: '120', DEMO_EVENT_DELAY_MS: '100' } });
  const context = await newContext(env.browser);
  owner = await context.newPage();
  await registerViaUi(owner, env.base, { displayName: 'Sharer' });
});

after(async () => {
  await env?.teardown();
});

test('a share link opens read-only in a fresh context on the other replica, follows the run live, and stops when revoked', async () => {
  await owner.goto(`${env.base}/`);
  const id = await startSessionViaUi(owner, 'Walk me through parse_config');
  await owner.getByRole('button', { name: 'Share session' }).click();
  await owner.getByRole('button', { name: 'Create link' }).click();
  const field = owner.locator('#share-url');
  await field.waitFor();
  const link = await field.inputValue();
  assert.match(link, /\/shared#[A-Za-z0-9_-]{43}$/);
  await screenshot(owner, 'share-created');

  // A viewer who never signed in, on the other replica.
  const viewerContext = await newContext(env.browser);
  const viewer = await viewerContext.newPage();
  const onB = `${env.servers[1].url}${new URL(link).pathname}${new URL(link).hash}`;
  const response = await viewer.goto(onB);
  assert.equal(response.headers()['referrer-policy'], 'no-referrer');
  assert.match(response.headers()['content-security-policy'], /default-src 'self'/);
  await viewer.locator('ol.transcript').waitFor();
  assert.equal((await viewerContext.cookies()).length, 0, 'no cookie needed, none set');
  assert.equal(await viewer.locator('.msg-user .msg-text').first().textContent(), 'Walk me through parse_config');
  assert.equal(await viewer.locator('textarea').count(), 0, 'nothing to write with');
  assert.equal(await viewer.getByRole('button', { name: /Stop|Rename|Share/ }).count(), 0);
  assert.equal(await viewer.locator('#sidebar').isHidden(), true);
  // Following live: the transcript grows while the run goes on.
  const first = (await renderedTranscript(viewer)).count;
  await until(async () => (await renderedTranscript(viewer)).count > first + 3, 'live events arrive');
  assert.match(await viewer.locator('.stream-state').textContent(), /Streaming live/);
  await screenshot(viewer, 'shared-live-view');
  // The page's requests carried the token in a header only, never in a URL.
  const token = new URL(link).hash.slice(1);
  const urls = [];
  viewer.on('request', (r) => urls.push(r.url()));
  await viewer.reload();
  await viewer.locator('ol.transcript').waitFor();
  assert.ok(urls.length > 0 && urls.every((u) => !u.includes(token)), 'token never in a request URL');

  // Revoke while the viewer follows the run: its stream ends and the page says so.
  const before = (await renderedTranscript(viewer)).count;
  await owner.getByRole('button', { name: 'Revoke link' }).click();
  await until(async () => /revoked/.test(await viewer.locator('.stream-state').textContent()), 'viewer told the link was revoked', 5000);
  const stopped = (await renderedTranscript(viewer)).count;
  assert.ok(stopped >= before);
  await viewer.waitForTimeout(1000);
  assert.equal((await renderedTranscript(viewer)).count, stopped, 'nothing more arrives after the revocation');
  await screenshot(viewer, 'shared-revoked-live');
  await viewer.reload();
  await viewer.getByRole('heading', { name: 'This link does not work' }).waitFor();
  await screenshot(viewer, 'shared-link-revoked');

  // The owner's own view is untouched and keeps streaming to the end.
  await until(async () => (await owner.locator('#chat-status').textContent()).trim().toLowerCase() !== 'running', 'run over', 30000);
  const events = await storedEvents(owner, id);
  assert.ok(events.length > stopped);
  await viewerContext.close();
});
