// HTTP client for the dcmask workbench API (docs/api.md).
// Every /api call carries the X-Dcmask-Token header; plain download links
// carry ?token= instead.

const TOKEN_KEY = 'dcmask.token';

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

let token = null;
let sid = null;
/** The server's limits for this session ({max_upload}), from POST /api/sessions. */
let limits = {};

/** Read the token from ?token= (then hide it from the address bar) or sessionStorage. */
export function initToken() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    token = fromUrl;
    try { sessionStorage.setItem(TOKEN_KEY, fromUrl); } catch { /* storage disabled */ }
    params.delete('token');
    const rest = params.toString();
    // Keep the token out of the visible URL and the history; a reload finds it in sessionStorage.
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  } else {
    try { token = sessionStorage.getItem(TOKEN_KEY); } catch { token = null; }
  }
  return token;
}

export const getToken = () => token;
export const getSid = () => sid;
export const getLimits = () => limits;

/** The session URL prefix, e.g. /api/sessions/SID */
export const sessionPath = (rest = '') => `/api/sessions/${encodeURIComponent(sid)}${rest}`;
export const filePath = (fid, rest = '') => sessionPath(`/files/${encodeURIComponent(fid)}${rest}`);

/** Add token=… to a URL, for <a href> downloads and new tabs that cannot send headers. */
export function withToken(url) {
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}token=${encodeURIComponent(token || '')}`;
}

/**
 * Call the API. opts: {method, json, body, headers, as: 'json'|'text'|'blob'|'response', signal}
 * Throws ApiError with the server's {"error"} message on a 4xx/5xx.
 */
export async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  if (token) headers.set('X-Dcmask-Token', token);
  let body = opts.body;
  if (opts.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(opts.json);
  }
  let res;
  try {
    res = await fetch(path, {
      method: opts.method || (body !== undefined ? 'POST' : 'GET'),
      headers,
      body,
      signal: opts.signal,
      cache: 'no-store',
      keepalive: opts.keepalive,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError('Cannot reach the dcmask server. Is `dcmask serve` still running?', 0);
  }
  if (!res.ok) {
    throw new ApiError(await errorMessage(res), res.status);
  }
  switch (opts.as || 'json') {
    case 'text': return res.text();
    case 'blob': return res.blob();
    case 'response': return res;
    default: {
      const text = await res.text();
      if (!text) return null;
      try { return JSON.parse(text); } catch {
        throw new ApiError(`Unexpected reply from the server for ${path}`, res.status);
      }
    }
  }
}

async function errorMessage(res) {
  let text = '';
  try { text = await res.text(); } catch { /* ignore */ }
  if (text) {
    try {
      const j = JSON.parse(text);
      if (j && typeof j.error === 'string' && j.error) return j.error;
    } catch { /* not JSON */ }
    if (text.length < 300) return text.trim();
  }
  if (res.status === 401 || res.status === 403) {
    return 'Access refused: the access token is missing or wrong. Open the link printed by `dcmask serve`.';
  }
  return `Server error ${res.status} ${res.statusText || ''}`.trim();
}

/** POST /api/sessions */
export async function createSession() {
  const r = await api('/api/sessions', { method: 'POST' });
  sid = r.id;
  limits = r.limits || {};
  return sid;
}

/** DELETE /api/sessions/SID on page unload; keepalive lets it outlive the page. */
export function dropSession() {
  if (!sid || !token) return;
  try {
    fetch(sessionPath(), {
      method: 'DELETE',
      headers: { 'X-Dcmask-Token': token },
      keepalive: true,
    }).catch(() => {});
  } catch { /* page is going away */ }
  sid = null;
}
