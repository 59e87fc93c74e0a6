// Provider and model selects from /api/providers. Hidden when the API offers none; the demo
// provider is labelled as such, so nobody mistakes its output for an AI's.

import { providers } from '../api.js';
import { h, uniqueId } from '../dom.js';

const isDemo = (p) => p && (p.id === 'demo' || /\bdemo\b/i.test(p.label || ''));

/** Returns { el, value() → { provider?, model? } }. `initial` preselects { provider, model }. */
export function providerPicker(initial = {}) {
  const providerId = uniqueId('provider');
  const modelId = uniqueId('model');
  const providerSelect = h('select', { id: providerId, name: 'provider' });
  const modelSelect = h('select', { id: modelId, name: 'model' });
  const modelWrap = h('span', { class: 'picker-field' }, h('label', { for: modelId, text: 'Model' }), modelSelect);
  const demo = h('span', { class: 'badge badge-demo', text: 'demo', title: 'Built-in demo provider: scripted output, no AI', hidden: true });
  const el = h('div', { class: 'picker', hidden: true },
    h('span', { class: 'picker-field' }, h('label', { for: providerId, text: 'Provider' }), providerSelect),
    modelWrap, demo);
  let list = [];

  function syncModels() {
    const p = list.find((x) => x.id === providerSelect.value);
    const models = (p && p.models) || [];
    modelSelect.replaceChildren(...models.map((m) => h('option', { value: m, text: m })));
    if (initial.model && models.includes(initial.model)) modelSelect.value = initial.model;
    modelWrap.hidden = models.length <= 1;
    demo.hidden = !isDemo(p);
  }

  providers().then((got) => {
    list = got;
    if (!list.length) return;
    providerSelect.replaceChildren(...list.map((p) => h('option', { value: p.id, text: p.label || p.id })));
    const preferred = list.find((p) => p.id === initial.provider) || list.find((p) => p.default) || list[0];
    providerSelect.value = preferred.id;
    syncModels();
    el.hidden = false;
  });
  providerSelect.addEventListener('change', () => {
    initial = {};
    syncModels();
  });

  return {
    el,
    value() {
      if (!list.length || !providerSelect.value) return {};
      const out = { provider: providerSelect.value };
      if (modelSelect.value) out.model = modelSelect.value;
      return out;
    },
  };
}

export { isDemo };
