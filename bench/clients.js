'use strict';
// One adapter per client under test. Each factory resolves to
//   { get(url) -> Promise<{ status, body: Uint8Array | ArrayBuffer, proto, protocol? }>, close() -> Promise }
// where `proto` = the server's X-Bench-Proto response header ($server_protocol: the HTTP version the
// server saw for this request, 'HTTP/1.1' or 'HTTP/2.0') and `protocol` = what the client itself
// reports, where it does (cycletls-native: the negotiated ALPN); `resumed` = X-Bench-Resumed
// ($ssl_session_reused: 'r' when the connection's TLS session was resumed, '.' when not). Only required inside the per-cell
// child process (bench/client.js). No client is configured to prefer or force an HTTP version:
// each one negotiates by ALPN with its defaults (undici needs allowH2 to offer h2 at all), except in
// the HTTP/3 rows (opts.http3), where ours and impit are asked for HTTP/3 only.
const path = require('node:path');

// A response header's value from any of the clients' header shapes: WHATWG Headers (get),
// Node-style lower-case objects, cycletls's Go-canonical { 'X-Bench-Proto': ['HTTP/2.0'] }, tuples.
function header(h, name) {
  if (!h) return undefined;
  let v;
  if (typeof h.get === 'function') v = h.get(name);
  else if (Array.isArray(h)) {
    const t = h.find((e) => Array.isArray(e) && String(e[0]).toLowerCase() === name);
    v = t && t[1];
  } else {
    const k = Object.keys(h).find((x) => x.toLowerCase() === name);
    v = k === undefined ? undefined : h[k];
  }
  if (Array.isArray(v)) v = v[0];
  return v == null ? undefined : String(v);
}

// Clients the bench does not send through a proxy (the proxy-* workloads skip them, saying why).
const NO_PROXY = {
  undici: 'not configured here (undici needs a ProxyAgent, CONNECT only)',
};

// A fetch()-style response (WHATWG Headers) in the shape client.js reads.
const withHeaders = (r, body) => ({
  status: r.status,
  body,
  proto: header(r.headers, 'x-bench-proto'),
  resumed: header(r.headers, 'x-bench-resumed'),
});

const rndPort = (base, span) => base + Math.floor(Math.random() * span);

function cycleLike(modPath, port, extra = {}) {
  return async (opts = {}) => {
    const initCycleTLS = require(modPath);
    const client = await initCycleTLS({ port });
    if (opts.proxy) extra = { ...extra, proxy: opts.proxy }; // per request, as cycletls takes it
    return {
      async get(url) {
        const r = await client(
          url,
          { insecureSkipVerify: true, responseType: 'arraybuffer', ...extra },
          'get',
        );
        return {
          status: r.status,
          body: r.data,
          err: r.status === 200 ? undefined : r.data,
          proto: header(r.headers, 'x-bench-proto'),
          resumed: header(r.headers, 'x-bench-resumed'),
          protocol: r.protocol,
        };
      },
      close: () => client.exit(),
    };
  };
}

const CLIENTS = {
  // ours: the project root (package.json "main" = dist/index.js), the only process on its port
  'cycletls-native': (opts) =>
    cycleLike(
      path.resolve(__dirname, '..'),
      rndPort(10000, 20000),
      opts.http3 ? { forceHTTP3: true } : {},
    )(opts),
  // ours, another checkout (CTN_BENCH_BASELINE=/path/to/checkout, built): a before/after comparison of a
  // change in one run. Not among the default clients.
  'cycletls-native-baseline': (opts) => {
    if (!process.env.CTN_BENCH_BASELINE)
      throw new Error('cycletls-native-baseline needs CTN_BENCH_BASELINE=<checkout>');
    return cycleLike(path.resolve(process.env.CTN_BENCH_BASELINE), rndPort(10000, 20000))(opts);
  },
  // ours, as a second process on the port: the engine runs in a host process (a child of this one,
  // so its CPU is measured too) and every request crosses the process link
  'cycletls-native-remote': async (opts) => {
    const { spawn } = require('node:child_process');
    const port = rndPort(10000, 20000);
    const host = spawn(process.execPath, [path.join(__dirname, 'lib', 'share-host.js'), String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve, reject) => {
      let out = '';
      host.stdout.on('data', (d) => {
        out += d;
        if (/READY host/.test(out)) resolve();
        else if (/FAILED|READY client/.test(out)) reject(new Error(`share host: ${out.trim()}`));
      });
      host.on('exit', (code) => reject(new Error(`share host exited (${code}): ${out.trim()}`)));
    });
    const c = await cycleLike(path.resolve(__dirname, '..'), port)(opts);
    return {
      get: c.get,
      close: async () => {
        await c.close();
        host.kill('SIGKILL');
      },
    };
  },
  // cycletls 2.0.5 with its defaults: a new TLS connection per request
  cycletls: (opts) => cycleLike('cycletls', opts.cyclePort)(opts),
  // cycletls 2.0.5 with enableConnectionReuse (known to fail against HTTP/1.1-only servers; works on h2)
  'cycletls-reuse': (opts) => cycleLike('cycletls', opts.cyclePort, { enableConnectionReuse: true })(opts),

  // keep-alive Agent (a pool per origin, connections unlimited); allowH2 lets it take h2 when the
  // server selects it by ALPN (undici 7 default: false = HTTP/1.1 only); on h2 it multiplexes up to
  // maxConcurrentStreams (default 100, capped by the server's SETTINGS) streams per connection
  undici: async (opts) => {
    if (opts.proxy) throw new Error(NO_PROXY.undici);
    const { Agent, request } = require('undici');
    const dispatcher = new Agent({ allowH2: true, connect: { rejectUnauthorized: false } });
    return {
      async get(url) {
        const r = await request(url, { dispatcher });
        return {
          status: r.statusCode,
          body: await r.body.arrayBuffer(),
          proto: header(r.headers, 'x-bench-proto'),
          resumed: header(r.headers, 'x-bench-resumed'),
        };
      },
      close: () => dispatcher.close(),
    };
  },

  impit: async (opts) => {
    const { Impit } = require('impit');
    const impit = new Impit({
      ignoreTlsErrors: true,
      browser: 'chrome',
      ...(opts.proxy ? { proxyUrl: opts.proxy } : {}),
      ...(opts.http3 ? { http3: true } : {}),
    });
    const init = opts.http3 ? { forceHttp3: true } : undefined;
    return {
      async get(url) {
        const r = await impit.fetch(url, init);
        return withHeaders(r, await r.arrayBuffer());
      },
      close: async () => {},
    };
  },

  // a Session keeps wreq's connection pool (standalone fetch() opens a connection per call)
  'wreq-js': async (opts) => {
    const { createSession } = require('wreq-js');
    const session = await createSession({
      browser: 'chrome',
      insecure: true,
      ...(opts.proxy ? { proxy: opts.proxy } : {}),
    });
    return {
      async get(url) {
        const r = await session.fetch(url);
        return withHeaders(r, await r.arrayBuffer());
      },
      close: () => session.close(),
    };
  },
};

module.exports = {
  CLIENTS,
  NO_PROXY,
  DEFAULT_CLIENTS: Object.keys(CLIENTS).filter((c) => c !== 'cycletls-native-baseline'),
};
