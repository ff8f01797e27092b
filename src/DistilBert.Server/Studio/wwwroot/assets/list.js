// The endpoint list with live figures (polled).
import { h, replace, formatMs, link } from './dom.js';
import { keys, call } from './api.js';

const POLL_MS = 3000;

export async function listPage(view, { isActive }) {
  const body = h('tbody');
  const updated = h('span', { class: 'muted' });
  replace(view,
    h('div', { class: 'row heading-row' }, h('div', null, h('h1', null, 'Endpoints'), updated),
      h('div', { class: 'actions' }, h('a', { href: '#/new', class: 'button' }, 'New endpoint'))),
    h('section', { class: 'card' }, h('table', { class: 'endpoints' },
      h('thead', null, h('tr', null, h('th', null, 'name'), h('th', null, 'template'), h('th', null, 'model'), h('th', null, 'review'),
        h('th', { class: 'num' }, 'requests'), h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p99'), h('th', { class: 'num' }, 'held'))),
      body)));

  async function refresh() {
    const { data } = await call('GET', '/endpoints', { key: keys.admin() });
    if (!isActive()) return;
    if (data.length === 0) {
      replace(body, h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No endpoint yet. ', h('a', { href: '#/new' }, 'Create one from a template.'))));
    } else {
      replace(body, data.map(endpoint => {
        const stats = endpoint.stats ?? {};
        return h('tr', { dataset: { endpoint: endpoint.name } },
          h('td', null, h('a', { href: link('endpoints', endpoint.name) }, endpoint.name)),
          h('td', null, endpoint.template ?? endpoint.task ?? ''),
          h('td', null, endpoint.model ?? ''),
          h('td', null, endpoint.review?.enabled ? `${endpoint.review.mode} < ${endpoint.review.threshold}` : 'off'),
          h('td', { class: 'num requests' }, String(stats.requests ?? 0)),
          h('td', { class: 'num' }, formatMs(stats.p50Ms)),
          h('td', { class: 'num' }, formatMs(stats.p99Ms)),
          h('td', { class: 'num held' }, stats.held ? h('a', { href: link('reviews', endpoint.name) }, String(stats.held)) : '0'));
      }));
    }
    updated.textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  await refresh();
  (async function poll() {
    while (true) {
      await new Promise(resolve => setTimeout(resolve, POLL_MS));
      if (!isActive()) return;
      try { await refresh(); } catch (e) { updated.textContent = 'update failed: ' + e.message; }
    }
  })();
}
