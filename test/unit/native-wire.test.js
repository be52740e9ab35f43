'use strict';
// The crossing into and out of the addon (lib/native-wire.ts, native/binding/marshal.cc): a spec
// goes in packed (a Float64Array of slots and one NUL-joined text), events come out as one flat
// array per batch. These tests send real requests to a real local server through the packed form,
// and hold the addon's checks of a packed spec that lib never sends (a caller of the binding is
// not trusted to pack right).
const http = require('node:http');

const native = require('../../dist/native');
const { decodeEvents, specPacker } = require('../../dist/native-wire');
const { unfold } = require('../helpers/events');

const addon = native.loadAddon();
let server;
let port;
const engines = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-empty', '');
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          raw: req.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
});

afterAll(async () => {
  await Promise.all(engines.map((e) => new Promise((resolve) => e.close(resolve))));
  await new Promise((resolve) => server.close(resolve));
});

/** An engine of our own; send(spec) resolves with every event of that request, in order. */
function newEngine() {
  // events: one step each (unfold); events.crossed: as they crossed from the addon.
  const awaiting = (resolve) => ({ events: Object.assign([], { crossed: [] }), resolve });
  const waiting = new Map();
  const engine = new addon.NativeEngine((batch) => {
    for (const e of batch) waiting.get(e.id)?.events.crossed.push(e);
    for (const e of unfold(batch)) {
      const w = waiting.get(e.id);
      if (!w) continue;
      w.events.push(e);
      if (e.type === 2 || e.type === 3) {
        waiting.delete(e.id);
        w.resolve(w.events);
      }
    }
  }, {});
  engines.push(engine);
  let next = 1;
  return {
    engine,
    send(spec) {
      const id = next++;
      return new Promise((resolve) => {
        waiting.set(id, awaiting(resolve));
        engine.request(id, spec);
      });
    },
    /** The same with a spec packed by the test itself (requestPacked, the addon's own method). */
    sendPacked(values, text) {
      const id = next++;
      return new Promise((resolve) => {
        waiting.set(id, awaiting(resolve));
        engine.requestPacked(id, values, text, undefined);
      });
    },
  };
}

const base = () => ({
  method: 'POST',
  tls: false,
  host: '127.0.0.1',
  port,
  target: '/path?q=1&r=%00',
  headers: [],
  wholeBody: true,
  decompress: false,
  timeoutMs: 10_000,
});

test('a packed spec arrives whole: empty and non-ASCII header values, the body, the target', async () => {
  const { send } = newEngine();
  const events = await send({
    ...base(),
    headers: ['x-empty', '', 'x-utf8', 'héllo wörld', 'x-last', 'v', 'content-length', '4'],
    body: Buffer.from('body'),
  });
  expect(events.map((e) => e.type)).toEqual([0, 1, 2]);
  const [head, body] = events;
  expect(head).toMatchObject({ status: 200, httpVersion: '1.1', reason: 'OK', alpn: '', reused: false });
  expect(head.headers).toEqual(expect.arrayContaining(['x-empty', '']));
  const seen = JSON.parse(body.data.toString('utf8'));
  expect(seen.method).toBe('POST');
  expect(seen.url).toBe('/path?q=1&r=%00');
  expect(seen.body).toBe('body');
  const raw = seen.raw;
  const at = raw.indexOf('x-empty');
  expect(raw.slice(at, at + 6)).toEqual([
    'x-empty',
    '',
    'x-utf8',
    Buffer.from('héllo wörld').toString('latin1'),
    'x-last',
    'v',
  ]);
});

test('a buffered response crosses as its head carrying the body and the end', async () => {
  // Which events share a crossing depends on when the JS thread takes the queue; a response the
  // server writes at once is read at once, so of several in a row, (nearly) every one is merged.
  const { send } = newEngine();
  let merged = 0;
  for (let i = 0; i < 10; i++) {
    const events = await send({ ...base(), headers: ['content-length', '1'], body: Buffer.from(String(i)) });
    expect(events.map((e) => e.type)).toEqual([0, 1, 2]);
    const [head, body] = events;
    expect(head).toMatchObject({ status: 200, reason: 'OK', httpVersion: '1.1' });
    expect(head.headers).toEqual(expect.arrayContaining(['content-type', 'application/json', 'x-empty', '']));
    expect(JSON.parse(body.data.toString('utf8'))).toMatchObject({ method: 'POST', body: String(i) });
    if (events.crossed.length === 1) {
      expect(events.crossed[0]).toMatchObject({ type: 0, ended: true, data: body.data });
      merged++;
    }
  }
  expect(merged).toBeGreaterThan(0);
});

