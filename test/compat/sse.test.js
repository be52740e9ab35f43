'use strict';
// Mirrors cycletls 2.0.5 tests/sse.test.ts: 2 of its 2 tests (an event stream read by a plain GET, as text and as a
// `responseType: 'stream'`), against a local SSE server that sends three events and ends.
const { compatSuite } = require('./helpers/suite');
const {
  startSseServer,
  drain,
  FIREFOX_87_JA3: ja3,
  FIREFOX_87_UA: userAgent,
} = require('./helpers/stand-ins');

const env = compatSuite({ server: startSseServer }, { client: { port: 9622 } });

function parseEvents(text) {
  const events = [];
  let current = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('event:')) current.event = line.slice(6).trim();
    else if (line.startsWith('id:')) current.id = line.slice(3).trim();
    else if (line.startsWith('data:')) current.data = line.slice(5).trim();
    else if (line === '' && current.data) {
      events.push(current);
      current = {};
    }
  }
  return events;
}

test('a plain GET reads the whole event stream', async () => {
  const response = await env.cycleTLS.get(env.server.url(), {
    ja3,
    userAgent,
    headers: { Accept: 'text/event-stream' },
  });
  expect(response.status).toBe(200);
  const contentType = response.headers['content-type'] || response.headers['Content-Type'];
  expect(contentType).toBeDefined();
  expect(Array.isArray(contentType) ? contentType[0] : contentType).toContain('text/event-stream');
  const events = parseEvents(await response.text());
  expect(events.length).toBeGreaterThan(0);
  expect(events[0].event).toBe('message');
  expect(events[0].data).toContain('Event');
});

test("responseType stream yields the event stream's text", async () => {
  const response = await env.cycleTLS.get(env.server.url(), {
    ja3,
    userAgent,
    headers: { Accept: 'text/event-stream' },
    responseType: 'stream',
  });
  expect(response.status).toBe(200);
  const text = (await drain(response.data)).toString();
  expect(text.length).toBeGreaterThan(0);
  expect(text).toContain('event: message');
  expect(text).toContain('data: Event');
});
