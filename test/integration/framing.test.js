'use strict';
// Byte-exact HTTP/1.1 framing from a raw server: every way a response body can be delimited.
const initCycleTLS = require('../..');
const { startRawServer, uniquePort } = require('../helpers/servers');

let client;
beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
});
afterAll(async () => {
  await client.exit();
});

async function withRaw(onRequest, fn, options = {}) {
  const server = await startRawServer({ onRequest, ...options });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

test('content-length body, kept alive for the next request', async () => {
  await withRaw(
    (sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello'),
    async (s) => {
      for (let i = 0; i < 3; i++) {
        const r = await client.get(s.url('/'), { responseType: 'text' });
        expect(r.data).toBe('hello');
        expect(r.headers['X-A']).toEqual(['1']);
      }
      expect(s.stats.connections).toBe(1);
    },
  );
});

test('chunked body with extensions and trailers', async () => {
  const reply =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n';
  await withRaw(
    (sock) => sock.write(reply),
    async (s) => {
      const r = await client.get(s.url('/'), { responseType: 'text' });
      expect(r.data).toBe('hello, world');
      const again = await client.get(s.url('/'), { responseType: 'text' });
      expect(again.data).toBe('hello, world');
      expect(s.stats.connections).toBe(1);
    },
  );
});

test('close-delimited body (no length, no chunking) ends at EOF', async () => {
  await withRaw(
    (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
      sock.end();
    },
    async (s) => {
      const r = await client.get(s.url('/'), { responseType: 'text' });
      expect(r.status).toBe(200);
      expect(r.data).toBe('until the end');
    },
    { tls: false },
  );
});

test('HTTP/1.0 response without keep-alive closes the connection', async () => {
  await withRaw(
    (sock) => {
      sock.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
      sock.end();
    },
    async (s) => {
      expect((await client.get(s.url('/'), { responseType: 'text' })).data).toBe('ok');
      expect((await client.get(s.url('/'), { responseType: 'text' })).data).toBe('ok');
      expect(s.stats.connections).toBe(2);
    },
  );
});

test('interim 100 and 103 responses are skipped', async () => {
  await withRaw(
    (sock) =>
      sock.write(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n' +
          'HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone',
      ),
    async (s) => {
      const r = await client.post(s.url('/'), { body: 'x', responseType: 'text' });
      expect(r.status).toBe(201);
      expect(r.data).toBe('done');
    },
  );
});

test.each([
  ['204', 'HTTP/1.1 204 No Content\r\n\r\n'],
  ['304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n'],
])('%s has no body even with a content-length, and the connection is reused', async (_n, reply) => {
  await withRaw(
    (sock) => sock.write(reply),
    async (s) => {
      for (let i = 0; i < 2; i++) {
        const r = await client.get(s.url('/'), { responseType: 'arraybuffer' });
        expect(r.data.byteLength).toBe(0);
      }
      expect(s.stats.connections).toBe(1);
    },
  );
});

test('HEAD responses are bodiless despite their content-length', async () => {
  await withRaw(
    (sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'),
    async (s) => {
      const r = await client.head(s.url('/'));
      expect(r.status).toBe(200);
      expect(r.headers['Content-Length']).toEqual(['1000']);
      expect((await client.head(s.url('/'))).status).toBe(200);
      expect(s.stats.connections).toBe(1);
    },
  );
});

test('a body cut short is ERR_BODY_TRUNCATED, with the head kept', async () => {
  await withRaw(
    (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-H: v\r\n\r\nshort');
      sock.end();
    },
    async (s) => {
      const r = await client.get(s.url('/'));
      expect(r.error.code).toBe('ERR_BODY_TRUNCATED');
      expect(r.headers['X-H']).toEqual(['v']);
      await expect(client.get(s.url('/'), { rejectOnError: true })).rejects.toMatchObject({
        code: 'ERR_BODY_TRUNCATED',
        stage: 'body',
      });
    },
  );
});

test('a server that closes without answering is ERR_CONNECTION_CLOSED', async () => {
  await withRaw(
    (sock) => sock.end(),
    async (s) => {
      const r = await client.get(s.url('/'));
      expect(r.error.code).toBe('ERR_CONNECTION_CLOSED');
    },
  );
});

test('garbage instead of HTTP is ERR_PROTOCOL, and other requests are unaffected', async () => {
  await withRaw(
    (sock) => sock.write('SSH-2.0-OpenSSH\r\n\r\n'),
    async (s) => {
      const r = await client.get(s.url('/'));
      expect(r.error.code).toBe('ERR_PROTOCOL');
      expect(r.status).toBe(0);
    },
  );
  await withRaw(
    (sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    async (s) => {
      expect((await client.get(s.url('/'), { responseType: 'text' })).data).toBe('ok');
    },
  );
});

test('a response head over the limit is refused cleanly', async () => {
  await withRaw(
    (sock) => sock.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300 * 1024)}\r\n\r\n`),
    async (s) => {
      const r = await client.get(s.url('/'));
      expect(r.error.code).toBe('ERR_PROTOCOL');
    },
  );
});
