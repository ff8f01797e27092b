// The admin Studio: a hash router over the pages. Routes: #/ (endpoints), #/new, #/endpoints/NAME, #/reviews/NAME.
import { h, replace } from './dom.js';
import { keys, call, ApiError } from './api.js';
import { listPage } from './list.js';
import { createPage } from './create.js';
import { endpointPage } from './endpoint.js';
import { reviewPage } from './review.js';
import { keyForm } from './keyform.js';

const view = document.getElementById('view');
const signOut = document.getElementById('sign-out');
let generation = 0;

function adminGate(error) {
  replace(view, keyForm('Admin key', 'The server printed it at start ("studio admin key: dbk_…"). It stays in this tab only.', async key => {
    try {
      await call('GET', '/templates', { key });
      keys.setAdmin(key);
      route();
    } catch (e) {
      adminGate(e instanceof ApiError && (e.status === 401 || e.status === 403) ? 'That key is not an admin key.' : e.message);
    }
  }, error));
}

async function route() {
  const current = ++generation;
  const isActive = () => current === generation;
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(p => p.length > 0).map(decodeURIComponent);
  signOut.hidden = !keys.admin() && !Object.keys(sessionStorage).length;
  try {
    if (parts[0] === 'reviews' && parts[1]) return await reviewPage(view, parts[1], { isActive, rerender: route });
    if (!keys.admin()) return adminGate();
    if (parts[0] === 'new') return await createPage(view, { isActive });
    if (parts[0] === 'endpoints' && parts[1]) return await endpointPage(view, parts[1], { isActive });
    return await listPage(view, { isActive });
  } catch (e) {
    if (!isActive()) return;
    if (e instanceof ApiError && e.status === 401) return adminGate('The server refused the key: ' + e.message);
    replace(view, h('div', { class: 'card' }, h('h1', null, 'Something went wrong'), h('p', { class: 'error' }, e.message)));
  }
}

signOut.addEventListener('click', () => { keys.forget(); location.hash = '#/'; route(); });
window.addEventListener('hashchange', route);
route();
