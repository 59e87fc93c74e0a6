// Sign in / register, account, admin status, the security headers, storage, small screens and
// dark mode.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  setup, newContext, registerViaUi, startSessionViaUi, screenshot, until, uniqueEmail, PASSWORD, BIN,
} from './lib/harness.mjs';

let env;
const ADMIN = uniqueEmail('admin');

before(async () => {
  env = await setup({ prefix: 'pages', env: { DEMO_EVENT_COUNT: '12', DEMO_EVENT_DELAY_MS: '40' } });
});

after(async () => {
  await env?.teardown();
});

test('HTML has the security headers; assets are versioned, long-cached and nosniff; /api stays JSON', async () => {
  for (const path of ['/', '/login', '/sessions/123', '/account', '/admin']) {
    const res = await fetch(`${env.base}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<meta[^>]+http-equiv/i, 'headers, not meta tags');
  }
  const html = await (await fetch(`${env.base}/`)).text();
  const script = html.match(/src="(\/assets\/[0-9a-f]{16}\/js\/app\.js)"/)[1];
  const asset = await fetch(`${env.base}${script}`);
  assert.equal(asset.status, 200);
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(asset.headers.get('x-content-type-options'), 'nosniff');
  assert.match(asset.headers.get('content-type'), /^text\/javascript/);
  const api = await fetch(`${env.base}/api/does-not-exist`);
  assert.equal(api.status, 404);
  assert.deepEqual((await api.json()).error.code, 'not_found');
  assert.equal((await fetch(`${env.base}/health/nope`)).status, 404);
});

test('the CSP is enforced: an injected inline script does not run', async () => {
  // A bare context: the refusal logs a console error on purpose.
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.base}/login`);
  const result = await page.evaluate(() => new Promise((resolve) => {
    document.addEventListener('securitypolicyviolation', (e) => resolve({ ran: Boolean(window.injected), directive: e.violatedDirective }));
    const s = document.createElement('script');
    s.textContent = 'window.injected = true';
    document.body.append(s);
    setTimeout(() => resolve({ ran: Boolean(window.injected), directive: null }), 2000);
  }));
  assert.deepEqual(result, { ran: false, directive: 'script-src-elem' });
  await context.close();
});

test('register and sign-in forms: validation, errors, success; no tokens in storage', async () => {
  const context = await newContext(env.browser);
  const page = await context.newPage();
  await page.goto(`${env.base}/sessions/whatever`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByRole('heading', { name: 'Sign in to WebEDT' }).waitFor();
  await screenshot(page, 'login');

  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(ADMIN);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  assert.equal(await page.getByText('Use at least 8 characters.').isVisible(), true);
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'register-error');
  await page.getByLabel('Display name (optional)').fill('Ada Admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  // Back to where the deep link wanted to go.
  await page.waitForURL(/\/sessions\/whatever$/);
  await page.getByRole('heading', { name: 'Session not found' }).waitFor();

  const storage = await page.evaluate(() => ({
    local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
  }));
  assert.deepEqual(storage, { local: 0, session: 0, cookie: '' }, 'the session cookie is HttpOnly; nothing stored in JS');

  // Sign out, a wrong password, then the right one.
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.getByRole('heading', { name: 'Sign in to WebEDT' }).waitFor();
  await page.getByLabel('Email').fill(ADMIN);
  await page.getByLabel('Password').fill('wrong password!');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Wrong email or password.').waitFor();
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'New session' }).waitFor();
  await screenshot(page, 'home');

  // A second registration with the same email is refused.
  const other = await newContext(env.browser);
  const p2 = await other.newPage();
  await p2.goto(`${env.base}/register`);
  await p2.getByLabel('Email').fill(ADMIN);
  await p2.getByLabel('Password').fill(PASSWORD);
  await p2.getByRole('button', { name: 'Create account' }).click();
  await p2.getByText(/already exists/).waitFor();
  await other.close();
  await context.close();
});

