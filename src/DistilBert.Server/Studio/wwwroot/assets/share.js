// The read-only page of a share link: /studio/share/{token}. No key: the token is the permission.
import { h, replace } from './dom.js';
import { call, ApiError, enc } from './api.js';
import { taskOf } from './render.js';
import { testRun } from './testrun.js';

const view = document.getElementById('view');
const token = decodeURIComponent(location.pathname.split('/').filter(p => p.length > 0).pop() ?? '');

async function main() {
  let endpoint;
  try {
    ({ data: endpoint } = await call('GET', `/share/${enc(token)}`));
  } catch (e) {
    const gone = e instanceof ApiError && e.status === 404;
    replace(view, h('section', { class: 'card unavailable' }, h('h1', null, gone ? 'This link does not work' : 'Something went wrong'),
      h('p', { class: gone ? 'muted' : 'error' }, gone ? 'It was revoked, or it never existed. Ask its owner for a new one.' : e.message)));
    return;
  }
  const task = taskOf(endpoint.task);
  document.title = `${endpoint.name} · DistilBert Studio`;
  const run = testRun({
    task, examples: endpoint.examples ?? [], keyVariable: null,
    callPath: `/studio/api/share/${enc(token)}/run`,
    run: body => call('POST', `/share/${enc(token)}/run`, { body }),
  });
  replace(view, h('h1', { class: 'endpoint-name' }, endpoint.name), h('p', { class: 'muted' }, h('span', { class: 'pill' }, task)), run.element);
}

main();
