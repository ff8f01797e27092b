// Per-task input editors and renderings. Inputs render in the white "inputs" block, outputs in the teal "outputs"
// block (studio.css); every text goes through text nodes.
import { h, append, formatScore } from './dom.js';

export const TASKS = ['sentiment', 'entities', 'question-answering', 'fill-mask', 'similarity'];

/** The Studio's task name for a template id or a transformers task name. */
export function taskOf(name) {
  switch (name) {
    case 'sentiment': case 'text-classification': case 'sentiment-analysis': return 'sentiment';
    case 'entities': case 'token-classification': case 'ner': return 'entities';
    case 'question-answering': case 'qa': return 'question-answering';
    case 'fill-mask': return 'fill-mask';
    case 'similarity': case 'sentence-similarity': case 'feature-extraction': case 'embeddings': return 'similarity';
    default: return name;
  }
}

/** The task an output has, from its shape (a reviewer's key may not read the endpoint itself). */
export function taskOfOutput(output) {
  if (Array.isArray(output)) {
    const first = output[0];
    if (first && 'entityGroup' in first) return 'entities';
    if (first && 'tokenStr' in first) return 'fill-mask';
    return 'sentiment';
  }
  if (output && typeof output === 'object') {
    if ('answer' in output || ('start' in output && 'end' in output)) return 'question-answering';
    if ('scores' in output) return 'similarity';
    if ('label' in output) return 'sentiment';
  }
  return null;
}

/** An example as the task's inputs (templates give QA and similarity examples as objects, the others as strings). */
export function exampleTitle(task, example) {
  if (typeof example === 'string') return example;
  if (task === 'question-answering') return example?.question ?? '';
  if (task === 'similarity') return example?.source ?? '';
  return JSON.stringify(example);
}

/** The input form of a task: {element, read() → inputs, set(inputs)}. */
export function inputEditor(task) {
  if (task === 'question-answering') {
    const question = h('input', { name: 'question', 'aria-label': 'Question', placeholder: 'Question' });
    const context = h('textarea', { name: 'context', 'aria-label': 'Context', placeholder: 'Context' });
    return {
      element: h('div', { class: 'editor' }, h('label', null, 'Question', question), h('label', null, 'Context', context)),
      read: () => ({ question: question.value, context: context.value }),
      set(inputs) { question.value = inputs?.question ?? ''; context.value = inputs?.context ?? ''; },
      focus: () => question.focus(),
    };
  }
  if (task === 'similarity') {
    const source = h('input', { name: 'source', 'aria-label': 'Source sentence', placeholder: 'Source sentence' });
    const sentences = h('textarea', { name: 'sentences', 'aria-label': 'Sentences, one per line', placeholder: 'One sentence per line' });
    return {
      element: h('div', { class: 'editor' }, h('label', null, 'Source sentence', source), h('label', null, 'Compare with (one per line)', sentences)),
      read: () => ({ source: source.value, sentences: sentences.value.split('\n').map(s => s.trim()).filter(s => s.length > 0) }),
      set(inputs) { source.value = inputs?.source ?? ''; sentences.value = (inputs?.sentences ?? []).join('\n'); },
      focus: () => source.focus(),
    };
  }
  const text = h('textarea', { name: 'text', 'aria-label': 'Text', placeholder: task === 'fill-mask' ? 'A sentence with [MASK] in it' : 'Text' });
  return {
    element: h('div', { class: 'editor' }, h('label', null, 'Text', text)),
    read: () => text.value,
    set(inputs) { text.value = typeof inputs === 'string' ? inputs : ''; },
    focus: () => text.focus(),
  };
}

/** The inputs as read-only text (white). */
export function renderInputs(task, inputs) {
  const box = h('div', { class: 'inputs' });
  if (inputs == null) return append(box, h('p', { class: 'muted-input' }, 'Inputs were not stored (the endpoint stores inputs: off).'));
  if (task === 'question-answering')
    return append(box, h('div', { class: 'echo' }, h('strong', null, 'Q: '), inputs.question ?? ''),
      h('div', { class: 'echo' }, h('strong', null, 'Context: '), inputs.context ?? ''));
  if (task === 'similarity')
    return append(box, h('div', { class: 'echo' }, h('strong', null, 'Source: '), inputs.source ?? ''),
      h('ul', null, (inputs.sentences ?? []).map(s => h('li', { class: 'echo' }, s))));
  return append(box, h('div', { class: 'echo' }, typeof inputs === 'string' ? inputs : JSON.stringify(inputs)));
}

function fill(score) {
  const span = h('span');
  // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
  span.style.width = `${Math.max(0, Math.min(1, Number(score) || 0)) * 100}%`;
  return span;
}

