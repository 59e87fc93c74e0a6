// Boot: who is signed in, the routes, the chrome (top bar, sidebar, footer) around each page.

import { api, on, post, describe } from './api.js';
import { h, mount } from './dom.js';
import { route, start, navigate, render } from './router.js';
import { setReplica, toast, title } from './ui.js';
import { SessionList } from './components/session-list.js';
import * as loginPage from './pages/login.js';
import * as homePage from './pages/home.js';
import * as chatPage from './pages/chat.js';
import * as accountPage from './pages/account.js';
import * as adminPage from './pages/admin.js';
import * as sharedPage from './pages/shared.js';

const state = { user: null, sessionList: null };
const main = document.getElementById('main');
const sidebar = document.getElementById('sidebar');
const nav = document.getElementById('topnav');
let firstRender = true;

on('replica', setReplica);
on('unauthorized', () => {
  if (!state.user) return;
  setUser(null);
  toast('Your session ended. Please sign in again.', 'warn');
  navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
});

function setUser(user) {
  state.user = user;
  renderNav();
  if (user && !state.sessionList) {
    state.sessionList = new SessionList(sidebar);
    state.sessionList.start();
  } else if (!user && state.sessionList) {
    state.sessionList.stop();
    state.sessionList = null;
    sidebar.replaceChildren();
  }
  sidebar.hidden = !user;
}

async function signOut() {
  try {
    await post('/api/auth/logout');
  } catch (e) {
    if (e.status !== 401) {
      toast(describe(e), 'error');
      return;
    }
  }
  setUser(null);
  navigate('/login', { replace: true });
}

function renderNav() {
  const link = (href, text) => h('a', { href, text, class: 'nav-link', dataset: { nav: href } });
  if (!state.user) {
    mount(nav, link('/login', 'Sign in'), link('/register', 'Register'));
  } else {
    const u = state.user;
    mount(nav,
      link('/', 'Sessions'),
      link('/account', 'Account'),
      u.isAdmin ? link('/admin', 'Status') : null,
      h('span', { class: 'nav-user', title: u.email, text: u.displayName || u.email }),
      h('button', { type: 'button', class: 'button-quiet', text: 'Sign out', onClick: signOut }));
  }
  markCurrentNav();
}

function markCurrentNav() {
  for (const a of nav.querySelectorAll('a[data-nav]')) {
    const href = a.dataset.nav;
    const active = href === '/' ? location.pathname === '/' || location.pathname.startsWith('/sessions/')
      : location.pathname.startsWith(href);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

const ctx = () => ({
  get user() { return state.user; },
  setUser,
  navigate,
  sessionList: state.sessionList,
});

route('/login', (el, c) => loginPage.render(el, c, 'login'), { public: true, name: 'auth' });
route('/register', (el, c) => loginPage.render(el, c, 'register'), { public: true, name: 'auth' });
route('/', (el, c) => homePage.render(el, c), { name: 'home' });
route('/sessions/:id', (el, c) => chatPage.render(el, c), { name: 'chat' });
route('/account', (el, c) => accountPage.render(el, c), { name: 'account' });
route('/admin', (el, c) => adminPage.render(el, c), { name: 'admin' });
// A share link's read-only page: signed in or not, it looks the same.
route('/shared', (el, c) => sharedPage.render(el, c), { anyone: true, name: 'shared' });

function notFound(el) {
  title('Not found');
  mount(el, h('section', { class: 'page narrow' },
    h('h1', { text: 'Page not found' }),
    h('p', { text: 'There is nothing at this address.' }),
    h('p', {}, h('a', { href: '/', text: 'Go to your sessions' }))));
}

async function onRoute(matched, url, isStale) {
  const name = matched ? matched.options.name : 'notfound';
  document.body.dataset.route = name;
  if (matched && !matched.options.public && !matched.options.anyone && !state.user) {
    navigate(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
    return null;
  }
  if (matched && matched.options.public && state.user) {
    navigate(url.searchParams.get('next') || '/', { replace: true });
    return null;
  }
  markCurrentNav();
  if (state.sessionList) state.sessionList.setActive(matched && matched.params.id);
  const c = { ...ctx(), params: matched ? matched.params : {}, url, isStale };
  let cleanup = null;
  if (!matched) notFound(main);
  else cleanup = await matched.handler(main, c);
  if (!firstRender && !isStale()) {
    const heading = main.querySelector('h1');
    (heading || main).setAttribute('tabindex', '-1');
    (heading || main).focus({ preventScroll: true });
  }
  firstRender = false;
  return cleanup;
}

async function boot() {
  try {
    const session = await api('/api/auth/session', { quiet401: true });
    setUser(session.user);
  } catch (e) {
    if (e.status !== 401) {
      mount(main, h('section', { class: 'page narrow' },
        h('h1', { text: 'WebEDT is unavailable' }),
        h('p', { text: describe(e) }),
        h('button', { type: 'button', text: 'Retry', onClick: () => location.reload() })));
      return;
    }
    setUser(null);
  }
  await start(onRoute);
}

window.addEventListener('webedt:rerender', () => render());
boot();
