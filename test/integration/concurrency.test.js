'use strict';
// Many requests in flight: every response must reach exactly the caller that sent it.
const initCycleTLS = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');

let server;
beforeAll(async () => {
  server = await startServer({
    handler: (req, res) => {
      // Each response body is unique and derived from the request, so a crossed answer shows.
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const seq = req.headers['x-seq'];
        const body = JSON.stringify({
          seq,
          url: req.url,
          echo: Buffer.concat(chunks).toString(),
          pad: 'x'.repeat(Number(seq) % 3000),
        });
        // Vary timing so responses complete out of order.
        setTimeout(() => res.end(body), Number(seq) % 7);
      });
    },
  });
});
afterAll(() => server.close());

async function pool(n, inFlight, fn) {
  let next = 0;
  const results = new Array(n);
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}

test('2000 requests with 64 in flight, each body unique: zero crossed responses', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  const results = await pool(2000, 64, (i) =>
    client.post(server.url('/same'), { headers: { 'x-seq': String(i) }, body: `body-${i}` }),
  );
  const crossed = results.filter(
    (r, i) =>
      r.status !== 200 ||
      r.data.seq !== String(i) ||
      r.data.echo !== `body-${i}` ||
      r.data.pad.length !== i % 3000,
  );
  expect(crossed).toHaveLength(0);
  const ids = new Set(results.map((r) => r.requestId));
  expect(ids.size).toBe(2000);
  const { engine } = client.stats();
  expect(engine.requestsInFlight).toBe(0);
  expect(engine.connectionsOpened).toBeLessThanOrEqual(64);
  await client.exit();
});

test('two clients on one port interleave without crossing', async () => {
  const port = uniquePort();
  const a = await initCycleTLS({ port });
  const b = await initCycleTLS({ port });
  expect(a.stats().engine.clients).toBe(2);
  const calls = [];
  for (let i = 0; i < 300; i++) {
    const c = i % 2 ? a : b;
    calls.push(c.get(server.url('/x'), { headers: { 'x-seq': String(i) } }).then((r) => [i, r]));
  }
  for (const [i, r] of await Promise.all(calls)) expect(r.data.seq).toBe(String(i));
  await a.exit();
  await b.exit();
});