test('account: change password, list and revoke sessions, sign out', async () => {
  const email = uniqueEmail('acct');
  const laptop = await newContext(env.browser);
  const page = await laptop.newPage();
  await registerViaUi(page, env.base, { email, displayName: 'Account Owner' });
  // A second device signs in.
  const phone = await newContext(env.browser, { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1' });
  const p2 = await phone.newPage();
  await p2.goto(`${env.base}/login`);
  await p2.getByLabel('Email').fill(email);
  await p2.getByLabel('Password').fill(PASSWORD);
  await p2.getByRole('button', { name: 'Sign in' }).click();
  await p2.getByRole('heading', { name: 'New session' }).waitFor();

  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { name: 'Account' }).waitFor();
  await until(async () => (await page.locator('.device').count()) === 2, 'two devices listed');
  assert.equal(await page.locator('.device .badge-current').count(), 1);
  await screenshot(page, 'account');
  await page.getByRole('list', { name: 'Signed-in devices' }).scrollIntoViewIfNeeded();
  await screenshot(page, 'account-devices');

  // Revoke the phone: its next request is unauthorized and it lands on the sign-in page.
  await page.getByRole('button', { name: /^Revoke the session of Safari on iOS/ }).click();
  await until(async () => (await page.locator('.device').count()) === 1, 'one device left');
  await p2.getByRole('link', { name: 'Account' }).click();
  await p2.getByRole('heading', { name: 'Sign in to WebEDT' }).waitFor({ timeout: 10000 });

  // Change the password (wrong current one first).
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password', { exact: true }).fill('a brand new password');
  await page.getByLabel('Repeat new password').fill('a brand new password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('This is not your current password.').waitFor();
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Password changed.', { exact: false }).waitFor();

  // Sign out from the account page; the new password works.
  await page.locator('.account-page').getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('heading', { name: 'Sign in to WebEDT' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a brand new password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'New session' }).waitFor();
  await laptop.close();
  await phone.close();
});

test('admin page: replica status, users (disable/enable) and the audit log, for admins only', async () => {
  // Admin rights come from the command an operator runs, not from registering an address.
  execFileSync(BIN, ['admin', 'grant', ADMIN], {
    env: { PATH: process.env.PATH, DATABASE_URL: env.db, LOG_FORMAT: 'pretty', RUST_LOG: 'warn' },
  });
  const context = await newContext(env.browser);
  const page = await context.newPage();
  await page.goto(`${env.base}/login`);
  await page.getByLabel('Email').fill(ADMIN);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Status' }).click();
  await page.getByRole('heading', { name: 'Replica status' }).waitFor();
  await page.locator('.container-id').waitFor();
  assert.equal(await page.locator('.container-id').textContent(), env.servers[0].name);
  assert.equal(await page.locator('#replica').textContent(), env.servers[0].name, 'footer shows the replica');
  const headers = await page.locator('.pool-table th').allTextContents();
  assert.deepEqual(headers, ['Total', 'Idle', 'In Use', 'Waiting', 'Min', 'Max']);
  const cells = await page.locator('.pool-table td').allTextContents();
  assert.ok(cells.every((c) => /^\d+$/.test(c)), `pool numbers: ${cells}`);
  await screenshot(page, 'admin');

  // A non-admin gets no Status link, and the admin API refuses them whatever the page does.
  const user = await newContext(env.browser);
  const p2 = await user.newPage();
  const { email: victim } = await registerViaUi(p2, env.base);
  assert.equal(await p2.getByRole('link', { name: 'Status' }).count(), 0);
  const refused = await p2.evaluate(async () => (await fetch('/api/admin/users')).status);
  assert.equal(refused, 403);

  // Users: search finds the new account; disabling it signs it out at once.
  await page.reload();
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  await page.getByLabel('Search users').fill(victim);
  const row = page.locator(`tr[data-email="${victim}"]`);
  await row.waitFor();
  page.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Enable' }).waitFor();
  const after = await p2.evaluate(async () => (await fetch('/api/auth/session')).status);
  assert.equal(after, 401, 'the disabled user is signed out');
  await row.getByRole('button', { name: 'Enable' }).click();
  await row.getByRole('button', { name: 'Disable' }).waitFor();

  // The audit log shows the admin's actions, filterable by action.
  await page.getByLabel('Filter by action').selectOption('user_disabled');
  await until(async () => (await page.locator('.audit-entry').count()) === 1, 'one user_disabled entry');
  assert.match(await page.locator('.audit-entry').first().textContent(), /user_disabled/);
  await screenshot(page, 'admin-users');
  await user.close();
  await context.close();
});

test('375 px wide and dark mode: usable, nothing overflows, keyboard skip link first', async () => {
  const context = await newContext(env.browser, { viewport: { width: 375, height: 740 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${env.base}/register`);
  await screenshot(page, 'mobile-dark-register');
  await registerViaUi(page, env.base);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok((await overflow()) <= 0, 'no horizontal scroll on home');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(17, 19, 23)', 'dark background');
  await screenshot(page, 'mobile-dark-home');
  await startSessionViaUi(page, 'Phone-sized session with a long unbroken word: supercalifragilisticexpialidocious_and_more_and_more');
  await until(async () => (await page.locator('#chat-status').textContent()) === 'completed', 'run completes', 20000);
  assert.ok((await overflow()) <= 0, 'no horizontal scroll in chat');
  assert.equal(await page.locator('.sidebar').isVisible(), false, 'the chat gets the whole width');
  assert.equal(await page.getByRole('link', { name: 'Back to sessions' }).isVisible(), true);
  assert.equal(await page.getByLabel('Follow-up message').isVisible(), true);
  await screenshot(page, 'mobile-dark-chat');

  const light = await newContext(env.browser, { viewport: { width: 375, height: 740 }, colorScheme: 'light' });
  const p2 = await light.newPage();
  await p2.goto(`${env.base}/login`);
  await p2.getByLabel('Email').waitFor();
  // The skip link is the first thing keyboard users reach, and it moves focus to the content.
  const first = await p2.evaluate(() => document.querySelector('a[href], button, input, select, textarea, [tabindex="0"]').textContent);
  assert.equal(first, 'Skip to content');
  await p2.locator('.skip-link').focus();
  await p2.keyboard.press('Enter');
  await until(async () => (await p2.evaluate(() => document.activeElement.id)) === 'main', 'focus on the main content');
  assert.equal(new URL(p2.url()).pathname, '/login');
  assert.equal(await p2.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(246, 247, 249)');
  await screenshot(p2, 'mobile-light-login');
  await light.close();
  await context.close();
});
