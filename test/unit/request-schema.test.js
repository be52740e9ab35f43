'use strict';
// The request schema is written once in C++ (native/core/request_fields.h) and once as the TS type
// lib/ builds (NativeRequestSpec in lib/native.ts). The addon exports its table: these tests hold
// the two against each other, and the specs lib/ really sends against the table.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const native = require('../../dist/native');
const { recordSpecs } = require('../helpers/spec-recorder');

/** An interface's members as lib/native.ts declares them: name -> { type, optional }. */
function declared(name) {
  const source = fs.readFileSync(path.join(root, 'lib', 'native.ts'), 'utf8');
  const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n?\\}`).exec(source)[1];
  const withoutComments = body.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const members = new Map();
  for (const m of withoutComments.matchAll(/(?<=^|;)\s*(\w+)(\??):\s*([^;]+);/gm)) {
    members.set(m[1], { type: m[3].trim(), optional: m[2] === '?' });
  }
  return members;
}

// The TS type each kind of field is declared with.
const TS_TYPE = {
  string: 'string',
  boolean: 'boolean',
  port: 'number',
  count: 'number',
  headers: 'string[]',
  bytes: 'Uint8Array',
  strings: 'string[]',
  hex: 'string',
};

const fields = native.loadAddon().requestFields;

test('the addon describes every field with a known kind, once', () => {
  expect(fields.length).toBeGreaterThan(20);
  expect(new Set(fields.map((f) => f.name)).size).toBe(fields.length);
  for (const f of fields) expect(Object.keys(TS_TYPE)).toContain(f.kind);
  expect(
    fields
      .filter((f) => f.required)
      .map((f) => f.name)
      .sort(),
  ).toEqual(['host', 'method', 'port', 'target']);
});

test("NativeRequestSpec declares exactly the fields of the table, each with its kind's type", () => {
  const spec = declared('NativeRequestSpec');
  expect([...spec.keys()].sort()).toEqual(fields.map((f) => f.name).sort());
  for (const f of fields) {
    const member = spec.get(f.name);
    expect({ name: f.name, type: member.type }).toEqual({ name: f.name, type: TS_TYPE[f.kind] });
    // What the engine cannot do without, the TS type cannot leave out.
    if (f.required)
      expect({ name: f.name, optional: member.optional }).toEqual({ name: f.name, optional: false });
  }
});

test("NativeEngineOptions declares exactly the engine's options, each a number, with ranges", () => {
  const options = native.nativeEngineOptions();
  const members = declared('NativeEngineOptions');
  expect([...members.keys()].sort()).toEqual(options.map((o) => o.name).sort());
  for (const [name, m] of members)
    expect({ name, type: m.type, optional: m.optional }).toEqual({ name, type: 'number', optional: true });
  for (const o of options)
    expect(Number.isInteger(o.min) && Number.isInteger(o.max) && o.min <= o.max).toBe(true);
});

test('constants(): the values lib/ shares with the engine', () => {
  expect(native.nativeConstants()).toEqual({
    consumerCreditBytes: 2 * 1024 * 1024,
    maxTimeoutMs: 365 * 24 * 3600 * 1000,
    defaultSharePort: 9119,
  });
  expect(Object.isFrozen(native.nativeConstants())).toBe(true);
});

describe('what lib/ sends', () => {
  let server;
  let url;
  let recorder;
  let sent;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${server.address().port}/schema?q=1`;
    recorder = recordSpecs();
    sent = recorder.sent;
  });

  afterAll(async () => {
    recorder.restore();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a request with many options set sends only fields of the table, each of its kind', async () => {
    const initCycleTLS = require(root);
    const client = await initCycleTLS({ shareAcrossProcesses: false });
    try {
      const r = await client(
        url,
        {
          body: 'x'.repeat(10),
          headers: { 'x-a': '1' },
          timeout: 5,
          connectTimeout: 2,
          tlsTimeout: 2,
          headersTimeout: 2,
          bodyIdleTimeout: 2,
          forceHTTP1: true,
          insecureSkipVerify: true,
          serverName: 'sni.test',
          decompress: true,
          maxResponseBytes: 1 << 20,
          responseType: 'text',
        },
        'post',
      );
      expect(r.status).toBe(200);
    } finally {
      await client.exit();
    }
    expect(sent.length).toBeGreaterThan(0);
    const byName = new Map(fields.map((f) => [f.name, f]));
    for (const spec of sent) {
      for (const [key, value] of Object.entries(spec)) {
        expect({ key, known: byName.has(key) }).toEqual({ key, known: true });
        if (value === undefined) continue;
        const { kind } = byName.get(key);
        const ok =
          kind === 'headers' || kind === 'strings'
            ? Array.isArray(value) && value.every((v) => typeof v === 'string')
            : kind === 'bytes'
              ? value instanceof Uint8Array
              : typeof value === TS_TYPE[kind];
        expect({ key, kind, ok }).toEqual({ key, kind, ok: true });
      }
      for (const f of fields.filter((x) => x.required)) expect(spec[f.name]).not.toBeUndefined();
    }
  });
});
