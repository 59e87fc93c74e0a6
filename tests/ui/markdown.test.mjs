// The Markdown renderer, in the browser, with the app's own module: formatting works and model
// output can never become markup (escape-first; no innerHTML anywhere).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, newContext } from './lib/harness.mjs';

let env;
let page;

before(async () => {
  env = await setup({ prefix: 'markdown' });
  const context = await newContext(env.browser);
  page = await context.newPage();
  await page.goto(`${env.base}/login`);
  await page.getByRole('heading', { name: 'Sign in to WebEDT' }).waitFor();
});

after(async () => {
  await env?.teardown();
});

/** Renders `md` with the app's module; returns { html: normalized structure, text, tags }. */
const render = (md) => page.evaluate(async (source) => {
  const src = document.querySelector('script[type=module]').src;
  const { renderMarkdown } = await import(src.replace(/app\.js$/, 'markdown.js'));
  const div = document.createElement('div');
  div.append(renderMarkdown(source));
  const tags = [...div.querySelectorAll('*')].map((e) => e.tagName.toLowerCase());
  const links = [...div.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), rel: a.rel, target: a.target, text: a.textContent }));
  const attrs = [...div.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name));
  return { text: div.textContent, tags, links, attrs, structure: div.innerHTML };
}, md);

test('HTML in model output stays text', async () => {
  for (const payload of [
    '<img src=x onerror="window.pwned=1">',
    '<script>window.pwned=1</script>',
    '**<svg onload=window.pwned=1>**',
    '`<b>code</b>` and <a href="javascript:alert(1)">x</a>',
    '```html\n<iframe src="javascript:alert(1)"></iframe>\n```',
    '- <style>body{display:none}</style>',
  ]) {
    const r = await render(payload);
    assert.ok(r.tags.every((t) => ['p', 'strong', 'em', 'code', 'pre', 'ul', 'li', 'del', 'span'].includes(t)), `${payload} → ${r.tags}`);
    assert.ok(r.attrs.every((a) => ['class', 'data-lang'].includes(a)), `${payload} → attrs ${r.attrs}`);
  }
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});

test('links: http(s) only, with rel=noopener noreferrer and a new tab', async () => {
  const r = await render('[ok](https://example.com/a?b=1) [bad](javascript:alert(1)) [data](data:text/html,x) [rel](/x) <https://auto.example> see http://bare.example/path.');
  assert.deepEqual(r.links.map((l) => l.href), ['https://example.com/a?b=1', 'https://auto.example/', 'http://bare.example/path']);
  assert.ok(r.links.every((l) => l.rel.includes('noopener') && l.rel.includes('noreferrer') && l.target === '_blank'));
  assert.match(r.text, /ok bad data rel/);
});

test('blocks and inlines', async () => {
  const r = await render([
    '### Title', '', 'Some **bold**, *italic*, ~~gone~~, `a < b` and snake_case_name.', '',
    '- one', '- two', '  - nested', '', '1. first', '2. second', '', '> quoted', '', '---', '',
    '```js', 'const x = "<tag>";', '```', '', '    indented code',
  ].join('\n'));
  // Highlighting (vendored highlight.js) adds class-only spans inside the fenced block.
  assert.deepEqual(r.tags.filter((t) => t !== 'span'), ['h5', 'p', 'strong', 'em', 'del', 'code', 'ul', 'li', 'li', 'ul', 'li', 'ol', 'li', 'li', 'blockquote', 'p', 'hr', 'pre', 'code', 'pre', 'code']);
  assert.match(r.structure, /<span class="hljs-keyword">const<\/span>/);
  assert.match(r.text, /snake_case_name/);
  assert.match(r.text, /const x = "<tag>";/);
  const unclosed = await render('Streaming:\n```python\nprint("half');
  assert.deepEqual(unclosed.tags.filter((t) => t !== 'span'), ['p', 'pre', 'code']);
  assert.match(unclosed.text, /print\("half/);
});
