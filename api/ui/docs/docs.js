// The API reference page: fetches /api/openapi.json and renders it with DOM APIs only (nodes and
// text, never markup strings or inline style), so it runs under the app's Content-Security-Policy.

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c != null) node.append(c instanceof Node ? c : String(c));
  }
  return node;
};

// A light subset of Markdown: paragraphs, `code` and **bold**.
const inline = (text) => {
  const out = [];
  for (const part of String(text).split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
    if (part.startsWith('`') && part.endsWith('`') && part.length > 1) out.push(el('code', {}, part.slice(1, -1)));
    else if (part.startsWith('**') && part.endsWith('**')) out.push(el('strong', {}, part.slice(2, -2)));
    else if (part) out.push(part);
  }
  return out;
};
const paragraphs = (text) => String(text || '').split(/\n\s*\n/).map((p) => el('p', {}, inline(p.replace(/\n/g, ' '))));

const refName = (ref) => ref.split('/').pop();

function schemaSummary(schema) {
  if (!schema) return '';
  if (schema.$ref) return refName(schema.$ref);
  if (schema.type === 'array') return `${schemaSummary(schema.items)}[]`;
  if (schema.oneOf) return schema.oneOf.map(schemaSummary).join(' | ');
  if (schema.allOf) return schema.allOf.map(schemaSummary).join(' & ');
  const t = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type || 'any';
  return schema.format ? `${t} (${schema.format})` : t;
}

function schemaBlock(name, schema) {
  return el('details', { id: `schema-${name}` }, el('summary', {}, el('code', {}, name)),
    el('pre', {}, JSON.stringify(schema, null, 2)));
}

function operation(path, method, op, doc) {
  const id = op.operationId || `${method}-${path}`;
  const rows = (op.parameters || []).map((p) => el('tr', {},
    el('td', {}, el('code', {}, p.name)), el('td', {}, p.in), el('td', {}, schemaSummary(p.schema)),
    el('td', {}, p.required ? 'required' : ''), el('td', {}, inline(p.description || ''))));
  const body = op.requestBody?.content?.['application/json']?.schema;
  const responses = Object.entries(op.responses || {}).map(([status, r]) => {
    const resolved = r.$ref ? doc.components.responses[refName(r.$ref)] : r;
    const content = Object.entries(resolved.content || {})
      .map(([type, c]) => `${type}${c.schema ? `: ${schemaSummary(c.schema)}` : ''}`).join(', ');
    return el('tr', {}, el('td', {}, status), el('td', {}, inline(resolved.description || '')),
      el('td', {}, content));
  });
  const security = (op.security || []).map((s) => Object.keys(s)[0] || 'none').join(', ');
  return el('section', { class: 'op', id },
    el('h3', {}, el('span', { class: `method method-${method}` }, method), el('code', {}, path)),
    el('p', { class: 'muted' }, 'operationId ', el('code', {}, id), security ? ` · auth: ${security}` : ''),
    paragraphs(op.description || op.summary || ''),
    rows.length ? el('table', {}, el('tr', {}, ['name', 'in', 'type', '', 'description'].map((h) => el('th', {}, h))), rows) : null,
    body ? el('p', {}, 'Body: ', el('code', {}, schemaSummary(body))) : null,
    el('table', {}, el('tr', {}, ['status', 'meaning', 'content'].map((h) => el('th', {}, h))), responses));
}

async function main() {
  const status = document.getElementById('status');
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  let doc;
  try {
    const res = await fetch('/api/openapi.json', { headers: { accept: 'application/json' } });
    doc = await res.json();
  } catch (e) {
    status.textContent = `Could not load /api/openapi.json: ${e}`;
    return;
  }
  status.remove();
  document.title = `${doc.info.title} ${doc.info.version}`;
  main.append(el('section', { class: 'intro' }, el('h2', {}, `${doc.info.title} `, el('span', { class: 'muted' }, doc.info.version)),
    paragraphs(doc.info.description)));
  const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ['other'])[0];
      if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
      byTag.get(tag).ops.push([path, method, op]);
    }
  }
  for (const { tag, ops } of byTag.values()) {
    if (!ops.length) continue;
    nav.append(el('h2', {}, tag.name));
    main.append(el('h2', { id: `tag-${tag.name}` }, tag.name), paragraphs(tag.description || ''));
    for (const [path, method, op] of ops) {
      const id = op.operationId || `${method}-${path}`;
      nav.append(el('a', { href: `#${id}` }, el('span', { class: `method method-${method}` }, method), id));
      main.append(operation(path, method, op, doc));
    }
  }
  nav.append(el('h2', {}, 'schemas'));
  main.append(el('h2', { id: 'schemas' }, 'Schemas'));
  for (const [name, schema] of Object.entries(doc.components?.schemas || {})) {
    nav.append(el('a', { href: `#schema-${name}` }, name));
    main.append(schemaBlock(name, schema));
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

main();
