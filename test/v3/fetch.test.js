'use strict';
// fetch() and createFetch() against real local servers (HTTPS on HTTP/1.1 and HTTP/2, plain HTTP): the
// WHATWG behaviours callers of undici, impit and wreq-js rely on — Request/RequestInit in, Node's
// own Response out, every body kind, redirect modes, abort, failures as TypeError with our cause.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const http2 = require('node:http2');
const os = require('node:os');
const path = require('node:path');
const { ReadableStream } = require('node:stream/web');
const { CookieJar } = require('tough-cookie');
const { fetch, createFetch, CycleTLSError } = require('../..');
const {
  startServer,
  startFirehose,
  certPair,
  closedPort,
  uniquePort,
  patternBytes,
  readBody,
} = require('../helpers/servers');

let server;
let h2;
let f;

/** An HTTP/2-only server: echoes method, headers and body as JSON. */
async function startH2() {
  const s = http2.createSecureServer({ ...certPair('server'), allowHTTP1: false }, async (req, res) => {
    const body = await readBody(req);
    res.setHeader('content-type', 'application/json');
    res.setHeader('set-cookie', ['h=1; Path=/', 'i=2; Path=/']);
    res.end(
      JSON.stringify({
        method: req.method,
        headers: req.headers,
        body: body.toString(),
        version: req.httpVersion,
      }),
    );
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: (p = '/') => `https://localhost:${s.address().port}${p}`,
    close: () => new Promise((r) => s.close(r)),
  };
}

beforeAll(async () => {
  server = await startServer();
  h2 = await startH2();
  f = createFetch({ port: uniquePort() });
});

afterAll(async () => {
  await f.close();
  await fetch.close();
  await Promise.all([server.close(), h2.close()]);
});

const echoOf = async (res) => {
  const j = await res.json();
  const headers = {};
  for (let i = 0; i < j.rawHeaders.length; i += 2)
    headers[j.rawHeaders[i].toLowerCase()] = j.rawHeaders[i + 1];
  return { ...j, headers, text: Buffer.from(j.body, 'base64').toString('utf8') };
};

describe('Response', () => {
  test("resolves to Node's global Response with status, statusText, url, headers, redirected", async () => {
    const res = await f(server.url('/echo'));
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.statusText).toBe('OK');
    expect(res.url).toBe(server.url('/echo'));
    expect(res.redirected).toBe(false);
    expect(res.type).toBe('basic');
    expect(res.headers).toBeInstanceOf(Headers);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toBeInstanceOf(globalThis.ReadableStream);
    expect((await res.json()).method).toBe('GET');
    expect(res.bodyUsed).toBe(true);
  });

  test('text(), arrayBuffer(), blob() read the body; a 404 resolves (not ok)', async () => {
    expect(await (await f(server.url('/text'))).text()).toBe('héllo wörld');
    const ab = await (await f(server.url('/bytes?n=5000&seed=3'))).arrayBuffer();
    expect(Buffer.from(ab).equals(patternBytes(5000, 3))).toBe(true);
    const blob = await (await f(server.url('/bytes?n=10'))).blob();
    expect(blob.size).toBe(10);
    expect(blob.type).toBe('application/octet-stream');
    const missing = await f(server.url('/status/404'));
    expect(missing.status).toBe(404);
    expect(missing.ok).toBe(false);
    expect(await missing.text()).toBe('status 404');
  });

  test('several Set-Cookie fields come back through getSetCookie(), over HTTP/1.1 and HTTP/2', async () => {
    const one = await f(server.url('/set-cookie'));
    expect(one.headers.getSetCookie()).toEqual(['c1=v1; Path=/', 'c2=v2; Path=/']);
    const two = await f(h2.url('/'));
    expect(two.headers.getSetCookie()).toEqual(['h=1; Path=/', 'i=2; Path=/']);
    expect((await two.json()).version).toBe('2.0');
  });

  test('204, 304 and HEAD responses have a null body', async () => {
    const none = await f(server.url('/status/204'));
    expect(none.status).toBe(204);
    expect(none.body).toBeNull();
    expect((await f(server.url('/status/304'))).body).toBeNull();
    const head = await f(server.url('/bytes?n=100'), { method: 'HEAD' });
    expect(head.body).toBeNull();
    expect(head.headers.get('content-length')).toBe('100');
  });

  test('the body is a web stream read as it arrives: a 4 MB body in chunks', async () => {
    const res = await f(server.url(`/bytes?n=${4 * 1024 * 1024}&seed=9`));
    const reader = res.body.getReader();
    const parts = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      expect(value).toBeInstanceOf(Uint8Array);
      parts.push(value);
    }
    expect(parts.length).toBeGreaterThan(1);
    expect(Buffer.concat(parts).equals(patternBytes(4 * 1024 * 1024, 9))).toBe(true);
  });
});