test('a NUL in any string of a spec is refused before it is packed', () => {
  const { engine } = newEngine();
  expect(() => engine.request(100, { ...base(), headers: ['x-a', 'a\0b'] })).toThrow(
    'NativeEngine.request: invalid headers',
  );
  expect(() => engine.request(101, { ...base(), target: '/\0' })).toThrow(
    'NativeEngine.request: invalid target',
  );
  expect(() => engine.request(102, { ...base(), headers: ['x-a'] })).toThrow(
    'NativeEngine.request: invalid headers',
  );
  expect(() => engine.request(103, { ...base(), tls: 1 })).toThrow('NativeEngine.request: invalid tls');
  expect(() => engine.request(104, { ...base(), port: NaN })).toThrow('NativeEngine.request: invalid port');
  expect(() => engine.request(105, { ...base(), body: 'text' })).toThrow(
    'NativeEngine.request: invalid body',
  );
});

describe('the addon checks a packed spec itself', () => {
  const fields = addon.requestFields;
  const pack = specPacker(fields);
  const packed = (spec) => {
    const p = pack(spec);
    return { values: Float64Array.from(p.values), text: p.text, body: p.body };
  };
  const slot = (name) => fields.findIndex((f) => f.name === name);

  test('a text with a part too many or too few', () => {
    const { engine } = newEngine();
    const p = packed(base());
    expect(() => engine.requestPacked(1, p.values, p.text + '\0extra', undefined)).toThrow(
      'NativeEngine.request: invalid packed text',
    );
    const parts = p.text.split('\0');
    expect(() => engine.requestPacked(2, p.values, parts.slice(1).join('\0'), undefined)).toThrow(
      'NativeEngine.request: invalid packed text',
    );
    // Header strings announced that the text does not hold.
    const v = Float64Array.from(p.values);
    v[slot('headers')] = 4;
    expect(() => engine.requestPacked(3, v, p.text, undefined)).toThrow(
      'NativeEngine.request: invalid packed text',
    );
  });

  test('slots that do not fit their field', () => {
    const { engine } = newEngine();
    const p = packed(base());
    const bad = (name, value) => {
      const v = Float64Array.from(p.values);
      v[slot(name)] = value;
      return () => engine.requestPacked(1, v, p.text, undefined);
    };
    expect(bad('headers', 3)).toThrow('NativeEngine.request: invalid headers'); // odd
    expect(bad('headers', 2.5)).toThrow('NativeEngine.request: invalid headers'); // not whole
    expect(bad('headers', -2)).toThrow('NativeEngine.request: invalid headers');
    expect(bad('headers', 1e9)).toThrow('NativeEngine.request: invalid headers'); // more than the text holds
    expect(bad('tls', 2)).toThrow('NativeEngine.request: invalid tls');
    expect(bad('port', 70000)).toThrow('NativeEngine.request: invalid port');
    expect(bad('timeoutMs', -1)).toThrow('NativeEngine.request: invalid timeoutMs');
    expect(bad('timeoutMs', Infinity)).toThrow('NativeEngine.request: invalid timeoutMs');
    const noMethod = Float64Array.from(p.values);
    noMethod[slot('method')] = NaN; // required, absent (and its part gone from the text)
    expect(() =>
      engine.requestPacked(1, noMethod, p.text.split('\0').slice(1).join('\0'), undefined),
    ).toThrow('NativeEngine.request: invalid method');
    expect(bad('body', 1)).toThrow('NativeEngine.request: invalid body'); // announced, not given
    expect(() => engine.requestPacked(1, new Float64Array(3), '', undefined)).toThrow(
      'NativeEngine.request: invalid',
    );
    expect(() => engine.requestPacked(1, new Float32Array(fields.length), p.text, undefined)).toThrow(
      'NativeEngine.request: invalid packed values',
    );
    expect(() => engine.requestPacked(1, p.values, 42, undefined)).toThrow(
      'NativeEngine.request: invalid packed text',
    );
  });

  test("a caller's DNS answer: a string list and hex bytes, checked by lib and by the addon", async () => {
    const { engine, send } = newEngine();
    expect(() => engine.request(1, { ...base(), dnsAddresses: ['127.0.0.1\0'] })).toThrow(
      'NativeEngine.request: invalid dnsAddresses',
    );
    expect(() => engine.request(2, { ...base(), dnsAddresses: '127.0.0.1' })).toThrow(
      'NativeEngine.request: invalid dnsAddresses',
    );
    for (const hex of ['abc', 'zz', 12])
      expect(() => engine.request(3, { ...base(), dnsEchConfig: hex })).toThrow(
        'NativeEngine.request: invalid dnsEchConfig',
      );
    // What lib never sends, the addon refuses itself: a part that is not hex, a count past the text.
    const p = packed({ ...base(), dnsEchConfig: 'ab' });
    expect(p.text.endsWith('\0ab')).toBe(true);
    expect(() => engine.requestPacked(4, p.values, `${p.text.slice(0, -2)}zz`, undefined)).toThrow(
      'NativeEngine.request: invalid dnsEchConfig',
    );
    const v = Float64Array.from(p.values);
    v[slot('dnsAddresses')] = 1e9;
    expect(() => engine.requestPacked(5, v, p.text, undefined)).toThrow(
      'NativeEngine.request: invalid dnsAddresses',
    );
    // A name nobody resolves, dialled at the answer's address.
    const events = await send({
      ...base(),
      host: 'answer.test',
      dnsAddresses: ['127.0.0.1'],
      dnsEchConfig: '00ff',
      dnsAlpn: ['h2', 'http/1.1'],
    });
    expect(events.map((e) => e.type)).toEqual([0, 1, 2]);
    // An answer that is not addresses (lib checks; a caller of the binding might not): ERR_DNS.
    const [failed] = await send({ ...base(), host: 'answer.test', dnsAddresses: ['not-an-address'] });
    expect([failed.type, failed.code, failed.stage]).toEqual([3, 'ERR_DNS', 'dns']);
    expect(failed.message).toMatch(/gave not-an-address, not an IP address/);
  });

  test('a correct packed spec still goes through after refused ones', async () => {
    const { send } = newEngine();
    const events = await send(base());
    expect(events.map((e) => e.type)).toEqual([0, 1, 2]);
  });
});

