// The review queue of one endpoint: held items oldest first; accept, pick a label, or edit entity / answer spans.
// Keyboard: j/k move, a accept, 1–9 pick a label (entities: label the selected span), e edit spans, Enter save, Esc cancel.
import { h, replace } from './dom.js';
import { keys, call, ApiError, enc } from './api.js';
import { taskOfOutput, renderInputs, renderOutput, annotatedText } from './render.js';
import { exportButton } from './endpoint.js';
import { keyForm } from './keyform.js';

const ENTITY_TYPES = ['PER', 'ORG', 'LOC', 'MISC'];

export async function reviewPage(view, name, { isActive, rerender }) {
  const key = keys.forReview(name);
  const askKey = error => replace(view, keyForm(`Reviewer key for ${name}`,
    'A reviewer key of this endpoint (shown once when it was created), or the admin key. It stays in this tab only.',
    k => { keys.setReviewer(name, k); rerender(); }, error));
  if (!key) return askKey();

  let items;
  try {
    ({ data: items } = await call('GET', `/endpoints/${enc(name)}/reviews?status=pending`, { key }));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404))
      return askKey(`The server refused that key for this endpoint (${e.status}).`);
    throw e;
  }
  if (!isActive()) return;

  let index = 0;
  let editing = null; // {task, text, spans, textarea} while spans are edited
  const list = h('ol', { class: 'items', 'aria-label': 'Held items' });
  const detail = h('div', { class: 'detail' });
  const message = h('p', { class: 'status', role: 'status' });
  const report = (text, isError) => { message.className = 'status' + (isError ? ' error' : ''); message.textContent = text; };

  const current = () => items[index];
  const taskOfItem = item => taskOfOutput(item.output);

  function labelsOf(item) {
    const task = taskOfItem(item);
    if (task === 'sentiment') return [...new Set(item.output.map(o => o.label))].sort();
    if (task === 'entities') return [...new Set([...ENTITY_TYPES, ...item.output.map(e => e.entityGroup)])].sort();
    return [];
  }

  function preview(inputs) {
    if (inputs == null) return '(inputs not stored)';
    return typeof inputs === 'string' ? inputs : inputs.question ?? inputs.source ?? '';
  }

  function renderList() {
    if (items.length === 0) return replace(list, h('li', { class: 'muted' }, 'Nothing is waiting for review.'));
    replace(list, items.map((item, i) => h('li', {
      class: (i === index ? 'current' : '') + (item.status !== 'pending' ? ' done' : ''),
      dataset: { id: item.id },
      onclick: () => { index = i; editing = null; render(); },
    }, h('div', null, h('strong', null, item.status), ' · ', item.reason === 'audit' ? 'audit sample' : 'low score'),
      h('div', { class: 'preview' }, preview(item.inputs)),
      h('div', { class: 'muted' }, new Date(item.createdAt).toLocaleString()))));
  }

  function renderDetail() {
    const item = current();
    if (!item) return replace(detail, h('p', { class: 'muted' }, 'The queue is empty.'));
    const task = taskOfItem(item);
    const labels = labelsOf(item);
    const top = task === 'sentiment' ? [...item.output].sort((a, b) => b.score - a.score)[0] : null;
    const parts = [
      h('p', { class: 'muted' }, `review ${item.id} · ${item.reason === 'audit' ? 'random audit sample' : 'score below the threshold'} · ${item.status}`),
      h('div', { class: 'run' },
        h('div', { class: 'section-title inputs' }, 'Inputs'), renderInputs(task, item.inputs),
        h('div', { class: 'section-title outputs' }, 'Model output'), renderOutput(task, item.output, item.inputs)),
    ];
    if (item.inputs == null)
      parts.push(h('p', { class: 'warn' }, 'This endpoint does not store inputs (storeInputs: off), so only its output is shown' +
        (task === 'entities' || task === 'question-answering' ? ' and spans cannot be edited: accept it, or leave it.' : '.')));
    if (task === 'sentiment')
      parts.push(h('div', { class: 'labels' }, labels.slice(0, 9).map((label, i) =>
        h('button', { type: 'button', class: label === top?.label ? 'chosen' : '', onclick: () => pickLabel(i) }, h('kbd', null, String(i + 1)), ' ', label))));
    if (editing) parts.push(editor(task, labels));
    parts.push(h('div', { class: 'row' }, h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: accept, disabled: item.status !== 'pending' }, 'Accept (a)'), ' ',
      (task === 'entities' || task === 'question-answering') && item.inputs != null && !editing
        ? h('button', { type: 'button', class: 'quiet', onclick: startEdit }, task === 'entities' ? 'Edit spans (e)' : 'Select the answer (e)') : null)));
    replace(detail, parts);
    if (editing) {
      // The caret starts at the text's beginning, and stays where the last span ended after a re-render.
      const caret = editing.caret ?? 0;
      editing.textarea.focus();
      editing.textarea.setSelectionRange(caret, caret);
    }
  }

  function editor(task, labels) {
    const text = editing.text;
    // Not readonly: Chromium moves no caret in a readonly textarea, and a keyboard-only reviewer selects with Shift+arrows.
    // Edits are refused instead (beforeinput covers typing, pasting, dropping and deleting).
    const textarea = h('textarea', { class: 'span-source', spellcheck: 'false', 'aria-label': task === 'entities' ? 'Select a span, then press its label number' : 'Select the answer, then press Enter', rows: 4 });
    textarea.value = text;
    editing.textarea = textarea;
    textarea.addEventListener('keydown', onEditKey);
    textarea.addEventListener('beforeinput', event => event.preventDefault());
    const preview = task === 'entities'
      ? annotatedText(text, editing.spans.map(s => ({ start: s.start, end: s.end, label: s.entityGroup })))
      : annotatedText(text, editing.spans.map(s => ({ start: s.start, end: s.end, label: 'answer' })));
    return h('div', { class: 'card editor' },
      h('h3', null, task === 'entities' ? 'Edit entity spans' : 'Select the answer span'),
      h('p', { class: 'muted' }, task === 'entities'
        ? ['Select text (mouse, or Shift+arrows), then press a number: ', labels.slice(0, 9).map((l, i) => [h('kbd', null, String(i + 1)), ` ${l} `]),
          '· ', h('kbd', null, 'Del'), ' removes the spans the selection touches · ', h('kbd', null, 'Enter'), ' saves · ', h('kbd', null, 'Esc'), ' cancels']
        : ['Select the answer in the context (mouse, or Shift+arrows), then ', h('kbd', null, 'Enter'), ' saves it · ', h('kbd', null, 'Esc'), ' cancels']),
      textarea,
      h('div', { class: 'outputs corrected' }, h('div', { class: 'section-title' }, 'Correction'), preview));
  }

  function startEdit() {
    const item = current();
    const task = taskOfItem(item);
    if (!item || item.status !== 'pending' || item.inputs == null) return;
    if (task === 'entities')
      editing = { text: item.inputs, spans: item.output.map(e => ({ entityGroup: e.entityGroup, start: e.start, end: e.end })) };
    else if (task === 'question-answering')
      editing = { text: item.inputs.context ?? '', spans: [{ start: item.output.start, end: item.output.end }] };
    else return;
    render();
  }

  function onEditKey(event) {
    const item = current();
    const task = taskOfItem(item);
    const { selectionStart: start, selectionEnd: end } = editing.textarea;
    if (event.key === 'Escape') { event.preventDefault(); editing = null; render(); return; }
    if (event.key === 'Enter') {
      event.preventDefault();
      if (task === 'question-answering') {
        if (end > start) editing.spans = [{ start, end }];
        const span = editing.spans[0];
        decide({ action: 'correct', output: { start: span.start, end: span.end } });
      } else {
        decide({ action: 'correct', output: editing.spans.map(s => ({ entityGroup: s.entityGroup, start: s.start, end: s.end })) });
      }
      return;
    }
    if (task !== 'entities') return;
    if (/^[1-9]$/.test(event.key) && end > start) {
      event.preventDefault();
      const label = labelsOf(item)[Number(event.key) - 1];
      if (!label) return;
      editing.spans = editing.spans.filter(s => s.end <= start || s.start >= end).concat({ entityGroup: label, start, end });
      editing.caret = end;
      render();
    } else if (event.key === 'Delete' || event.key === 'Backspace') {
      event.preventDefault();
      editing.spans = end > start ? editing.spans.filter(s => s.end <= start || s.start >= end) : editing.spans.filter(s => !(s.start <= start && start <= s.end));
      editing.caret = start;
      render();
    }
  }

  async function decide(decision) {
    const item = current();
    if (!item || item.status !== 'pending') return;
    try {
      const { data } = await call('POST', `/reviews/${enc(item.id)}/decision`, { key, body: decision });
      items[index] = { ...item, ...data, status: data?.status ?? (decision.action === 'accept' ? 'accepted' : 'corrected') };
      report(`Review ${item.id}: ${items[index].status}.`);
      editing = null;
      const next = items.findIndex((it, i) => i > index && it.status === 'pending');
      if (next >= 0) index = next;
      render();
    } catch (e) {
      report(`${e.status ?? ''} ${e.message}`.trim(), true);
    }
  }

  const accept = () => decide({ action: 'accept' });

  function pickLabel(i) {
    const item = current();
    if (taskOfItem(item) !== 'sentiment') return;
    const label = labelsOf(item)[i];
    if (!label) return;
    const top = [...item.output].sort((a, b) => b.score - a.score)[0];
    decide(label === top.label ? { action: 'accept' } : { action: 'correct', output: { label } });
  }

  function onKey(event) {
    if (!isActive()) { document.removeEventListener('keydown', onKey); return; }
    if (editing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target instanceof HTMLElement && event.target.matches('input, textarea, select')) return;
    if (event.key === 'j' && index < items.length - 1) { index++; render(); }
    else if (event.key === 'k' && index > 0) { index--; render(); }
    else if (event.key === 'a') accept();
    else if (event.key === 'e') { event.preventDefault(); startEdit(); }
    else if (/^[1-9]$/.test(event.key)) pickLabel(Number(event.key) - 1);
    else return;
    event.preventDefault();
  }

  function render() { renderList(); renderDetail(); }

  const task = items[0] ? taskOfItem(items[0]) : null;
  replace(view,
    h('p', null, keys.admin() ? h('a', { href: `#/endpoints/${enc(name)}` }, '← Endpoint') : null),
    h('h1', null, 'Review queue: ', h('span', { class: 'endpoint-name' }, name)),
    h('p', { class: 'muted' }, `${items.length} pending, oldest first.`),
    message,
    h('div', { class: 'queue' }, h('section', { class: 'card' }, list), h('section', { class: 'card' }, detail)),
    h('p', { class: 'hints' }, h('kbd', null, 'j'), '/', h('kbd', null, 'k'), ' move · ', h('kbd', null, 'a'), ' accept · ',
      h('kbd', null, '1'), '–', h('kbd', null, '9'), ' pick a label · ', h('kbd', null, 'e'), ' edit entity spans / the answer span'),
    task ? h('p', null, exportButton(name, task, key, text => report(text, true))) : null);
  render();
  document.addEventListener('keydown', onKey);
}

