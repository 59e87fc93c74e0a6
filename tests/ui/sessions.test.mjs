// The session list: live across tabs (created, renamed, trashed, restored elsewhere), keyboard
// navigation, and isolation between users.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until, sleep,
} from './lib/harness.mjs';

let env;
let context;
let tab1;
let tab2;
const titles = (page) => page.locator('#session-list .session-title').allTextContents();

before(async () => {
  env = await setup({ prefix: 'sessions', env: { DEMO_EVENT_COUNT: '10', DEMO_EVENT_DELAY_MS: '30' } });
  context = await newContext(env.browser);
  tab1 = await context.newPage();
  await registerViaUi(tab1, env.base, { displayName: 'Lister' });
  tab2 = await context.newPage();
  await tab2.goto(`${env.base}/`);
  await tab2.getByRole('heading', { name: 'New session' }).waitFor();
});

after(async () => {
  await env?.teardown();
});

test('the list updates live when a session is created, renamed, trashed and restored in another tab', async () => {
  await until(async () => (await tab1.locator('.live-dot').getAttribute('data-state')) === 'live', 'tab 1 live');
  assert.deepEqual(await titles(tab1), []);
  await screenshot(tab1, 'home-empty');

  await startSessionViaUi(tab2, 'Created in the other tab');
  await until(async () => (await titles(tab1)).includes('Created in the other tab'), 'tab 1 sees the new session', 10000);
  const id = tab2.url().split('/sessions/')[1];
  await until(async () => (await tab1.locator(`li[data-id="${id}"] .badge`).textContent()) === 'completed', 'tab 1 sees it complete');
  await screenshot(tab1, 'home-with-session');

  // Rename in tab 2, from the list (keyboard: F2 on the focused item).
  await tab2.locator(`a.session-link[data-id="${id}"]`).focus();
  await tab2.keyboard.press('F2');
  const input = tab2.getByLabel('New title');
  await input.fill('Renamed elsewhere');
  await input.press('Enter');
  await until(async () => (await titles(tab1)).includes('Renamed elsewhere'), 'tab 1 sees the rename');

  // Trash in tab 2 (the button), then restore from tab 1's trash view.
  await tab2.getByRole('button', { name: 'Move “Renamed elsewhere” to trash' }).click();
  await until(async () => (await titles(tab1)).length === 0, 'tab 1 sees it leave');
  await tab1.getByRole('button', { name: 'Trash' }).click();
  await until(async () => (await titles(tab1)).includes('Renamed elsewhere'), 'tab 1 trash lists it');
  await screenshot(tab1, 'trash');
  await tab1.getByRole('button', { name: 'Restore “Renamed elsewhere”' }).click();
  await until(async () => (await titles(tab2)).includes('Renamed elsewhere'), 'tab 2 sees it restored');
  await tab1.getByRole('button', { name: 'Sessions' }).click();
  await until(async () => (await titles(tab1)).includes('Renamed elsewhere'), 'tab 1 lists it again');
});

test('arrow keys move through the list and Enter opens a session', async () => {
  await tab1.goto(`${env.base}/`);
  await startSessionViaUi(tab1, 'Second session');
  await tab1.goto(`${env.base}/`);
  await until(async () => (await titles(tab1)).length === 2, 'two sessions');
  const links = tab1.locator('a.session-link');
  await links.nth(0).focus();
  await tab1.keyboard.press('ArrowDown');
  assert.equal(await tab1.evaluate(() => document.activeElement.dataset.id), await links.nth(1).getAttribute('data-id'));
  await tab1.keyboard.press('ArrowUp');
  assert.equal(await tab1.evaluate(() => document.activeElement.dataset.id), await links.nth(0).getAttribute('data-id'));
  await tab1.keyboard.press('Enter');
  await tab1.waitForURL(/\/sessions\//);
  await tab1.locator('.chat-title').waitFor();
  assert.equal(await tab1.locator('.chat-title').textContent(), 'Second session');
});

test('a second user sees none of the first user\'s sessions, live or by URL', async () => {
  const firstId = tab1.url().split('/sessions/')[1];
  const other = await newContext(env.browser);
  const page = await other.newPage();
  await registerViaUi(page, env.base, { displayName: 'Someone Else' });
  await until(async () => (await page.locator('.live-dot').getAttribute('data-state')) === 'live', 'user 2 live');
  assert.deepEqual(await titles(page), []);
  assert.match(await page.locator('.sidebar .empty').textContent(), /No sessions yet/);

  // User 1 creates another session while user 2 watches: nothing arrives.
  await tab1.goto(`${env.base}/`);
  await startSessionViaUi(tab1, 'Private to user one');
  await until(async () => (await titles(tab2)).includes('Private to user one'), 'user 1 other tab sees it');
  await sleep(500);
  assert.deepEqual(await titles(page), [], 'user 2 list stays empty');

  // By URL: not found, for the page and for the API.
  await page.goto(`${env.base}/sessions/${firstId}`);
  await page.getByRole('heading', { name: 'Session not found' }).waitFor();
  const status = await page.evaluate(async (id) => (await fetch(`/api/sessions/${id}`)).status, firstId);
  assert.equal(status, 404);
  const list = await page.evaluate(async () => (await fetch('/api/sessions')).json());
  assert.deepEqual(list.sessions, []);
  await screenshot(page, 'other-user-not-found');
  await other.close();
});
