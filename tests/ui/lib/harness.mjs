// Test harness: fresh databases, real webedt-api processes, the system Chromium, screenshots.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.WEBEDT_API_BIN || path.join(ROOT, 'target/debug/webedt-api');
export const SHOTS = path.join(ROOT, 'target/ui-screenshots');
export const LOGS = path.join(ROOT, 'target/ui-logs');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Creates an empty database on the cluster of $DATABASE_URL and returns its URL. */
export function createDatabase(prefix = 'ui') {
  const admin = process.env.DATABASE_URL;
  if (!admin) throw new Error('DATABASE_URL is unset: run the browser tests with scripts/test-ui');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  execFileSync('psql', [admin, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts target/debug/webedt-api on a free port against `db`; resolves once /ready says 200.
 * Returns { url, port, name, proc, kill(signal), stop(), exited }.
 */
export async function startServer({ db, name = 'replica', env = {}, port } = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run cargo build -p webedt-api`);
  const p = port || await freePort();
  mkdirSync(LOGS, { recursive: true });
  const log = createWriteStream(path.join(LOGS, `${name}.log`), { flags: 'a' });
  const proc = spawn(BIN, [], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: db,
      SESSION_SECRET: 'ui-test-secret-0123456789abcdef0123456789',
      HOST: '127.0.0.1',
      PORT: String(p),
      CONTAINER_ID: name,
      COOKIE_SECURE: 'false',
      LB_DRAIN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '20000',
      DEMO_EVENT_COUNT: '40',
      DEMO_EVENT_DELAY_MS: '100',
      // Every browser test registers its accounts from 127.0.0.1: raise the per-IP limit.
      LIMIT_REGISTRATIONS_PER_IP_HOUR: '1000',
      LOG_FORMAT: 'json',
      RUST_LOG: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${p}`;
  const server = {
    url,
    port: p,
    name,
    proc,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), 25000);
      });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
  const deadline = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}; see ${LOGS}/${name}.log`);
    try {
      const res = await fetch(`${url}/ready`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${name} not ready within 60 s; see ${LOGS}/${name}.log`);
    }
    await sleep(100);
  }
  return server;
}

/** The system Chromium (Debian's), never a downloaded browser; a fresh profile per launch. */
export async function launchBrowser() {
  const profile = mkdtempSync(path.join(tmpdir(), 'webedt-ui-profile-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      '--disable-dev-shm-usage',
    ],
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return browser;
}

/** Every console error and uncaught exception of every page, across the test file. */
export const problems = [];

/**
 * Expected: HTTP errors the UI handles (401 before sign-in, 404 of another user's session, 409,
 * 422, the 403 of a wrong current password, the 403 a non-admin gets from the admin API). Transport errors the tests cause on purpose (drops,
 * killed replicas) have no response and are not recorded. Anything else — an exception, a CSP
 * violation, a 5xx — fails the file.
 */
const EXPECTED = /^http (401|404|409|422) |^http 403 POST \/api\/auth\/password$|^http 403 GET \/api\/admin\/users$/;

export function unexpectedProblems() {
  return problems.filter((p) => !EXPECTED.test(p));
}

/** A browser context that records console errors and uncaught exceptions of its pages. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.problems = [];
  context.on('page', (page) => {
    watchPage(page, context.problems);
    watchPage(page, problems);
  });
  return context;
}

export function watchPage(page, problems) {
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (msg) => {
    // Failed loads are reported (with their URL) by the response listener below.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`http ${res.status()} ${res.request().method()} ${new URL(res.url()).pathname}`);
  });
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

let counter = 0;
export function uniqueEmail(tag = 'user') {
  counter += 1;
  return `${tag}-${Date.now().toString(36)}-${counter}@example.test`;
}

export const PASSWORD = 'correct horse battery staple';

/** Registers through the UI's form; ends on the home page. */
export async function registerViaUi(page, base, { email = uniqueEmail(), password = PASSWORD, displayName } = {}) {
  await page.goto(`${base}/register`);
  await page.getByLabel('Email').fill(email);
  if (displayName) await page.getByLabel('Display name (optional)').fill(displayName);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'New session' }).waitFor();
  return { email, password };
}

/** Starts a session from the home page; resolves with its id once the chat view shows. */
export async function startSessionViaUi(page, prompt) {
  await page.getByLabel('What should the agent do?').fill(prompt);
  await page.getByRole('button', { name: 'Start session' }).click();
  await page.waitForURL(/\/sessions\/[^/]+$/);
  return page.url().split('/sessions/')[1];
}

