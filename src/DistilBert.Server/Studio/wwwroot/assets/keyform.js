// The form that asks for a key.
import { h } from './dom.js';

/** A form asking for a key once; the key is kept in sessionStorage (this tab only). */
export function keyForm(title, explanation, onKey, error) {
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', placeholder: 'dbk_…', 'aria-label': title });
  const form = h('form', {
    class: 'card key-form',
    onsubmit: event => { event.preventDefault(); if (input.value.trim()) onKey(input.value.trim()); },
  }, h('h1', null, title), h('p', { class: 'muted' }, explanation),
    error ? h('p', { class: 'error' }, error) : null,
    h('div', { class: 'row' }, h('label', null, 'Key', input), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Continue'))));
  setTimeout(() => input.focus(), 0);
  return form;
}
