// One endpoint: its settings and figures, the test run, share links, its review queue and its training-data export.
import { h, replace, formatMs, link } from './dom.js';
import { keys, call, download, enc } from './api.js';
import { taskOf } from './render.js';
import { testRun } from './testrun.js';

/** The training-data format of each task's corrections (what `distilbert train` reads). */
export const EXPORTS = {
  sentiment: { format: 'tsv', extension: 'tsv', reader: 'distilbert train classify' },
  entities: { format: 'conll', extension: 'conll', reader: 'distilbert train ner' },
  'question-answering': { format: 'squad', extension: 'json', reader: 'distilbert train qa' },
};

export function exportButton(name, task, key, report) {
  const kind = EXPORTS[task];
  if (!kind) return h('p', { class: 'muted' }, 'This task\'s outputs are not reviewed into training data.');
  return h('button', {
    type: 'button', class: 'quiet export',
    onclick: async () => {
      try { await download(`/endpoints/${enc(name)}/export?format=${kind.format}`, key, `${name}.${kind.extension}`); }
      catch (e) { report(e.message); }
    },
  }, `Export reviewed items (${kind.format.toUpperCase()}, for ${kind.reader})`);
}

export async function endpointPage(view, name, { isActive }) {
  const key = keys.admin();
  const [{ data: endpoint }, { data: templates }] = await Promise.all([
    call('GET', `/endpoints/${enc(name)}`, { key }),
    call('GET', '/templates', { key }),
  ]);
  if (!isActive()) return;
  const template = templates.find(t => t.id === endpoint.template);
  const task = taskOf(endpoint.template ?? endpoint.task);
  const examples = endpoint.examples ?? template?.examples ?? [];
  const message = h('p', { class: 'status', role: 'status' });
  const report = text => { message.className = 'status error'; message.textContent = text; };

  const run = testRun({
    task, examples, isActive,
    callPath: `/studio/api/endpoints/${enc(name)}/run`,
    run: body => call('POST', `/endpoints/${enc(name)}/run`, { key, body }),
    pollResult: id => call('GET', `/results/${enc(id)}`, { key }),
  });

  const stats = endpoint.stats ?? {};
  const security = endpoint.security ?? {};
  const review = endpoint.review ?? {};
  const shareList = h('ul', { class: 'shares' });

  async function loadShares() {
    const { data } = await call('GET', `/endpoints/${enc(name)}/shares`, { key });
    if (!isActive()) return;
    if (data.length === 0) return replace(shareList, h('li', { class: 'muted' }, 'No share link.'));
    replace(shareList, data.map(share => {
      const url = `${location.origin}/studio/share/${enc(share.token)}`;
      return h('li', { dataset: { token: share.token } }, h('a', { href: url, class: 'share-url', target: '_blank', rel: 'noreferrer' }, url), ' ',
        h('button', {
          type: 'button', class: 'danger revoke',
          onclick: async () => {
            try { await call('DELETE', `/shares/${enc(share.token)}`, { key }); await loadShares(); }
            catch (e) { report(e.message); }
          },
        }, 'Revoke'));
    }));
  }

  const createShare = h('button', {
    type: 'button', class: 'quiet create-share',
    onclick: async () => {
      try { await call('POST', `/endpoints/${enc(name)}/shares`, { key }); await loadShares(); }
      catch (e) { report(e.message); }
    },
  }, 'Create share link');

  const remove = h('button', {
    type: 'button', class: 'danger',
    onclick: async () => {
      if (!confirm(`Delete endpoint ${name}? Its keys, share links and review queue go with it.`)) return;
      try { await call('DELETE', `/endpoints/${enc(name)}`, { key }); location.hash = '#/'; }
      catch (e) { report(e.message); }
    },
  }, 'Delete endpoint');

  replace(view,
    h('p', null, h('a', { href: '#/' }, '← Endpoints')),
    h('h1', { class: 'endpoint-name' }, endpoint.name),
    h('p', { class: 'muted' }, h('span', { class: 'pill' }, endpoint.template ?? task), ' model ', h('code', null, endpoint.model ?? ''),
      ` · ${stats.requests ?? 0} requests · p50 ${formatMs(stats.p50Ms)} · p99 ${formatMs(stats.p99Ms)} · ${stats.held ?? 0} held`),
    h('section', { class: 'card settings' }, h('div', { class: 'row' },
      h('div', null, h('h3', null, 'Security'),
        h('div', null, `rate limit ${security.rateLimitPerMinute ?? '–'}/min per key`),
        h('div', null, `inputs up to ${security.maxInputChars ?? '–'} characters`),
        h('div', null, `stores inputs: ${security.storeInputs ?? '–'}`)),
      h('div', null, h('h3', null, 'Human review'),
        review.enabled
          ? [h('div', null, `${review.mode}: outputs scoring below ${review.threshold}`), h('div', null, `audit sample ${review.auditRate ?? 0}`)]
          : h('div', null, 'off')),
      h('div', null, h('h3', null, 'Parameters'), h('pre', null, JSON.stringify(endpoint.parameters ?? {}, null, 2))))),
    run.element,
    h('section', { class: 'card' }, h('h2', null, 'Share links'),
      h('p', { class: 'muted' }, 'A share link opens a read-only test run of this endpoint without a key (rate-limited; never stored or held).'),
      shareList, createShare),
    h('section', { class: 'card' }, h('h2', null, 'Review'),
      h('p', null, h('a', { href: link('reviews', name), class: 'review-link' }, 'Open the review queue'), ` (${stats.held ?? 0} held)`),
      exportButton(name, task, key, report)),
    message,
    h('p', null, remove));
  await loadShares();
}
