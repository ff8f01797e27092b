// The Studio's one door to the server: the JSON API under /studio/api, with the key as a Bearer token.

const ADMIN_KEY = 'distilbert.studio.adminKey';
const REVIEW_KEY = 'distilbert.studio.reviewKey.';

export const keys = {
  admin: () => sessionStorage.getItem(ADMIN_KEY),
  setAdmin: key => sessionStorage.setItem(ADMIN_KEY, key),
  reviewer: endpoint => sessionStorage.getItem(REVIEW_KEY + endpoint),
  setReviewer: (endpoint, key) => sessionStorage.setItem(REVIEW_KEY + endpoint, key),
  /** The key that may read an endpoint's review queue: its reviewer key, else the admin key. */
  forReview: endpoint => sessionStorage.getItem(REVIEW_KEY + endpoint) ?? sessionStorage.getItem(ADMIN_KEY),
  forget() {
    for (const name of Object.keys(sessionStorage))
      if (name === ADMIN_KEY || name.startsWith(REVIEW_KEY)) sessionStorage.removeItem(name);
  },
};

/** A refused request: the status, the server's detail (which names the field) and the field's JSON path. */
export class ApiError extends Error {
  constructor(status, detail, field, retryAfter) {
    super(detail);
    this.status = status;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

/** Calls the API; answers {status, data} for 2xx and throws ApiError otherwise. */
export async function call(method, path, { body, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = 'Bearer ' + key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch('/studio/api' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'the server did not answer (' + e.message + ')');
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const detail = data?.detail ?? data?.title ?? (text || response.statusText || 'HTTP ' + response.status);
    throw new ApiError(response.status, detail, data?.field, response.headers.get('Retry-After'));
  }
  return { status: response.status, data };
}

/** Fetches a file answer (an export) and hands it to the browser as a download. */
export async function download(path, key, fileName) {
  const response = await fetch('/studio/api' + path, { headers: { Authorization: 'Bearer ' + key } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail ?? detail; } catch { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  const url = URL.createObjectURL(await response.blob());
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const enc = encodeURIComponent;
