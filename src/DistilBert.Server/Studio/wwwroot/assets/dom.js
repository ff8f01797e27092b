// Every text from a user or a model reaches the page through text nodes: this helper has no path that parses HTML.

/** An element with properties/attributes and children; strings and numbers become text nodes. */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'value' || name === 'checked' || name === 'disabled' || name === 'selected') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Appends children: nodes as they are, everything else as text. */
export function append(element, ...children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    element.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function formatScore(score) {
  return typeof score === 'number' && Number.isFinite(score) ? score.toFixed(3) : '–';
}

export function formatMs(ms) {
  return typeof ms === 'number' && Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(1) : Math.round(ms).toString()) + ' ms' : '–';
}

/** A route fragment for a name: the name is data, so it is encoded, never pasted. */
export function link(...parts) {
  return '#/' + parts.map(encodeURIComponent).join('/');
}
