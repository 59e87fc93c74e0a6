// The JSON API client. The HttpOnly session cookie authenticates every call (nothing is kept
// in localStorage); the browser adds Sec-Fetch-Site/Origin, which the API's CSRF check wants.

export class ApiError extends Error {
  constructor(status, code, message, { field, retryAfter } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

const listeners = { replica: [], unauthorized: [] };

/** `replica`: every response's X-Container-ID; `unauthorized`: the session ended. */
export function on(event, fn) {
  listeners[event].push(fn);
}

/** Records which replica answered (shown in the footer). */
export function noteResponse(res) {
  const id = res.headers.get('X-Container-ID');
  if (id) for (const fn of listeners.replica) fn(id);
}

/**
 * api('/api/sessions', { method: 'POST', body: {...} }) → parsed JSON (null for 204).
 * Throws ApiError; `status` 0 / code `network` when the request never got an answer.
 * `quiet401`: do not broadcast `unauthorized` (the boot check and the login form use it).
 */
export async function api(path, { method = 'GET', body, signal, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and retry.');
  }
  noteResponse(res);
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const retryAfter = Number(res.headers.get('Retry-After')) || undefined;
    const error = new ApiError(res.status, err.code || `http_${res.status}`,
      err.message || res.statusText || 'Request failed', { field: err.field, retryAfter });
    if (res.status === 401 && !quiet401) for (const fn of listeners.unauthorized) fn(error);
    throw error;
  }
  return data;
}

export const post = (path, body = {}, opts = {}) => api(path, { ...opts, method: 'POST', body });
export const patch = (path, body, opts = {}) => api(path, { ...opts, method: 'PATCH', body });
export const del = (path, opts = {}) => api(path, { ...opts, method: 'DELETE' });
export const put = (path, body, opts = {}) => api(path, { ...opts, method: 'PUT', body });

/** A human sentence for an error, whatever it is. */
export function describe(error) {
  if (error instanceof ApiError) {
    if (error.code === 'rate_limited' && error.retryAfter) {
      return `Too many attempts. Try again in ${error.retryAfter} s.`;
    }
    return error.message;
  }
  return String((error && error.message) || error);
}

let providersPromise = null;
/** `/api/providers`, fetched once; [] when the API has none (the picker then hides). */
export function providers() {
  if (!providersPromise) {
    providersPromise = api('/api/providers')
      .then((d) => (d && Array.isArray(d.providers) ? d.providers : []))
      .catch(() => {
        providersPromise = null;
        return [];
      });
  }
  return providersPromise;
}