describe('RequestInit', () => {
  test('method: standard names upper-cased, others as given; CONNECT/TRACE/TRACK refused', async () => {
    expect((await echoOf(await f(server.url('/echo'), { method: 'post', body: 'x' }))).method).toBe('POST');
    expect((await echoOf(await f(server.url('/echo'), { method: 'delete' }))).method).toBe('DELETE');
    for (const method of ['CONNECT', 'trace', 'TRACK']) {
      await expect(f(server.url('/echo'), { method })).rejects.toThrow(TypeError);
    }
    await expect(f(server.url('/echo'), { method: 'BAD METHOD' })).rejects.toThrow(TypeError);
  });

  test('headers as a Headers, an array of pairs or a record', async () => {
    const asHeaders = new Headers({ 'X-One': '1' });
    asHeaders.append('X-Two', '2');
    let e = await echoOf(await f(server.url('/echo'), { headers: asHeaders }));
    expect([e.headers['x-one'], e.headers['x-two']]).toEqual(['1', '2']);
    e = await echoOf(
      await f(server.url('/echo'), {
        headers: [
          ['X-Pair', 'a'],
          ['X-Pair', 'b'],
        ],
      }),
    );
    expect(e.rawHeaders.filter((_, i) => i % 2 === 0 && /^x-pair$/i.test(e.rawHeaders[i])).length).toBe(2);
    e = await echoOf(await f(server.url('/echo'), { headers: { 'X-Record': 'r', Accept: 'text/plain' } }));
    expect(e.rawHeaders).toEqual(expect.arrayContaining(['X-Record', 'r']));
    expect(e.headers.accept).toBe('text/plain');
    await expect(f(server.url('/echo'), { headers: [['only-name']] })).rejects.toThrow(TypeError);
  });

  test('a Request as input (its method, headers and body), and init over it', async () => {
    const req = new Request(server.url('/echo'), {
      method: 'PUT',
      headers: { 'X-From': 'request' },
      body: 'payload',
    });
    let e = await echoOf(await f(req));
    expect(e.method).toBe('PUT');
    expect(e.headers['x-from']).toBe('request');
    expect(e.text).toBe('payload');
    expect(e.headers['content-length']).toBe('7');
    e = await echoOf(await f(new Request(server.url('/echo')), { method: 'PATCH', body: 'over' }));
    expect([e.method, e.text]).toEqual(['PATCH', 'over']);
    e = await echoOf(await f(new URL(server.url('/echo?q=1'))));
    expect(e.url).toBe('/echo?q=1');
  });

  test('GET/HEAD with a body and an unparsable URL reject with TypeError', async () => {
    await expect(f(server.url('/echo'), { body: 'x' })).rejects.toThrow(TypeError);
    await expect(f(server.url('/echo'), { method: 'HEAD', body: 'x' })).rejects.toThrow(TypeError);
    await expect(f('not a url')).rejects.toThrow(TypeError);
  });
});