/** Every stored event of a session, through the page's own cookie. */
export async function storedEvents(page, id) {
  return page.evaluate(async (sid) => {
    const all = [];
    let after = 0;
    for (;;) {
      const res = await fetch(`/api/sessions/${sid}/events?after=${after}&limit=500`);
      const { events } = await res.json();
      all.push(...events);
      if (events.length < 500) return all;
      after = events[events.length - 1].seq;
    }
  }, id);
}

/** What the transcript shows: applied seqs count/last, assistant texts, tool and run-end items. */
export async function renderedTranscript(page) {
  return page.evaluate(() => {
    const ol = document.querySelector('ol.transcript');
    if (!ol) return null;
    return {
      count: Number(ol.dataset.count),
      lastSeq: Number(ol.dataset.lastSeq),
      users: [...ol.querySelectorAll('.msg-user .msg-text')].map((e) => e.textContent),
      assistants: [...ol.querySelectorAll('.msg-assistant .md')].map((e) => e.textContent),
      tools: ol.querySelectorAll('.tool-item').length,
      ends: [...ol.querySelectorAll('.run-end')].map((e) => e.className),
    };
  });
}

/**
 * The assistant messages the stored events describe (consecutive deltas joined), rendered with
 * the app's own Markdown module inside the page, as text: what the transcript must show.
 */
export async function expectedAssistantTexts(page, events) {
  const raws = [];
  let current = null;
  for (const e of events) {
    if (e.type === 'assistant_message') {
      if (current === null) current = '';
      current += e.data.text;
    } else if (['user_message', 'run_started', 'tool_use', 'tool_result', 'completed', 'error', 'interrupted'].includes(e.type)) {
      if (current !== null) raws.push(current);
      current = null;
    }
  }
  if (current !== null) raws.push(current);
  return page.evaluate(async (texts) => {
    const src = document.querySelector('script[type=module]').src;
    const md = await import(src.replace(/app\.js$/, 'markdown.js'));
    return texts.map((t) => {
      const div = document.createElement('div');
      div.append(md.renderMarkdown(t));
      return div.textContent;
    });
  }, raws);
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeout` ms. */
export async function until(fn, what, timeout = 15000, every = 50) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

/** Records every text the chat's stream-state line shows (to see "Reconnecting…" flash by). */
export async function recordStreamStates(page) {
  await page.locator('.stream-state').waitFor({ state: 'attached' });
  await page.evaluate(() => {
    window.__streamStates = [];
    const watch = () => {
      const el = document.querySelector('.stream-state');
      if (!el) return;
      new MutationObserver(() => window.__streamStates.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    };
    watch();
  });
}

export const streamStates = (page) => page.evaluate(() => window.__streamStates || []);

export const chatStatus = (page) => page.locator('#chat-status').textContent();

/**
 * The transcript against the stored log, after the run is over: every event applied exactly
 * once (count and last seq match), same user prompts, same assistant text, same tools.
 */
export async function assertTranscriptMatchesLog(assert, page, id) {
  await sleep(250); // the last Markdown render is batched
  const events = await storedEvents(page, id);
  const shown = await renderedTranscript(page);
  assert.ok(events.length > 0, 'the session has events');
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'stored seqs are 1..n');
  assert.equal(shown.count, events.length, `rendered ${shown.count} events, stored ${events.length}`);
  assert.equal(shown.lastSeq, events[events.length - 1].seq);
  assert.deepEqual(shown.users, events.filter((e) => e.type === 'user_message').map((e) => e.data.text));
  assert.deepEqual(shown.assistants, await expectedAssistantTexts(page, events), 'assistant text: no duplicate, no gap');
  assert.equal(shown.tools, events.filter((e) => e.type === 'tool_use').length);
  return { events, shown };
}

/** A started server set-up shared by a test file: one database, N replicas, one browser. */
export async function setup({ replicas = 1, env = {}, prefix = 'ui' } = {}) {
  const db = createDatabase(prefix);
  const servers = [];
  for (let i = 0; i < replicas; i += 1) {
    servers.push(await startServer({ db, name: `${prefix}-${String.fromCharCode(97 + i)}`, env }));
  }
  const browser = await launchBrowser();
  return {
    db,
    servers,
    browser,
    base: servers[0].url,
    async teardown() {
      await browser.close().catch(() => {});
      await Promise.all(servers.map((s) => s.stop()));
      const unexpected = unexpectedProblems();
      if (unexpected.length) throw new Error(`unexpected browser console errors:\n${unexpected.join('\n')}`);
    },
  };
}
