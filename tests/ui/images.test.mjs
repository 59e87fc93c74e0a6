// Images in prompts: an image pasted into the follow-up box shows as a thumbnail, is uploaded
// and sent with the prompt, and appears in the transcript (served by the API as image/png),
// also after a reload. A non-image paste is refused with a message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until, storedEvents,
} from './lib/harness.mjs';

// A 4×4 red PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==';

let env;
let page;

before(async () => {
  env = await setup({ prefix: 'images', env: { DEMO_EVENT_COUNT: '4', DEMO_EVENT_DELAY_MS: '5' } });
  const context = await newContext(env.browser);
  page = await context.newPage();
  await registerViaUi(page, env.base, { displayName: 'Paster' });
});

after(async () => {
  await env?.teardown();
});

const status = (id) => page.evaluate(async (s) => (await (await fetch(`/api/sessions/${s}`)).json()).status, id);

async function paste(b64, name, type) {
  await page.locator('textarea[name="message"]').evaluate((ta, [data, fileName, fileType]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], fileName, { type: fileType }));
    ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, [b64, name, type]);
}

test('pasting an image into the prompt shows a thumbnail, sends it and shows it in the transcript', async () => {
  await page.goto(`${env.base}/`);
  const id = await startSessionViaUi(page, 'Look at my screenshot next');
  await until(async () => (await status(id)) === 'completed', 'first run done');

  await paste(btoa('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'evil.svg', 'image/svg+xml');
  await until(async () => (await page.locator('.toast').allTextContents()).some((t) => /not a PNG, JPEG, GIF or WebP/.test(t)), 'svg refused');
  assert.equal(await page.locator('.attachments .attachment').count(), 0);

  await paste(PNG, 'screenshot.png', 'image/png');
  await until(async () => (await page.locator('.attachments .attachment').count()) === 1, 'thumbnail shown');
  await screenshot(page, 'image-pasted');
  await page.locator('textarea[name="message"]').fill('What is in this screenshot?');
  await page.keyboard.press('Enter');
  await until(async () => (await page.locator('.attachments .attachment').count()) === 0, 'composer cleared');
  await until(async () => (await status(id)) === 'completed', 'second run done');

  const events = await storedEvents(page, id);
  const prompt = events.filter((e) => e.type === 'user_message').at(-1);
  assert.equal(prompt.data.text, 'What is in this screenshot?');
  assert.equal(prompt.data.images.length, 1);
  const served = await page.evaluate(async ([s, image]) => {
    const res = await fetch(`/api/sessions/${s}/images/${image}`);
    return { type: res.headers.get('content-type'), nosniff: res.headers.get('x-content-type-options'), size: (await res.arrayBuffer()).byteLength };
  }, [id, prompt.data.images[0]]);
  assert.deepEqual(served, { type: 'image/png', nosniff: 'nosniff', size: atob(PNG).length });

  const thumb = page.locator('.msg-user .msg-images img');
  await until(async () => (await thumb.count()) === 1 && thumb.evaluate((img) => img.complete && img.naturalWidth === 4), 'thumbnail in the transcript');
  await thumb.scrollIntoViewIfNeeded();
  await screenshot(page, 'image-in-transcript');
  await page.reload();
  await until(async () => (await thumb.count()) === 1 && thumb.evaluate((img) => img.complete && img.naturalWidth === 4), 'thumbnail after reload');
});