describe('bodies of every WHATWG kind', () => {
  const post = async (body, init = {}) =>
    echoOf(await f(server.url('/echo'), { method: 'POST', body, ...init }));

  test('string: text/plain;charset=UTF-8 and an exact Content-Length', async () => {
    const e = await post('héllo');
    expect(e.text).toBe('héllo');
    expect(e.headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect(e.headers['content-length']).toBe('6');
    const typed = await post('{}', { headers: { 'content-type': 'application/json' } });
    expect(typed.headers['content-type']).toBe('application/json');
  });

  test('Buffer, Uint8Array, ArrayBuffer, DataView and other typed arrays: byte-exact', async () => {
    const bytes = patternBytes(3000, 5);
    const views = [
      bytes,
      new Uint8Array(bytes),
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
      new DataView(bytes.buffer, bytes.byteOffset, bytes.length),
      new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
    ];
    for (const body of views) {
      const e = await post(body);
      expect(Buffer.from(e.body, 'base64').equals(bytes)).toBe(true);
      expect(e.headers['content-type']).toBeUndefined();
    }
  });

  test('Blob: its bytes and its type', async () => {
    const e = await post(new Blob(['blob body'], { type: 'text/x-blob' }));
    expect(e.text).toBe('blob body');
    expect(e.headers['content-type']).toBe('text/x-blob');
  });

  test('URLSearchParams: application/x-www-form-urlencoded;charset=UTF-8', async () => {
    const e = await post(new URLSearchParams({ a: '1', b: 'x y' }));
    expect(e.text).toBe('a=1&b=x+y');
    expect(e.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });

  test('FormData: multipart/form-data with its boundary, binary parts byte-exact', async () => {
    const form = new FormData();
    form.append('field', 'value');
    form.append('file', new Blob([patternBytes(300, 2)], { type: 'application/octet-stream' }), 'data.bin');
    const e = await post(form);
    const boundary = /boundary=(.+)$/.exec(e.headers['content-type'])[1];
    expect(e.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    // The server's own multipart parser (undici's, behind Response.formData()) reads it back.
    const parsed = await new Response(Buffer.from(e.body, 'base64'), {
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    }).formData();
    expect(parsed.get('field')).toBe('value');
    const file = parsed.get('file');
    expect(file.name).toBe('data.bin');
    expect(Buffer.from(await file.arrayBuffer()).equals(patternBytes(300, 2))).toBe(true);
  });

  test("ReadableStream with duplex: 'half' streams the upload (chunked); without duplex a TypeError", async () => {
    const chunks = ['one ', 'two ', 'three'];
    const stream = () =>
      new ReadableStream({
        pull(c) {
          const next = chunks.shift();
          if (next === undefined) c.close();
          else c.enqueue(new TextEncoder().encode(next));
        },
      });
    const e = await post(stream(), { duplex: 'half' });
    expect(e.text).toBe('one two three');
    expect(e.headers['transfer-encoding']).toBe('chunked');
    await expect(f(server.url('/echo'), { method: 'POST', body: new ReadableStream() })).rejects.toThrow(
      /duplex/,
    );
  });

  test('a streamed upload over HTTP/2', async () => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('h2 '));
        c.enqueue(new TextEncoder().encode('stream'));
        c.close();
      },
    });
    const res = await f(h2.url('/'), { method: 'POST', body, duplex: 'half' });
    expect((await res.json()).body).toBe('h2 stream');
  });
});

describe('redirect', () => {
  test("'follow' (default): followed, url is the last URL, redirected true; 303 turns POST into GET", async () => {
    const res = await f(server.url('/redirect/3'));
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(server.url('/echo'));
    const seeOther = await echoOf(
      await f(server.url('/redirect/1?status=303'), { method: 'POST', body: 'x' }),
    );
    expect(seeOther.method).toBe('GET');
    const keep = await echoOf(
      await f(server.url('/redirect/1?status=307'), { method: 'POST', body: 'kept' }),
    );
    expect([keep.method, keep.text]).toEqual(['POST', 'kept']);
  });

  test("'manual': the redirect itself is the response", async () => {
    const res = await f(server.url('/redirect/1'), { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/echo');
    expect(res.redirected).toBe(false);
    expect(await res.text()).toBe('redirecting');
  });

  test("'error': a redirect rejects with TypeError", async () => {
    const err = await f(server.url('/redirect/1'), { redirect: 'error' }).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.cause).toBeInstanceOf(CycleTLSError);
    expect(err.cause.stage).toBe('redirect');
    const plain = await f(server.url('/echo'), { redirect: 'error' });
    expect(plain.status).toBe(200);
  });

  test('more than 20 redirects (or maxRedirects) reject with TypeError, cause ERR_TOO_MANY_REDIRECTS', async () => {
    const err = await f(server.url('/redirect/21')).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.cause.code).toBe('ERR_TOO_MANY_REDIRECTS');
    expect((await f(server.url('/redirect/20'))).status).toBe(200);
    const fewer = await f(server.url('/redirect/3'), { maxRedirects: 2 }).catch((e) => e);
    expect(fewer.cause.code).toBe('ERR_TOO_MANY_REDIRECTS');
  });

  test('a streamed body met by a 307 rejects (it cannot be sent again)', async () => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('once'));
        c.close();
      },
    });
    const err = await f(server.url('/redirect/1?status=307'), { method: 'POST', body, duplex: 'half' }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect(err.cause.code).toBe('ERR_PROTOCOL');
  });
});

