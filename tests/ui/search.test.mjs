// Daily use in the session list: the search box (instant results as one types, over titles and
// the conversation) and the star toggle (starred sessions first).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until,
} from './lib/harness.mjs';

let env;
let page;
const titles = () => page.locator('#session-list .session-title').allTextContents();

before(async () => {
  env = await setup({ prefix: 'search', env: { DEMO_EVENT_COUNT: '6', DEMO_EVENT_DELAY_MS: '5' } });
  const context = await newContext(env.browser);
  page = await context.newPage();
  await registerViaUi(page, env.base, { displayName: 'Searcher' });
});

after(async () => {
  await env?.teardown();
});

test('typing in the search box finds sessions by title and conversation; the star puts one first', async () => {
  for (const prompt of ['Fix the parse_config crash', 'Rename the tokenizer module']) {
    await page.goto(`${env.base}/`);
    await startSessionViaUi(page, prompt);
    const id = page.url().split('/sessions/')[1];
    await until(async () => (await page.evaluate(async (s) => (await (await fetch(`/api/sessions/${s}`)).json()).status, id)) === 'completed', 'run done');
  }
  await page.goto(`${env.base}/`);
  await until(async () => (await titles()).length === 2, 'both listed');

  const box = page.getByRole('searchbox', { name: /Search sessions/ });
  await box.pressSequentially('tokeni');
  await until(async () => JSON.stringify(await titles()) === JSON.stringify(['Rename the tokenizer module']), 'prefix search');
  await screenshot(page, 'search-prefix');
  await box.fill('nothing-like-this');
  await until(async () => (await titles()).length === 0, 'no match');
  assert.match(await page.locator('.sidebar .empty').textContent(), /No session matches/);
  await box.fill('');
  await until(async () => (await titles()).length === 2, 'cleared');

  // Star the older one: it moves first, and stays starred after a reload.
  const older = (await titles())[1];
  await page.getByRole('button', { name: `Star “${older}”` }).click();
  await until(async () => (await titles())[0] === older, 'starred first');
  await page.reload();
  await until(async () => (await titles())[0] === older, 'starred first after reload');
  assert.equal(await page.getByRole('button', { name: `Star “${older}”` }).getAttribute('aria-pressed'), 'true');
  await screenshot(page, 'starred-first');
});

test('search results mark the matched words in titles and conversation snippets, as text only', async () => {
  await page.goto(`${env.base}/`);
  await until(async () => (await titles()).length >= 2, 'listed');
  // A title that would be markup if anything parsed it.
  await page.evaluate(async () => {
    await fetch('/api/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: '<img src=x onerror="window.__xss=1"> tokenizer notes' }) });
  });
  const box = page.getByRole('searchbox', { name: /Search sessions/ });
  await box.fill('tokeni');
  await until(async () => (await titles()).length === 2, 'two tokenizer hits');
  const marks = await page.locator('#session-list .session-title mark').allTextContents();
  assert.ok(marks.length >= 2 && marks.every((m) => m.toLowerCase() === 'tokeni'), JSON.stringify(marks));
  assert.ok((await titles()).includes('<img src=x onerror="window.__xss=1"> tokenizer notes'), 'shown as text');
  assert.equal(await page.locator('#session-list img').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  // The run's conversation matched: its snippet marks the word too.
  const snippet = page.locator('#session-list .session-snippet').first();
  await snippet.waitFor();
  assert.match(await snippet.locator('mark').first().textContent(), /^tokeni/i);
  await screenshot(page, 'search-highlights');
  await box.fill('');
});
