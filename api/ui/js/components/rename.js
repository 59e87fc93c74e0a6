// Inline rename: swaps a title element for a small labelled form. Enter saves, Escape cancels.

import { h, uniqueId } from '../dom.js';
import { describe } from '../api.js';

/**
 * Replaces `target` with a form until done. `save(title)` returns a promise; on failure the
 * form stays with the error shown. `done(saved)` runs after the form is gone.
 */
export function inlineRename(target, current, save, done = () => {}) {
  const id = uniqueId('rename');
  const input = h('input', { id, class: 'rename-input', value: current, maxlength: 200, required: true, autocomplete: 'off' });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'rename-form' },
    h('label', { for: id, class: 'visually-hidden', text: 'New title' }),
    input,
    h('button', { type: 'submit', class: 'button-small', text: 'Save' }),
    h('button', { type: 'button', class: 'button-small button-quiet', text: 'Cancel', onClick: () => finish(false) }),
    error);
  let finished = false;
  function finish(saved) {
    if (finished) return;
    finished = true;
    form.replaceWith(target);
    done(saved);
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) {
      error.textContent = 'A title cannot be empty.';
      error.hidden = false;
      return;
    }
    if (title === current) {
      finish(false);
      return;
    }
    input.disabled = true;
    try {
      await save(title);
      finish(true);
    } catch (e) {
      input.disabled = false;
      error.textContent = describe(e);
      error.hidden = false;
      input.focus();
    }
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      finish(false);
    }
  });
  target.replaceWith(form);
  input.focus();
  input.select();
  return form;
}
