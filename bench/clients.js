'use strict';
// One adapter per client under test. Each factory resolves to
//   { get(url) -> Promise<{ status, body: Uint8Array | ArrayBuffer }>, close() -> Promise }
// and is only required inside the per-cell child process (bench/client.js).
const path = require('node:path');

const rndPort = (base, span) => base + Math.floor(Math.random() * span);

function cycleLike(modPath, port, extra = {}) {
  return async () => {
    const initCycleTLS = require(modPath);
    const client = await initCycleTLS({ port });
    return {
      async get(url) {
        const r = await client(url, { insecureSkipVerify: true, responseType: 'arraybuffer', ...extra }, 'get');
        return { status: r.status, body: r.data, err: r.status === 200 ? undefined : r.data };
      },
      close: () => client.exit(),
    };
  };
}

const CLIENTS = {
  // ours: the project root (package.json "main" = dist/index.js); init port is only an identifier
  'cycletls-native': (opts) => cycleLike(path.resolve(__dirname, '..'), rndPort(9300, 400))(opts),
  // cycletls 2.0.5 with its defaults: a new TLS connection per request
  cycletls: (opts) => cycleLike('cycletls', opts.cyclePort)(opts),
  // cycletls 2.0.5 with enableConnectionReuse (known to fail against HTTP/1.1-only servers)
  'cycletls-reuse': (opts) => cycleLike('cycletls', opts.cyclePort, { enableConnectionReuse: true })(opts),

  undici: async () => {
    const { Agent, request } = require('undici');
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    return {
      async get(url) {
        const r = await request(url, { dispatcher });
        return { status: r.statusCode, body: await r.body.arrayBuffer() };
      },
      close: () => dispatcher.close(),
    };
  },

  impit: async () => {
    const { Impit } = require('impit');
    const impit = new Impit({ ignoreTlsErrors: true, browser: 'chrome' });
    return {
      async get(url) {
        const r = await impit.fetch(url);
        return { status: r.status, body: await r.arrayBuffer() };
      },
      close: async () => {},
    };
  },

  // a Session keeps wreq's connection pool (standalone fetch() opens a connection per call)
  'wreq-js': async () => {
    const { createSession } = require('wreq-js');
    const session = await createSession({ browser: 'chrome', insecure: true });
    return {
      async get(url) {
        const r = await session.fetch(url);
        return { status: r.status, body: await r.arrayBuffer() };
      },
      close: () => session.close(),
    };
  },
};

module.exports = { CLIENTS, DEFAULT_CLIENTS: Object.keys(CLIENTS) };
