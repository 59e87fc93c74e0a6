// GitHub end to end in the browser, against a fake GitHub (node http, written from GitHub's docs:
// authorize redirect, token exchange, /user, /user/repos, branches, pulls): connect from the
// Account page, pick a repository and branch with the keyboard (remembered after a reload),
// see the changes of a pushed branch as a diff with line numbers, open the pull request, and
// see its link after a reload on the other replica.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { setup, newContext, registerViaUi, screenshot, until, freePort } from './lib/harness.mjs';

const TOKEN = 'gho_UItestTOKEN0123456789abcdefABCDEF';
const CLIENT_ID = 'Iv1.uitest';
const HEAD = '6dcb09b5b57875f334f61aebed695e2e4193db5e';
const BASE = 'c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc';

let env;
let page;
let fake;
let fakeBase;
const pulls = [];
const seen = [];

function startFake(port) {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url, fakeBase);
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const json = (status, value, headers = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(value));
        };
        if (url.pathname === '/login/oauth/authorize') {
          // The user approves at once: back to the app's callback with a code and the state.
          const back = `${env.base}/api/connections/github/callback?code=ui-code&state=${encodeURIComponent(url.searchParams.get('state'))}`;
          res.writeHead(302, { location: back });
          res.end();
          return;
        }
        if (url.pathname === '/login/oauth/access_token') {
          json(200, { access_token: TOKEN, scope: 'repo', token_type: 'bearer' });
          return;
        }
        seen.push(`${req.method} ${url.pathname} ${req.headers.accept} ${req.headers['x-github-api-version']}`);
        if (req.headers.authorization !== `Bearer ${TOKEN}`) {
          json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
          return;
        }
        const repo = (name) => ({
          name, full_name: `octocat/${name}`, owner: { login: 'octocat' }, private: false, archived: false,
          default_branch: 'main', clone_url: `${fakeBase}/octocat/${name}.git`, html_url: `${fakeBase}/octocat/${name}`,
          pushed_at: '2026-01-01T00:00:00Z', permissions: { push: true, pull: true },
        });
        if (url.pathname === '/user') json(200, { login: 'octocat', id: 583231 });
        else if (url.pathname === '/user/repos') json(200, [repo('hello-world'), repo('spoon-knife'), repo('linguist')]);
        else if (/^\/repos\/octocat\/[^/]+\/branches$/.test(url.pathname)) {
          json(200, [{ name: 'main', commit: { sha: BASE }, protected: false }, { name: 'develop', commit: { sha: BASE }, protected: false }]);
        } else if (/^\/repos\/octocat\/[^/]+\/pulls$/.test(url.pathname) && req.method === 'POST') {
          const b = JSON.parse(body);
          pulls.push(b);
          json(201, { number: 1347, html_url: `${fakeBase}/octocat/spoon-knife/pull/1347`, state: 'open' });
        } else json(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      });
    });
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function psql(sql) {
  return execFileSync('psql', [env.db, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' }).trim();
}

before(async () => {
  const port = await freePort();
  fakeBase = `http://127.0.0.1:${port}`;
  env = await setup({
    prefix: 'github',
    replicas: 2,
    env: {
      CREDENTIALS_KEYS: 'k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=',
      OUTBOUND_ALLOWED_HOSTS: `127.0.0.1:${port}`,
      GITHUB_CLIENT_ID: CLIENT_ID,
      GITHUB_CLIENT_SECRET: 'ui-client-secret',
      GITHUB_URL: fakeBase,
      GITHUB_API_URL: fakeBase,
      // Code sessions need a coding worker; none answers here (the test writes the changes).
      AI_WORKER_URL: 'http://127.0.0.1:9',
      AI_WORKER_SECRET: 'ui-worker-secret-0123456789abcdef',
    },
  });
  fake = await startFake(port);
  const context = await newContext(env.browser);
  page = await context.newPage();
  await registerViaUi(page, env.base);
});

after(async () => {
  fake?.close();
  await env?.teardown();
});

test('connect GitHub from the Account page', async () => {
  await page.goto(`${env.base}/account`);
  await page.getByRole('button', { name: 'Connect GitHub' }).click();
  await page.waitForURL(/\/account\?github=connected$/);
  await page.getByText('GitHub connected.').waitFor();
  await page.getByText('as octocat', { exact: false }).waitFor();
  await screenshot(page, 'github-connected');
  assert.ok(seen.every((s) => s.includes('application/vnd.github+json') && s.includes('2022-11-28')), seen.join('\n'));
});

let sessionId;

test('pick a repository and branch with the keyboard; the choice is remembered', async () => {
  await page.goto(`${env.base}/`);
  await page.getByLabel('Work on a GitHub repository').check();
  const search = page.getByRole('combobox', { name: 'Repository' });
  await search.click();
  await search.fill('spoon');
  await until(async () => (await page.locator('.repo-options [role=option]').count()) === 1, 'the search to narrow the list');
  await page.getByRole('listbox', { name: 'Repositories' }).getByRole('option', { name: 'octocat/spoon-knife' }).waitFor();
  await search.press('ArrowDown');
  await search.press('ArrowUp');
  await search.press('Enter');
  await until(async () => (await search.inputValue()) === 'octocat/spoon-knife', 'the repository to be picked');
  const branch = page.getByLabel('Base branch');
  await until(async () => (await branch.inputValue()) === 'main', 'the branches to load');
  await branch.selectOption('develop');
  await screenshot(page, 'github-picker');
  await page.reload();
  await until(async () => (await page.getByLabel('Base branch').inputValue()) === 'develop', 'the remembered branch');
  assert.equal(await page.getByRole('combobox', { name: 'Repository' }).inputValue(), 'octocat/spoon-knife');
  await page.getByLabel('What should the agent do?').fill('Add a note to the README');
  await page.getByRole('button', { name: 'Start session' }).click();
  await page.waitForURL(/\/sessions\/[^/]+$/);
  sessionId = page.url().split('/sessions/')[1];
  const stored = JSON.parse(await page.evaluate(async (id) => JSON.stringify(await (await fetch(`/api/sessions/${id}`)).json()), sessionId));
  assert.equal(stored.repository, `${fakeBase}/octocat/spoon-knife.git`);
  assert.equal(stored.baseBranch, 'develop');
  await page.locator('.branch-badge').waitFor();
  assert.equal(await page.locator('.branch-badge').textContent(), stored.workingBranch);
});

test('the changes as a diff, the pull request, its link on the other replica', async () => {
  // The run cannot reach a worker here: wait for it to end, then record what a worker reports.
  await until(async () => psql(`SELECT status FROM chat_sessions WHERE id = '${sessionId}'`) !== 'running', 'the run to end', 30000);
  const branch = psql(`SELECT working_branch FROM chat_sessions WHERE id = '${sessionId}'`);
  const changes = {
    branch, baseBranch: 'develop', baseCommit: BASE, headCommit: HEAD, truncated: false,
    files: [{ path: 'README.md', status: 'modified', additions: 2, deletions: 1 }, { path: 'src/main.rs', status: 'added', additions: 3, deletions: 0 }],
    diff: [
      'diff --git a/README.md b/README.md', 'index 1..2 100644', '--- a/README.md', '+++ b/README.md',
      '@@ -1,3 +1,4 @@', ' # Spoon-Knife', '-Old line', '+New line', '+A note', ' end',
      'diff --git a/src/main.rs b/src/main.rs', 'new file mode 100644', '--- /dev/null', '+++ b/src/main.rs',
      '@@ -0,0 +1,3 @@', '+fn main() {', '+    println!("hi");', '+}', '',
    ].join('\n'),
  };
  const data = JSON.stringify(changes).replace(/'/g, "''");
  psql(`WITH s AS (UPDATE chat_sessions SET last_seq = last_seq + 1, head_commit = '${HEAD}', base_commit = '${BASE}'
        WHERE id = '${sessionId}' RETURNING id, last_seq)
        INSERT INTO events (chat_session_id, seq, type, data) SELECT id, last_seq, 'changes', '${data}'::jsonb FROM s`);
  await page.goto(`${env.servers[1].url}/sessions/${sessionId}`);
  await page.locator('.diff-table').first().waitFor();
  const rows = await page.locator('.diff-file').first().locator('tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.deepEqual(rows[2], ['2', '', '−', 'Old line']);
  assert.deepEqual(rows[3], ['', '2', '+', 'New line']);
  assert.ok(await page.locator('.diff-file').nth(1).locator('.hljs-keyword').count() > 0, 'the Rust file is highlighted');
  // GitHub's compare view of the working branch, on the connected GitHub host.
  const compare = await page.getByRole('link', { name: 'Compare' }).getAttribute('href');
  assert.match(compare, new RegExp(`^${fakeBase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/octocat/spoon-knife/compare/develop\\.\\.\\.webedt/[0-9a-f]{32}$`));
  await screenshot(page, 'github-changes');
  await page.getByRole('button', { name: 'Create pull request' }).click();
  const link = page.getByRole('link', { name: 'Pull request #1347' });
  await link.waitFor();
  assert.equal(pulls.length, 1);
  assert.equal(pulls[0].head, branch);
  assert.equal(pulls[0].base, 'develop');
  assert.equal(pulls[0].title, 'Add a note to the README');
  await page.goto(`${env.servers[0].url}/sessions/${sessionId}`);
  await page.getByRole('link', { name: 'Pull request #1347' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Create pull request' }).isHidden(), true);
  await screenshot(page, 'github-pull-request');
});