describe('signal and failures', () => {
  test('an aborted signal rejects with its reason, before and during the request', async () => {
    const before = AbortSignal.abort();
    await expect(f(server.url('/echo'), { signal: before })).rejects.toBe(before.reason);
    const ac = new AbortController();
    const pending = f(server.url('/stall'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const err = await pending.catch((e) => e);
    expect(err).toBe(ac.signal.reason);
    expect(err.name).toBe('AbortError');
  });

  test('aborting while the body is read errors the body stream with the reason', async () => {
    const ac = new AbortController();
    const res = await f(server.url('/stall-body'), { signal: ac.signal });
    const reader = res.body.getReader();
    expect(Buffer.from((await reader.read()).value).toString()).toBe('partial');
    ac.abort();
    await expect(reader.read()).rejects.toBe(ac.signal.reason);
  });

  test('network failures reject with TypeError whose cause is the CycleTLSError (code kept)', async () => {
    const refused = await f(`https://localhost:${await closedPort()}/`).catch((e) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect(refused.message).toBe('fetch failed');
    expect(refused.cause).toBeInstanceOf(CycleTLSError);
    expect(refused.cause.code).toBe('ERR_CONNECT_REFUSED');
    const timedOut = await f(server.url('/stall'), { timeout: 0.3 }).catch((e) => e);
    expect(timedOut).toBeInstanceOf(TypeError);
    expect(timedOut.cause.code).toBe('ERR_TIMEOUT');
  });

  test('a body cut short errors the stream with TypeError (cause kept)', async () => {
    const cut = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('short');
      setTimeout(() => res.socket.destroy(), 20);
    });
    await new Promise((r) => cut.listen(0, '127.0.0.1', r));
    try {
      const res = await f(`http://127.0.0.1:${cut.address().port}/`);
      const err = await res.text().catch((e) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.cause).toBeInstanceOf(CycleTLSError);
    } finally {
      await new Promise((r) => cut.close(r));
    }
  });
});

describe('our options', () => {
  test('createFetch defaults (headers, cookieJar) apply; init options (profile) per call', async () => {
    const jar = new CookieJar();
    const bound = createFetch({ port: uniquePort(), cookieJar: jar, headers: { 'X-Default': 'd' } });
    try {
      await bound(server.url('/set-cookie'));
      const e = await echoOf(
        await bound(server.url('/echo'), { headers: { 'x-own': 'o' }, profile: 'firefox_153' }),
      );
      expect(e.headers.cookie).toBe('c1=v1; c2=v2');
      expect(e.headers['x-default']).toBe('d');
      expect(e.headers['x-own']).toBe('o');
      expect(e.headers['user-agent']).toMatch(/Firefox/);
    } finally {
      await bound.close();
    }
    await expect(bound(server.url('/echo'))).rejects.toThrow(TypeError);
  });

  test('a process that used the module-level fetch and never closed it exits by itself', async () => {
    const code = `require(${JSON.stringify(require.resolve('../..'))})
      .fetch(${JSON.stringify(server.url('/text'))}).then((r) => r.text()).then((t) => console.log(t));`;
    // A socket directory of its own: its engine (port 9119) meets no other process's.
    const socketDir = require('node:fs').mkdtempSync(
      require('node:path').join(require('node:os').tmpdir(), 'ctn-f-'),
    );
    const env = { ...process.env, CYCLETLS_NATIVE_SOCKET_DIR: socketDir };
    const out = await new Promise((resolve, reject) =>
      execFile(process.execPath, ['-e', code], { timeout: 30000, env }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()),
      ),
    );
    expect(out).toBe('héllo wörld');
    fs.rmSync(socketDir, { recursive: true, force: true });
  });

  test('the module-level fetch works on a shared client and closes with fetch.close()', async () => {
    const res = await fetch(server.url('/echo'));
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await fetch.close();
    // A later call makes a new shared client.
    expect((await fetch(server.url('/text'))).status).toBe(200);
  });
});

test('back-pressure: an unread body stops the engine reading the socket', async () => {
  const fast = await startFirehose(200 * 1024 * 1024, 0x62);
  try {
    const res = await f(fast.url, { timeout: 60 });
    const reader = res.body.getReader();
    await reader.read();
    // Nobody reads for a while: the server is as fast as it gets, yet what it could write stays small.
    await new Promise((r) => setTimeout(r, 1000));
    expect(fast.written()).toBeLessThan(40 * 1024 * 1024);
    await reader.cancel();
  } finally {
    await fast.close();
  }
}, 60000);
