// History-API routing. Routes are patterns such as '/sessions/:id'; a page's render function
// may return a cleanup function, called before the next page renders (it closes streams).

const routes = [];
let current = { cleanup: null, token: 0 };
let renderFn = null;

export function route(pattern, handler, options = {}) {
  const names = [];
  const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  })}/?$`);
  routes.push({ pattern, regex, names, handler, options });
}

export function match(pathname) {
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (m) {
      const params = {};
      r.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
      return { ...r, params };
    }
  }
  return null;
}

export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, location.origin);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  const target = url.pathname + url.search + url.hash;
  if (replace) history.replaceState(null, '', target);
  else if (target !== location.pathname + location.search + location.hash) history.pushState(null, '', target);
  render();
}

/** Runs the current URL's route. `onRoute(match, url, token)` does the actual work. */
export async function render() {
  if (!renderFn) return;
  if (current.cleanup) {
    try {
      current.cleanup();
    } catch (e) {
      console.error(e);
    }
  }
  current.token += 1;
  const token = current.token;
  current.cleanup = null;
  const url = new URL(location.href);
  const cleanup = await renderFn(match(url.pathname), url, () => token !== current.token);
  if (token === current.token) current.cleanup = typeof cleanup === 'function' ? cleanup : null;
  else if (typeof cleanup === 'function') cleanup();
}

export function start(onRoute) {
  renderFn = onRoute;
  window.addEventListener('popstate', () => render());
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
      || event.shiftKey || event.altKey) return;
    const a = event.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')
      || url.pathname.startsWith('/health')) return;
    // In-page anchors (the skip link) are the browser's job.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  return render();
}