test('decodeEvents reads every kind of event from a flat batch', () => {
  const data = Buffer.from('x');
  const flat = [
    0,
    1,
    200,
    'OK',
    '2.0',
    ['a', 'b'],
    'h2',
    'TLSv1.3',
    'TLS_AES_128_GCM_SHA256',
    7,
    true,
    false,
    'ja3\0akamai\0grease\0' + '0t',
    ['ja3n', 'ja4', 'ja4r'],
    undefined,
    false,
    1,
    1,
    data,
    5,
    1,
    10,
    2,
    1,
    3,
    2,
    'ERR_TIMEOUT',
    'headers',
    'too slow',
    4,
    0,
    'host',
    undefined,
    undefined,
    4,
    0,
    'failed',
    'ERR_LINK',
    'no',
  ];
  expect(decodeEvents(flat)).toEqual([
    {
      id: 1,
      type: 0,
      status: 200,
      reason: 'OK',
      httpVersion: '2.0',
      headers: ['a', 'b'],
      alpn: 'h2',
      tlsVersion: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
      connectionId: 7,
      reused: true,
      tlsResumed: false,
      fingerprint: 'ja3\0akamai\0grease\0' + '0t',
      fingerprintShape: ['ja3n', 'ja4', 'ja4r'],
      data: undefined,
      ended: false,
    },
    { id: 1, type: 1, data },
    { id: 1, type: 5, bytes: 10 },
    { id: 1, type: 2 },
    { id: 2, type: 3, code: 'ERR_TIMEOUT', stage: 'headers', message: 'too slow' },
    { id: 0, type: 4, notice: 'host' },
    { id: 0, type: 4, notice: 'failed', code: 'ERR_LINK', message: 'no' },
  ]);
  expect(() => decodeEvents([9, 1])).toThrow('unknown event type 9');
});

test('a head that carries its body and its end decodes to one head event with both', () => {
  const data = Buffer.from('whole');
  const flat = [
    0,
    3,
    200,
    'OK',
    '1.1',
    'a\0b',
    '',
    '',
    '',
    2,
    true,
    false,
    undefined,
    undefined,
    data,
    true,
    2,
    4,
  ];
  expect(decodeEvents(flat)).toEqual([
    {
      id: 3,
      type: 0,
      status: 200,
      reason: 'OK',
      httpVersion: '1.1',
      headers: ['a', 'b'],
      alpn: '',
      tlsVersion: '',
      cipher: '',
      connectionId: 2,
      reused: true,
      tlsResumed: false,
      fingerprint: undefined,
      fingerprintShape: undefined,
      data,
      ended: true,
    },
    { id: 4, type: 2 },
  ]);
});

test("a head's headers come NUL-joined (or as a list) and decode to [name, value, ...]", () => {
  const head = (headers) =>
    decodeEvents([
      0,
      1,
      200,
      'OK',
      '1.1',
      headers,
      '',
      '',
      '',
      1,
      false,
      false,
      undefined,
      undefined,
      undefined,
      false,
    ])[0].headers;
  expect(head('content-type\0text/plain\0x-empty\0\0x-last\0v')).toEqual([
    'content-type',
    'text/plain',
    'x-empty',
    '',
    'x-last',
    'v',
  ]);
  expect(head('')).toEqual([]);
  expect(head(['x-nul', 'a\0b'])).toEqual(['x-nul', 'a\0b']);
});