/** A score as a labelled bar. */
function bars(rows) {
  return h('div', { class: 'bars' }, rows.flatMap(([label, score]) => [
    h('span', { class: 'bar-label' }, label),
    h('span', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 1, 'aria-valuenow': score }, fill(score)),
    h('span', { class: 'score' }, formatScore(score)),
  ]));
}

/**
 * A text with spans marked: [{start, end, label}] in UTF-16 offsets (what the API and JavaScript strings both count).
 * Overlapping or out-of-range spans are skipped rather than drawn wrongly.
 */
export function annotatedText(text, spans) {
  const box = h('div', { class: 'annotated' });
  let at = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    if (!(span.start >= at && span.end > span.start && span.end <= text.length)) continue;
    append(box, text.slice(at, span.start));
    append(box, h('mark', { 'data-label': span.label ?? null, title: span.title ?? null, dataset: { start: span.start, end: span.end } },
      text.slice(span.start, span.end)));
    at = span.end;
  }
  append(box, text.slice(at));
  return box;
}

/** The model's answer, rendered per task (teal). */
export function renderOutput(task, output, inputs) {
  const box = h('div', { class: 'outputs' });
  if (output == null) return append(box, h('p', null, 'No output.'));
  switch (task) {
    case 'sentiment': {
      const rows = Array.isArray(output) ? output : [output];
      return append(box, bars(rows.map(r => [r.label, r.score])));
    }
    case 'entities': {
      const text = typeof inputs === 'string' ? inputs : null;
      const spans = output.map(e => ({ start: e.start, end: e.end, label: e.entityGroup, title: `${e.entityGroup} ${formatScore(e.score)}` }));
      if (text != null) append(box, annotatedText(text, spans));
      if (output.length === 0) return append(box, h('p', null, 'No entities found.'));
      return append(box, h('table', { class: 'entities' },
        h('thead', null, h('tr', null, h('th', null, 'entity'), h('th', null, 'text'), h('th', { class: 'num' }, 'span'), h('th', { class: 'num' }, 'score'))),
        h('tbody', null, output.map(e => h('tr', null, h('td', null, e.entityGroup), h('td', null, e.word ?? ''),
          h('td', { class: 'num' }, `${e.start}–${e.end}`), h('td', { class: 'num' }, formatScore(e.score)))))));
    }
    case 'question-answering': {
      const context = inputs?.context;
      append(box, h('p', null, h('strong', null, 'Answer: '), output.answer ?? (context?.slice(output.start, output.end) ?? ''),
        ' ', h('span', { class: 'score-inline' }, `(score ${formatScore(output.score)}, chars ${output.start}–${output.end})`)));
      if (typeof context === 'string') append(box, annotatedText(context, [{ start: output.start, end: output.end, label: 'answer' }]));
      return box;
    }
    case 'fill-mask':
      return append(box, bars(output.map(c => [c.tokenStr ?? String(c.token), c.score])),
        h('ol', { class: 'sequences' }, output.map(c => h('li', null, c.sequence ?? ''))));
    case 'similarity': {
      const sentences = inputs?.sentences ?? [];
      return append(box, bars((output.scores ?? []).map((s, i) => [sentences[i] ?? `sentence ${i + 1}`, s])));
    }
    default:
      return append(box, h('pre', null, JSON.stringify(output, null, 2)));
  }
}

function shellQuote(text) {
  return "'" + text.replaceAll("'", "'\\''") + "'";
}

/** A C# raw string literal holding text: more quotes around it than any run of quotes inside it. */
function csharpRaw(text) {
  const longest = Math.max(0, ...(text.match(/"+/g) ?? []).map(run => run.length));
  const quotes = '"'.repeat(Math.max(3, longest + 1));
  return quotes + text + quotes;
}

/** The equivalent curl and C# (HttpClient) calls of a run; the key stays in an environment variable. */
export function equivalentCalls(path, body, keyVariable = 'DISTILBERT_KEY') {
  const url = location.origin + path;
  const json = JSON.stringify(body);
  const auth = keyVariable ? ` \\\n  -H "Authorization: Bearer $${keyVariable}"` : '';
  const curl = `curl -s ${shellQuote(url)}${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d ${shellQuote(json)}`;
  const csharp = [
    'using System.Net.Http.Headers;',
    'using System.Text;',
    '',
    'using var http = new HttpClient();',
    ...(keyVariable ? [`http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Environment.GetEnvironmentVariable("${keyVariable}"));`] : []),
    `var body = ${csharpRaw(json)};`,
    `using var response = await http.PostAsync(${JSON.stringify(url)}, new StringContent(body, Encoding.UTF8, "application/json"));`,
    'Console.WriteLine(await response.Content.ReadAsStringAsync());',
  ].join('\n');
  return { curl, csharp };
}
