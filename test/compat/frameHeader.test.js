'use strict';
// Mirrors cycletls 2.0.5 tests/frameHeader.test.ts: 2 of its 2 tests (the JA3 a client sends exactly, and the
// HTTP/2 SETTINGS and WINDOW_UPDATE frames that follow a Chrome or a Firefox user agent when only `ja3` and
// `userAgent` are given), against our fingerprint echo (tls.peet.ws's fields: tls.ja3, user_agent, http2.sent_frames).
const { compatSuite } = require('./helpers/suite');
const { startEcho, CHROME_ALPS_JA3, FIREFOX_JA3, withCycleTLS } = require('./helpers/stand-ins');

const env = compatSuite({ echo: startEcho });

/** A sent frame as tls.peet.ws lists it: frame_type, length, settings as "NAME = value". */
function peetFrame(frame) {
  const out = { frame_type: frame.frame_type, length: frame.length };
  if (frame.settings) out.settings = frame.settings.map((s) => `${s.name} = ${s.value}`);
  if (frame.increment !== undefined) out.increment = frame.increment;
  return out;
}

const withClient = (fn) => withCycleTLS({ port: 9608 }, fn);

test("Chrome: the JA3 as given, the user agent, Chrome's SETTINGS and WINDOW_UPDATE", () =>
  withClient(async (cycleTLS) => {
    const UA =
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0.0.0 Safari/537.36';
    const response = await cycleTLS(env.echo.url(), { body: '', ja3: CHROME_ALPS_JA3, userAgent: UA });
    const result = await response.json();
    expect(result.tls.ja3).toEqual(CHROME_ALPS_JA3);
    expect(result.user_agent).toEqual(UA);
    // differs on purpose: TLS 1.3 is offered for a JA3 that lists supported_versions (43); cycletls offered only TLS 1.2
    // for a "771," string.
    expect(result.tls.negotiated.protocol).toBe('TLSv1.3');
    // differs on purpose: Chrome's SETTINGS as Chrome sends them since 106 (ENABLE_PUSH 0, no MAX_CONCURRENT_STREAMS or
    // MAX_FRAME_SIZE); cycletls's test expected an older Chrome's 1000 / 16384.
    expect(peetFrame(result.http2.sent_frames[0])).toMatchObject({
      frame_type: 'SETTINGS',
      length: 24,
      settings: [
        'HEADER_TABLE_SIZE = 65536',
        'ENABLE_PUSH = 0',
        'INITIAL_WINDOW_SIZE = 6291456',
        'MAX_HEADER_LIST_SIZE = 262144',
      ],
    });
    expect(peetFrame(result.http2.sent_frames[1])).toMatchObject({
      frame_type: 'WINDOW_UPDATE',
      increment: 15663105,
      length: 4,
    });
  }));

test("Firefox: the JA3 as given, Firefox's SETTINGS and WINDOW_UPDATE", () =>
  withClient(async (cycleTLS) => {
    const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:101.0) Gecko/20100101 Firefox/101.0';
    const response = await cycleTLS.get(env.echo.url(), { body: '', ja3: FIREFOX_JA3, userAgent: UA });
    const result = await response.json();
    expect(typeof result).toBe('object');
    expect(result.tls.ja3).toEqual(FIREFOX_JA3);
    // differs on purpose: ENABLE_PUSH 0 is sent, as Firefox does (cycletls's test expected the three other settings only).
    expect(peetFrame(result.http2.sent_frames[0])).toMatchObject({
      frame_type: 'SETTINGS',
      length: 24,
      settings: [
        'HEADER_TABLE_SIZE = 65536',
        'ENABLE_PUSH = 0',
        'INITIAL_WINDOW_SIZE = 131072',
        'MAX_FRAME_SIZE = 16384',
      ],
    });
    expect(peetFrame(result.http2.sent_frames[1])).toMatchObject({
      frame_type: 'WINDOW_UPDATE',
      increment: 12517377,
      length: 4,
    });
  }));
