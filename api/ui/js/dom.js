// Building DOM nodes without ever parsing HTML: text goes in through textContent / text nodes,
// attributes through setAttribute, listeners through addEventListener.

/**
 * h('button', { class: 'primary', type: 'button', onClick: fn }, 'Save')
 * Props: `class`, `text`, `dataset` (object), `value`/`checked`/`disabled`/`hidden` (properties),
 * `onXxx` (listeners), anything else → attribute (`true` → empty attribute, null/false → skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden') {
        el[key] = value;
      } else if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends strings (as text), nodes and (nested) arrays of them; skips null/false. */
export function append(parent, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A document-unique id for label/aria wiring. */
export function uniqueId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: returns { wrap, input, error } with aria wiring done. */
export function field({ label, name, type = 'text', tag = 'input', hint, ...attrs }) {
  const id = uniqueId(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h(tag, { id, name, type: tag === 'input' ? type : null, ...attrs });
  input.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const wrap = h('div', { class: 'field' },
    h('label', { for: id, text: label }),
    input,
    hint ? h('p', { class: 'hint', id: hintId, text: hint }) : null,
    error);
  return { wrap, input, error };
}

/** Shows (or clears, with an empty message) a field's error. */
export function setFieldError(f, message) {
  f.error.textContent = message || '';
  f.error.hidden = !message;
  if (message) f.input.setAttribute('aria-invalid', 'true');
  else f.input.removeAttribute('aria-invalid');
}
