// Images pasted or dropped into a prompt box: kept as data URLs (the CSP allows `data:` images,
// not `blob:`), shown as removable thumbnails, uploaded to the session when the prompt is sent.
// The server judges each image by its bytes; the type check here only spares a round trip.

import { post } from '../api.js';
import { h } from '../dom.js';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/**
 * attachments(textarea, { onError }) → { el, count(), clear(), upload(sessionBase) → ids }.
 * `el` is the thumbnail strip (hidden while empty); paste and drop are taken on `textarea`.
 */
export function attachments(textarea, { onError = () => {} } = {}) {
  const items = [];
  const el = h('ul', { class: 'attachments', 'aria-label': 'Images to send', hidden: true });

  function render() {
    el.replaceChildren(...items.map((item, i) => h('li', { class: 'attachment' },
      h('img', { src: item.dataUrl, alt: item.name || `Image ${i + 1}` }),
      h('button', {
        type: 'button', class: 'attachment-remove', 'aria-label': `Remove image ${i + 1}`, title: 'Remove',
        onClick: () => { items.splice(i, 1); render(); textarea.focus(); },
      }, '×'))));
    el.hidden = items.length === 0;
  }

  async function add(files) {
    for (const file of files) {
      if (!IMAGE_TYPES.includes(file.type)) {
        onError(`${file.name || 'That file'} is not a PNG, JPEG, GIF or WebP image.`);
        continue;
      }
      try {
        items.push({ name: file.name, dataUrl: await readAsDataUrl(file) });
      } catch {
        onError(`Could not read ${file.name || 'the image'}.`);
      }
    }
    render();
  }

  textarea.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files || [])].filter((f) => f.type.startsWith('image/'));
    if (files.length === 0) return;
    event.preventDefault();
    add(files);
  });
  textarea.addEventListener('dragover', (event) => {
    if ([...(event.dataTransfer?.types || [])].includes('Files')) {
      event.preventDefault();
      textarea.classList.add('drop-target');
    }
  });
  textarea.addEventListener('dragleave', () => textarea.classList.remove('drop-target'));
  textarea.addEventListener('drop', (event) => {
    textarea.classList.remove('drop-target');
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length === 0) return;
    event.preventDefault();
    add(files);
  });

  return {
    el,
    count: () => items.length,
    clear() {
      items.length = 0;
      render();
    },
    /** Uploads each image to `${sessionBase}/images` (once); their ids, in order. */
    async upload(sessionBase) {
      const ids = [];
      for (const item of items) {
        // Kept per item: a send that failed after its uploads does not upload them twice.
        if (!item.id || item.base !== sessionBase) {
          item.id = (await post(`${sessionBase}/images`, { data: item.dataUrl })).id;
          item.base = sessionBase;
        }
        ids.push(item.id);
      }
      return ids;
    },
  };
}
