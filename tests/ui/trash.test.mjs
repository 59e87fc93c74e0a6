// Several sessions at once: select with checkboxes, move them to the trash, restore some from
// the trash view, then empty the trash (after a confirmation): gone for good.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, screenshot, until,
} from './lib/harness.mjs';

let env;
let page;
const titles = () => page.locator('#session-list .session-title').allTextContents();
const sorted = async () => (await titles()).sort();

before(async () => {
  env = await setup({ prefix: 'trash' });
  const context = await newContext(env.browser);
  page = await context.newPage();
  await registerViaUi(page, env.base, { displayName: 'Tidy' });
});

after(async () => {
  await env?.teardown();
});

test('select several sessions, trash them, restore one, empty the trash', async () => {
  for (const title of ['Alpha', 'Bravo', 'Charlie', 'Delta']) {
    await page.evaluate(async (t) => {
      const res = await fetch('/api/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: t }) });
      if (res.status !== 201) throw new Error(`create: ${res.status}`);
    }, title);
  }
  await page.goto(`${env.base}/`);
  await until(async () => (await titles()).length === 4, 'four listed');

  await page.getByRole('button', { name: 'Select' }).click();
  for (const t of ['Alpha', 'Bravo', 'Charlie']) await page.getByRole('checkbox', { name: `Select “${t}”` }).check();
  assert.match(await page.locator('#bulk-bar').textContent(), /3 selected/);
  await screenshot(page, 'bulk-selected');
  await page.getByRole('button', { name: 'Move 3 to trash' }).click();
  await until(async () => JSON.stringify(await titles()) === '["Delta"]', 'three moved to the trash');

  await page.getByRole('button', { name: 'Trash', exact: true }).click();
  await until(async () => JSON.stringify(await sorted()) === '["Alpha","Bravo","Charlie"]', 'trash lists them');
  // Still selecting: pick one in the trash and restore it.
  await page.getByRole('checkbox', { name: 'Select “Bravo”' }).check();
  await page.getByRole('button', { name: 'Restore 1' }).click();
  await until(async () => JSON.stringify(await sorted()) === '["Alpha","Charlie"]', 'one restored');

  // Empty the trash: asks first; Cancel keeps everything.
  await page.getByRole('button', { name: 'Empty trash' }).click();
  const confirm = page.locator('#empty-confirm');
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /cannot be undone/);
  await screenshot(page, 'empty-trash-confirm');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await titles()).length, 2);
  await page.getByRole('button', { name: 'Empty trash' }).click();
  await confirm.getByRole('button', { name: 'Empty trash' }).click();
  await until(async () => (await titles()).length === 0, 'trash emptied');
  assert.match(await page.locator('.sidebar .empty').textContent(), /The trash is empty/);
  await screenshot(page, 'trash-emptied');

  // Gone for good: not in the trash after a reload, and the active list has the other two.
  const left = await page.evaluate(async () => {
    const active = await (await fetch('/api/sessions')).json();
    const trash = await (await fetch('/api/sessions?deleted=true')).json();
    return { active: active.sessions.map((s) => s.title).sort(), trash: trash.sessions.length };
  });
  assert.deepEqual(left, { active: ['Bravo', 'Delta'], trash: 0 });
  await page.getByRole('button', { name: 'Sessions', exact: true }).click();
  await until(async () => JSON.stringify(await sorted()) === '["Bravo","Delta"]', 'active list');
});
