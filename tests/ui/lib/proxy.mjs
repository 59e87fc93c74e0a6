// A tiny HTTP load balancer for the tests: round-robin over replicas, failing over to the next
// on a connection error (a dead replica), streaming responses through unbuffered (SSE).
// `route(req)` can pin a request to a replica index (it still fails over when that one is down).

import http from 'node:http';

export async function startProxy(upstreams, { route = null } = {}) {
  let next = 0;
  const log = [];
  const open = new Set(); // { upstream, req, res, path }
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks)));
  });

  function order(req) {
    const n = upstreams.length;
    let first = route ? route(req) : null;
    if (first == null || first < 0 || first >= n) {
      first = next % n;
      next += 1;
    }
    return Array.from({ length: n }, (_, i) => (first + i) % n);
  }

  function forward(req, res, body) {
    const candidates = order(req);
    const attempt = (k) => {
      if (k >= candidates.length) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'bad_gateway', message: 'no replica answered' } }));
        return;
      }
      const index = candidates[k];
      const target = new URL(upstreams[index].url);
      const headers = { ...req.headers, host: target.host, 'x-forwarded-for': req.socket.remoteAddress };
      headers.connection = 'close';
      const up = http.request({
        host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false,
      }, (upRes) => {
        const entry = { upstream: index, name: upstreams[index].name, method: req.method, path: req.url, status: upRes.statusCode, res };
        log.push({ ...entry, res: undefined });
        open.add(entry);
        const done = () => open.delete(entry);
        res.on('close', () => {
          done();
          upRes.destroy();
        });
        upRes.on('end', done);
        // The replica died mid-response: the client must see a broken connection, not an end.
        const broken = () => {
          done();
          res.destroy();
        };
        upRes.on('error', broken);
        upRes.on('close', () => {
          if (!upRes.complete) broken();
        });
        res.writeHead(upRes.statusCode, upRes.headers);
        res.flushHeaders();
        upRes.on('data', (chunk) => res.write(chunk));
        upRes.on('end', () => res.end());
      });
      up.on('error', (e) => {
        if (!res.headersSent && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH'].includes(e.code)) {
          attempt(k + 1);
        } else res.destroy();
      });
      up.end(body);
    };
    attempt(0);
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    setRoute(fn) {
      route = fn;
    },
    /** Responses still streaming (e.g. SSE), with the replica serving each. */
    streaming(pathPart) {
      return [...open].filter((e) => e.path.includes(pathPart)).map((e) => ({ upstream: e.upstream, name: e.name, path: e.path }));
    },
    /** Cuts every client connection that is streaming `pathPart` (a network drop). */
    drop(pathPart) {
      for (const e of open) if (e.path.includes(pathPart)) e.res.destroy();
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