describe('a header list registered once and named by id', () => {
  const fields = addon.requestFields;
  const pack = specPacker(fields);
  const idSlot = fields.length; // the slot after the fields
  const headersSlot = fields.findIndex((f) => f.name === 'headers');
  const list = ['X-Second', 'b', 'x-first', 'A', 'x-empty', '', 'X-Utf8', 'héllo', 'ACCEPT', '*/*'];

  const rawSent = (events) => {
    expect(events.map((e) => e.type)).toEqual([0, 1, 2]);
    return JSON.parse(events[1].data.toString('utf8')).raw;
  };
  const sentHeaders = (raw) => {
    // What the server saw, without what the engine adds (Host, Content-Length).
    const out = [];
    for (let i = 0; i < raw.length; i += 2)
      if (!['host', 'content-length'].includes(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
    return out;
  };
  const latin1 = (l) => l.map((s) => Buffer.from(s).toString('latin1'));

  test('goes out exactly as registered: order, case and values', async () => {
    const { engine, sendPacked } = newEngine();
    const id = engine.registerHeaders(list);
    expect(id).toBeGreaterThan(0);
    const p = pack({ ...base(), method: 'GET', headers: [] }, id);
    expect(p.values[headersSlot]).toBeNaN();
    expect(p.values[idSlot]).toBe(id);
    expect(p.text.split('\0')).toEqual(['GET', '127.0.0.1', '/path?q=1&r=%00']); // no header strings
    const events = await sendPacked(Float64Array.from(p.values), p.text);
    expect(sentHeaders(rawSent(events))).toEqual(latin1(list));
  });

  test('lib registers a frozen list once per engine and sends the same bytes as inline', async () => {
    const { engine, send } = newEngine();
    let registered = 0;
    const register = engine.registerHeaders;
    // The addon's methods are read-only on its prototype: an own property shadows it.
    Object.defineProperty(engine, 'registerHeaders', {
      value(flat) {
        registered++;
        return register.call(this, flat);
      },
    });
    const frozen = Object.freeze([...list]);
    const first = sentHeaders(rawSent(await send({ ...base(), headers: frozen })));
    const second = sentHeaders(rawSent(await send({ ...base(), headers: frozen })));
    const inline = sentHeaders(rawSent(await send({ ...base(), headers: [...list] })));
    expect(registered).toBe(1);
    expect(first).toEqual(latin1(list));
    expect(second).toEqual(first);
    expect(inline).toEqual(first);
  });

  test('an id the engine never gave is refused with ERR_INTERNAL, never used', () => {
    const { engine } = newEngine();
    const id = engine.registerHeaders(['x-a', '1']);
    const p = pack(base(), 0);
    const withId = (value, headers = NaN) => {
      const v = Float64Array.from(p.values);
      v[idSlot] = value;
      v[headersSlot] = headers;
      return () => engine.requestPacked(1, v, p.text, undefined);
    };
    for (const stale of [id + 1, 0, -1, id + 0.5, Infinity, 2 ** 60]) {
      let err;
      try {
        withId(stale)();
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({
        code: 'ERR_INTERNAL',
        message: 'NativeEngine.request: the header list id names no registered list',
      });
    }
    // Another engine's id names nothing here.
    const { engine: other } = newEngine();
    expect(() => other.requestPacked(1, withIdValues(p.values, id), p.text, undefined)).toThrow(
      'names no registered list',
    );
    // Headers from two places at once.
    expect(withId(id, 0)).toThrow('NativeEngine.request: invalid headers');
    function withIdValues(values, value) {
      const v = Float64Array.from(values);
      v[idSlot] = value;
      v[headersSlot] = NaN;
      return v;
    }
  });

  test('registerHeaders refuses what is not a list of strings without NUL', () => {
    const { engine } = newEngine();
    for (const bad of [undefined, 'x-a', ['x-a'], ['x-a', 1], [{}, 'v'], ['x-a', 'a\0b'], ['x\0', 'v']])
      expect(() => engine.registerHeaders(bad)).toThrow('NativeEngine.registerHeaders: invalid headers');
    expect(engine.registerHeaders([])).toBeGreaterThan(0);
  });

  test('a full registry gives 0, and lib then sends the list inline', async () => {
    const { engine, send } = newEngine();
    let last = 0;
    for (let i = 0; i < 1024; i++) last = engine.registerHeaders(['x-n', String(i)]);
    expect(last).toBe(1024);
    expect(engine.registerHeaders(['x-n', 'more'])).toBe(0);
    const frozen = Object.freeze([...list]);
    expect(sentHeaders(rawSent(await send({ ...base(), headers: frozen })))).toEqual(latin1(list));
  });
});
