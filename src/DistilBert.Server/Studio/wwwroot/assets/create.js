// "New endpoint": a template, its model and parameters, and the endpoint's security and review policies in ONE form.
// The keys it answers with are shown once, here, and never again.
import { h, replace, link } from './dom.js';
import { keys, call, ApiError } from './api.js';

function number(name, value, { min, max, step = 1, path }) {
  return h('input', { type: 'number', name, value: String(value), min, max, step, dataset: { path } });
}

export async function createPage(view, { isActive }) {
  const { data: templates } = await call('GET', '/templates', { key: keys.admin() });
  if (!isActive()) return;
  const firstAvailable = templates.find(t => t.available) ?? templates[0];

  const name = h('input', { name: 'name', required: true, maxlength: 64, pattern: '[a-z0-9-]{1,64}', placeholder: 'e.g. support-sentiment', dataset: { path: 'name' } });
  const model = h('input', { name: 'model', dataset: { path: 'model' } });
  const parameters = h('textarea', { name: 'parameters', class: 'mono', dataset: { path: 'parameters' } });
  const security = {
    callerKeys: number('callerKeys', 1, { min: 0, max: 20, path: 'security.callerKeys' }),
    rateLimitPerMinute: number('rateLimitPerMinute', 60, { min: 1, path: 'security.rateLimitPerMinute' }),
    maxInputChars: number('maxInputChars', 2000, { min: 1, path: 'security.maxInputChars' }),
    storeInputs: h('select', { name: 'storeInputs', dataset: { path: 'security.storeInputs' } },
      h('option', { value: 'off' }, 'off: never stored'),
      h('option', { value: 'on', selected: true }, 'on: stored as sent'),
      h('option', { value: 'masked' }, 'masked: e-mail addresses and numbers masked')),
  };
  const review = {
    enabled: h('input', { type: 'checkbox', name: 'reviewEnabled', checked: true, dataset: { path: 'review.enabled' } }),
    threshold: number('threshold', 0.8, { min: 0, max: 1, step: 0.01, path: 'review.threshold' }),
    auditRate: number('auditRate', 0, { min: 0, max: 1, step: 0.01, path: 'review.auditRate' }),
    mode: h('select', { name: 'mode', dataset: { path: 'review.mode' } },
      h('option', { value: 'hold' }, 'hold: the caller gets 202 and fetches the reviewed answer'),
      h('option', { value: 'flag' }, 'flag: the caller gets the answer now, marked pending')),
    reviewerKeys: number('reviewerKeys', 1, { min: 0, max: 20, path: 'review.reviewerKeys' }),
  };
  const message = h('div', { class: 'status', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create endpoint');
  let template = firstAvailable;

  const choices = templates.map(t => {
    const radio = h('input', { type: 'radio', name: 'template', value: t.id, checked: t === template, disabled: !t.available });
    const card = h('label', { class: 'template' + (t.available ? '' : ' unavailable') + (t === template ? ' selected' : ''), title: t.reason ?? null },
      radio, h('strong', null, t.title ?? t.id), h('div', { class: 'muted' }, t.available ? (t.model ?? '') : (t.reason ?? 'no model serves this task')));
    radio.addEventListener('change', () => choose(t));
    return card;
  });

  function choose(t) {
    template = t;
    choices.forEach((card, i) => card.classList.toggle('selected', templates[i] === t));
    model.value = t.model ?? '';
    parameters.value = JSON.stringify(t.parameters ?? {}, null, 2);
  }
  if (template) choose(template);

  function syncReview() {
    for (const input of [review.threshold, review.auditRate, review.mode, review.reviewerKeys]) input.disabled = !review.enabled.checked;
  }
  review.enabled.addEventListener('change', syncReview);

  function fail(text, path) {
    message.className = 'status error';
    message.textContent = text;
    const field = path ? form.querySelector(`[data-path="${CSS.escape(path)}"]`) : null;
    if (field) { field.classList.add('invalid'); field.focus(); }
  }

  async function onSubmit(event) {
    event.preventDefault();
    form.querySelectorAll('.invalid').forEach(e => e.classList.remove('invalid'));
    if (!template) return fail('Pick a template.', null);
    let parsedParameters;
    try { parsedParameters = parameters.value.trim() ? JSON.parse(parameters.value) : {}; }
    catch (e) { return fail('parameters: not valid JSON (' + e.message + ')', 'parameters'); }
    const body = {
      name: name.value.trim(),
      template: template.id,
      model: model.value.trim() || undefined,
      parameters: parsedParameters,
      security: {
        callerKeys: security.callerKeys.valueAsNumber,
        rateLimitPerMinute: security.rateLimitPerMinute.valueAsNumber,
        maxInputChars: security.maxInputChars.valueAsNumber,
        storeInputs: security.storeInputs.value,
      },
      review: {
        enabled: review.enabled.checked,
        threshold: review.threshold.valueAsNumber,
        auditRate: review.auditRate.valueAsNumber,
        mode: review.mode.value,
        reviewerKeys: review.reviewerKeys.valueAsNumber,
      },
    };
    submit.disabled = true;
    message.className = 'status';
    message.textContent = 'Creating…';
    try {
      const { data } = await call('POST', '/endpoints', { key: keys.admin(), body });
      if (isActive()) showKeys(view, data);
    } catch (e) {
      if (e instanceof ApiError) fail(`${e.status}: ${e.message}`, e.field ?? pathIn(e.message));
      else fail(e.message, null);
    } finally {
      submit.disabled = false;
    }
  }

  const form = h('form', { class: 'create', onsubmit: onSubmit, novalidate: true },
    h('h1', null, 'New endpoint'),
    h('fieldset', null, h('legend', null, 'Template'), h('div', { class: 'templates' }, choices)),
    h('fieldset', null, h('legend', null, 'Endpoint'),
      h('div', { class: 'row' }, h('label', null, 'Name (a–z, 0–9, -)', name), h('label', null, 'Model', model)),
      h('label', null, 'Parameters (JSON)', parameters)),
    h('fieldset', null, h('legend', null, 'Security'),
      h('div', { class: 'row' },
        h('label', null, 'Caller keys', security.callerKeys),
        h('label', null, 'Rate limit per key (requests/min)', security.rateLimitPerMinute),
        h('label', null, 'Max input length (chars)', security.maxInputChars),
        h('label', null, 'Store inputs', security.storeInputs))),
    h('fieldset', null, h('legend', null, 'Human review'),
      h('label', { class: 'inline' }, review.enabled, ' Hold low-confidence outputs for review'),
      h('div', { class: 'row' },
        h('label', null, 'Threshold (top score below it is reviewed)', review.threshold),
        h('label', null, 'Audit sample rate (0–1)', review.auditRate),
        h('label', null, 'While held', review.mode),
        h('label', null, 'Reviewer keys', review.reviewerKeys))),
    h('div', { class: 'row' }, h('div', { class: 'actions' }, submit), message));
  syncReview();
  replace(view, form);
  name.focus();
}

/** The JSON path a server message starts with ("security.rateLimitPerMinute: …"), when the problem has no field. */
function pathIn(text) {
  const match = /^([a-zA-Z]+(?:\.[a-zA-Z]+)*)[: ]/.exec(text ?? '');
  return match ? match[1] : null;
}

function keyList(title, list, explanation) {
  if (!list?.length) return null;
  return h('div', null, h('h3', null, title), h('p', { class: 'muted' }, explanation),
    h('ul', { class: 'key-list' }, list.map(key => h('li', null, h('code', null, key)))));
}

function showKeys(view, { endpoint, callerKeys, reviewerKeys }) {
  replace(view, h('section', { class: 'card keys' },
    h('h1', null, 'Endpoint ', h('span', { class: 'endpoint-name' }, endpoint.name), ' created'),
    h('p', { class: 'warn' }, 'Copy these keys now: the server keeps only their hashes and will not show them again.'),
    keyList('Caller keys', callerKeys, 'For POST /studio/api/endpoints/' + endpoint.name + '/run and its results.'),
    keyList('Reviewer keys', reviewerKeys, 'For this endpoint\'s review queue.'),
    h('p', null, h('a', { href: link('endpoints', endpoint.name), class: 'button' }, 'I have saved them: open the endpoint'))));
}
