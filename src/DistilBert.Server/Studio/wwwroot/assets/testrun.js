// The test run: pick or type inputs (white), run, see the outputs (teal) rendered per task.
import { h, replace } from './dom.js';
import { inputEditor, renderInputs, renderOutput, exampleTitle, equivalentCalls } from './render.js';
import { ApiError } from './api.js';

/**
 * task, examples; run(body) → {status, data} or throws ApiError; pollResult(reviewId) → the result answer;
 * callPath: the route the code samples show; keyVariable: null when the route takes no key (share links).
 */
export function testRun({ task, examples = [], run, pollResult, callPath, keyVariable = 'DISTILBERT_KEY', isActive = () => true }) {
  const editor = inputEditor(task);
  const status = h('div', { class: 'status', role: 'status' });
  const result = h('div', { class: 'result' });
  const curl = h('pre', { class: 'curl' });
  const csharp = h('pre', { class: 'csharp' });
  const runButton = h('button', { type: 'submit' }, 'Run');

  function showCode() {
    const calls = equivalentCalls(callPath, { inputs: editor.read() }, keyVariable);
    curl.textContent = calls.curl;
    csharp.textContent = calls.csharp;
  }

  function show(inputs, output, note) {
    replace(result,
      h('div', { class: 'section-title inputs' }, 'Inputs'), renderInputs(task, inputs),
      h('div', { class: 'section-title outputs' }, 'Outputs'), renderOutput(task, output, inputs),
      note ? h('p', { class: 'muted' }, note) : null);
  }

  async function waitForReview(inputs, review) {
    status.textContent = `Held for human review (review ${review.id}); the caller fetches the answer at ${review.resultUrl ?? 'its result URL'}. Waiting for a reviewer…`;
    for (let delay = 1000; isActive(); delay = Math.min(delay * 1.5, 10_000)) {
      await new Promise(resolve => setTimeout(resolve, delay));
      if (!isActive()) return;
      try {
        const answer = await pollResult(review.id);
        if (answer.status === 200) {
          status.textContent = `Reviewed: ${answer.data.status}.`;
          show(inputs, answer.data.output);
          return;
        }
      } catch (e) {
        status.textContent = 'Could not fetch the reviewed answer: ' + e.message;
        return;
      }
    }
  }

  async function submit(event) {
    event.preventDefault();
    const inputs = editor.read();
    showCode();
    runButton.disabled = true;
    status.textContent = 'Running…';
    status.className = 'status';
    try {
      const started = performance.now();
      const answer = await run({ inputs });
      const ms = performance.now() - started;
      if (answer.status === 202 && answer.data?.review) {
        replace(result);
        if (pollResult) await waitForReview(inputs, answer.data.review);
        else status.textContent = 'Held for human review.';
        return;
      }
      const review = answer.data?.review;
      status.textContent = `Done in ${Math.round(ms)} ms.` + (review ? ` Flagged for human review (review ${review.id}).` : '');
      show(inputs, answer.data?.output);
    } catch (e) {
      status.className = 'status error';
      status.textContent = e instanceof ApiError
        ? `${e.status === 0 ? '' : e.status + ': '}${e.message}${e.retryAfter ? ` (retry after ${e.retryAfter} s)` : ''}`
        : 'Error: ' + e.message;
    } finally {
      runButton.disabled = false;
    }
  }

  const exampleButtons = examples.map(example => h('button', {
    type: 'button', title: exampleTitle(task, example),
    onclick: () => { editor.set(example); showCode(); },
  }, exampleTitle(task, example)));
  if (examples.length > 0) editor.set(examples[0]);
  showCode();
  editor.element.addEventListener('input', showCode);

  const element = h('section', { class: 'card' },
    h('h2', null, 'Test run'),
    h('form', { class: 'run', onsubmit: submit },
      h('div', { class: 'inputs' },
        examples.length > 0 ? h('div', { class: 'examples' }, h('span', { class: 'muted-input' }, 'Examples:'), exampleButtons) : null,
        editor.element),
      h('div', { class: 'row' }, h('div', null, runButton)),
      status,
      result),
    h('h3', null, 'The same call'),
    h('div', { class: 'code' }, h('div', null, h('div', { class: 'muted' }, 'curl'), curl), h('div', null, h('div', { class: 'muted' }, 'C# (HttpClient)'), csharp)));
  return { element, focus: editor.focus };
}
