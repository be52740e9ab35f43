'use strict';
// What a redirect carries to the next hop, against real servers. Credentials (Authorization, the
// caller's Cookie header, Proxy-Authorization, a Host override) belong to one origin: scheme, host
// and port. They once followed any redirect that kept `url.host`, e.g. https → http on the one port
// that serves both. `serverName` (the SNI override) belongs to the host it was given for.
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');

const initCycleTLS = require('../..');
const { certPair, uniquePort } = require('../helpers/servers');

let client;
let dual;
let other;

/** /to?url=U → 302 to U; anything else → the request's headers and SNI as JSON. */
function routes(req, res) {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/to') {
    res.statusCode = 302;
    res.setHeader('Location', url.searchParams.get('url'));
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.end(
    JSON.stringify({
      scheme: req.socket.encrypted ? 'https' : 'http',
      headers: req.headers,
      servername: req.socket.encrypted ? req.socket.servername || null : null,
    }),
  );
}

/**
 * One TCP port serving both https and http: the first byte of a connection tells a TLS handshake
 * (0x16) from a plain request, and the connection is relayed to the matching server.
 */
async function startDualServer() {
  const listen = (server) =>
    new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  const tlsServer = https.createServer(certPair('server'), routes);
  const plainServer = http.createServer(routes);
  const inner = { tls: await listen(tlsServer), plain: await listen(plainServer) };
  const sockets = new Set();
  const track = (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const front = net.createServer((socket) => {
    track(socket);
    socket.once('data', (first) => {
      const upstream = net.connect(first[0] === 0x16 ? inner.tls : inner.plain, '127.0.0.1');
      track(upstream);
      upstream.write(first);
      socket.pipe(upstream).pipe(socket);
      upstream.on('close', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
    });
  });
  const port = await listen(front);
  return {
    port,
    url: (scheme, host, p) => `${scheme}://${host}:${port}${p}`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        tlsServer.close();
        plainServer.close();
        front.close(() => resolve());
      }),
  };
}

const CREDENTIALS = {
  Authorization: 'Bearer secret-token',
  Cookie: 'session=caller-cookie',
  'Proxy-Authorization': 'Basic cHJveHk6cGFzcw==',
};

/** Follows one redirect from `from` to `to` carrying the caller's credentials; the final hop's view. */
async function hop(from, to, options = {}) {
  const r = await client.get(`${from}/to?url=${encodeURIComponent(`${to}/echo`)}`, {
    headers: { ...CREDENTIALS },
    ...options,
  });
  expect(r.status).toBe(200);
  expect(r.redirects).toBe(1);
  return r.data;
}

function carried(view) {
  return {
    authorization: view.headers.authorization,
    cookie: view.headers.cookie,
    proxyAuthorization: view.headers['proxy-authorization'],
  };
}

const DROPPED = { authorization: undefined, cookie: undefined, proxyAuthorization: undefined };
const KEPT = {
  authorization: CREDENTIALS.Authorization,
  cookie: CREDENTIALS.Cookie,
  proxyAuthorization: CREDENTIALS['Proxy-Authorization'],
};

beforeAll(async () => {
  dual = await startDualServer();
  other = await startDualServer();
  client = await initCycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  if (client) await client.exit();
  await Promise.all([dual?.close(), other?.close()]);
});

describe('credentials follow a redirect only within one origin (scheme, host, port)', () => {
  test('the same origin keeps them', async () => {
    const view = await hop(dual.url('https', 'localhost', ''), dual.url('https', 'localhost', ''));
    expect(view.scheme).toBe('https');
    expect(carried(view)).toEqual(KEPT);
  });

  test('the same origin over plain http keeps them', async () => {
    const view = await hop(dual.url('http', 'localhost', ''), dual.url('http', 'localhost', ''));
    expect(carried(view)).toEqual(KEPT);
  });

  test('https → http on the same host and port drops them', async () => {
    const view = await hop(dual.url('https', 'localhost', ''), dual.url('http', 'localhost', ''));
    expect(view.scheme).toBe('http');
    expect(carried(view)).toEqual(DROPPED);
  });

  test('http → https on the same host and port drops them', async () => {
    const view = await hop(dual.url('http', 'localhost', ''), dual.url('https', 'localhost', ''));
    expect(view.scheme).toBe('https');
    expect(carried(view)).toEqual(DROPPED);
  });

  test('another port on the same host drops them', async () => {
    const view = await hop(dual.url('https', 'localhost', ''), other.url('https', 'localhost', ''));
    expect(carried(view)).toEqual(DROPPED);
  });

  test('another host on the same port (localhost → 127.0.0.1) drops them', async () => {
    const view = await hop(dual.url('https', 'localhost', ''), dual.url('https', '127.0.0.1', ''));
    expect(carried(view)).toEqual(DROPPED);
  });

  test("the cookies option is the caller's Cookie too: dropped across origins, kept within one", async () => {
    const cookies = { chosen: 'by-caller' };
    let r = await client.get(
      `${dual.url('https', 'localhost', '/to')}?url=${encodeURIComponent(dual.url('http', 'localhost', '/echo'))}`,
      { cookies },
    );
    expect(r.data.headers.cookie).toBeUndefined();
    r = await client.get(
      `${dual.url('https', 'localhost', '/to')}?url=${encodeURIComponent(dual.url('https', 'localhost', '/echo'))}`,
      { cookies },
    );
    expect(r.data.headers.cookie).toBe('chosen=by-caller');
  });
});

describe('serverName (the SNI override) stays with its host', () => {
  const options = { serverName: 'sni-override.test', insecureSkipVerify: true };

  test('a redirect on the same host keeps it, even to another port', async () => {
    expect(
      (await hop(dual.url('https', 'localhost', ''), dual.url('https', 'localhost', ''), options)).servername,
    ).toBe('sni-override.test');
    expect(
      (await hop(dual.url('https', 'localhost', ''), other.url('https', 'localhost', ''), options))
        .servername,
    ).toBe('sni-override.test');
  });

  test("a redirect to another host sends that host's own name", async () => {
    const view = await hop(dual.url('https', '127.0.0.1', ''), other.url('https', 'localhost', ''), options);
    expect(view.servername).toBe('localhost');
  });
});
