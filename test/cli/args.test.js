// The CLI's pure parts: curl's argument conventions, the Netscape cookie file, -w formatting, the exit
// code table and the progress line.
'use strict';
const { CookieJar } = require('tough-cookie');

const { parseArgs, parseFormPart, UsageError } = require('../../dist/cli/args');
const { loadCookieFile, formatCookieFile } = require('../../dist/cli/cookie-file');
const { formatWriteOut } = require('../../dist/cli/write-out');
const { exitCodeFor } = require('../../dist/cli/exit-codes');
const { progressLine, humanBytes } = require('../../dist/cli/progress');
const { errorCodes } = require('../../dist/errors');

describe('parseArgs: curl conventions', () => {
  test('combined short flags, a value glued on or in the next argument', () => {
    const o = parseArgs([
      '-sSLk',
      '-XPOST',
      '-H',
      'A: 1',
      '-HB: 2',
      '-ofile',
      '-w',
      '%{http_code}',
      'https://x.test/',
    ]);
    expect([o.silent, o.showError, o.location, o.insecure]).toEqual([true, true, true, true]);
    expect(o.method).toBe('POST');
    expect(o.headers).toEqual(['A: 1', 'B: 2']);
    expect(o.outputs).toEqual(['file']);
    expect(o.writeOut).toBe('%{http_code}');
    expect(o.urls).toEqual(['https://x.test/']);
  });

  test('a value option inside a combination takes the rest of it, or the next argument when last', () => {
    expect(parseArgs(['-sofile', 'u']).outputs).toEqual(['file']);
    expect(parseArgs(['-so', 'file', 'u']).outputs).toEqual(['file']);
  });

  test('--opt=value and --opt value; --no-<flag>; repeated -d kept in order', () => {
    const o = parseArgs([
      '--max-time=2.5',
      '--connect-timeout',
      '1',
      '--no-compressed',
      '-d',
      'a=1',
      '--data-binary',
      '@f',
      'u',
    ]);
    expect(o.maxTime).toBe(2.5);
    expect(o.connectTimeout).toBe(1);
    expect(o.compressed).toBe(false);
    expect(o.data).toEqual([
      { kind: 'ascii', value: 'a=1' },
      { kind: 'binary', value: '@f' },
    ]);
  });

  test('defaults: compressed on, redirects not followed, 50 when followed', () => {
    const o = parseArgs(['u']);
    expect(o.compressed).toBe(true);
    expect(o.location).toBe(false);
    expect(o.maxRedirs).toBe(50);
  });

  test('everything after -- is a URL; --impersonate is --profile', () => {
    const o = parseArgs(['--impersonate', 'firefox', '--', '-not-an-option']);
    expect(o.profile).toBe('firefox');
    expect(o.urls).toEqual(['-not-an-option']);
  });

  test('usage errors: unknown options, a missing value, a value on a flag, a bad number', () => {
    expect(() => parseArgs(['--nope'])).toThrow(UsageError);
    expect(() => parseArgs(['-Z'])).toThrow('option -Z: is unknown');
    expect(() => parseArgs(['-o'])).toThrow('option -o: requires parameter');
    expect(() => parseArgs(['--insecure=1'])).toThrow('takes no value');
    expect(() => parseArgs(['--max-time', 'soon'])).toThrow('expected a number of seconds');
    expect(() => parseArgs(['--no-proxy'])).toThrow('is unknown');
  });

  test('-F parts: value, @file with type and filename, <file', () => {
    expect(parseFormPart('a=b;c')).toEqual({ name: 'a', value: 'b;c', source: 'value' });
    expect(parseFormPart('f=@x.bin;type=image/png;filename="y.png"')).toEqual({
      name: 'f',
      value: 'x.bin',
      source: 'file',
      type: 'image/png',
      filename: 'y.png',
    });
    expect(parseFormPart('t=<notes.txt')).toEqual({ name: 't', value: 'notes.txt', source: 'file-content' });
    expect(() => parseFormPart('novalue')).toThrow(UsageError);
  });
});

describe('Netscape cookie files', () => {
  test('load then format keeps every field; expired cookies are dropped on load', async () => {
    const now = Date.UTC(2030, 0, 1);
    const future = now / 1000 + 3600;
    const text = [
      '# Netscape HTTP Cookie File',
      `.example.com\tTRUE\t/\tTRUE\t${future}\ta\t1`,
      `#HttpOnly_www.example.com\tFALSE\t/app\tFALSE\t0\tb\tx\ty`,
      `example.com\tFALSE\t/\tFALSE\t${now / 1000 - 1}\told\t1`,
      'not a cookie line',
      '',
    ].join('\n');
    const jar = new CookieJar();
    expect(await loadCookieFile(jar, text, now)).toBe(2);
    const out = await formatCookieFile(jar, now);
    expect(out).toContain(`.example.com\tTRUE\t/\tTRUE\t${future}\ta\t1\n`);
    expect(out).toContain('#HttpOnly_www.example.com\tFALSE\t/app\tFALSE\t0\tb\tx\ty\n');
    expect(out).not.toContain('old');
  });

  test('subdomain and host-only flags decide where a cookie goes', async () => {
    const jar = new CookieJar();
    await loadCookieFile(
      jar,
      '.example.com\tTRUE\t/\tFALSE\t0\twide\t1\nexample.com\tFALSE\t/\tFALSE\t0\thost\t2\n',
    );
    expect(await jar.getCookieString('http://sub.example.com/')).toBe('wide=1');
    expect(await jar.getCookieString('http://example.com/')).toBe('wide=1; host=2');
  });
});

describe('-w', () => {
  const vars = {
    http_code: 200,
    http_version: '2',
    size_download: 5,
    time_total: 0.25,
    url_effective: 'https://x.test/',
    exitcode: 0,
  };
  const text = (fmt, v = vars, headers = []) =>
    formatWriteOut(fmt, v, headers)
      .map((p) => `${p.stream}:${p.text}`)
      .join('|');

  test('variables, escapes, %%, headers, stream switches', () => {
    expect(text('%{http_code} %{response_code} %{time_total}\\n%%')).toBe('stdout:200 200 0.250000\n%');
    expect(text('%{header{content-type}}', vars, ['Content-Type', 'a/b'])).toBe('stdout:a/b');
    expect(text('a%{stderr}b%{stdout}c')).toBe('stdout:a|stderr:b|stdout:c');
  });

  test('http_code is three digits (000 when nothing came back); %{onerror} cuts the rest when all went well', () => {
    expect(text('%{http_code}', { ...vars, http_code: 0 })).toBe('stdout:000');
    expect(text('ok%{onerror}failed')).toBe('stdout:ok');
    expect(text('ok%{onerror}failed', { ...vars, exitcode: 7 })).toBe('stdout:okfailed');
  });

  test('unknown variables print nothing and warn', () => {
    const warnings = [];
    expect(formatWriteOut('[%{nope}]', vars, [], (m) => warnings.push(m))).toEqual([
      { stream: 'stdout', text: '[]' },
    ]);
    expect(warnings).toEqual(["unknown --write-out variable: 'nope'"]);
  });
});

describe('exit codes', () => {
  test("curl's numbers for the common failures", () => {
    expect(exitCodeFor('ERR_DNS', 'dns')).toBe(6);
    expect(exitCodeFor('ERR_CONNECT_REFUSED', 'connect')).toBe(7);
    expect(exitCodeFor('ERR_CONNECT_TIMEOUT', 'connect')).toBe(28);
    expect(exitCodeFor('ERR_TIMEOUT', 'body')).toBe(28);
    expect(exitCodeFor('ERR_TLS_HANDSHAKE', 'tls')).toBe(35);
    expect(exitCodeFor('ERR_TLS_CERT', 'tls')).toBe(60);
    expect(exitCodeFor('ERR_TOO_MANY_REDIRECTS', 'redirect')).toBe(47);
    expect(exitCodeFor('ERR_PROXY', 'dns')).toBe(5);
    expect(exitCodeFor('ERR_PROXY', 'proxy')).toBe(97);
    expect(exitCodeFor('ERR_NOT_IMPLEMENTED', 'options')).toBe(4);
  });

  test('every stable error code has a non-zero exit code', () => {
    for (const code of errorCodes) expect(exitCodeFor(code, 'engine')).toBeGreaterThan(0);
  });
});

describe('progress line', () => {
  test('known total: percentage, bar, bytes, speed, time left', () => {
    expect(progressLine(512 * 1024, 1024 * 1024, 1000)).toBe(
      ' 50.0% [###############---------------] 512.0 KiB / 1.00 MiB  512.0 KiB/s  ETA 00:01',
    );
  });

  test('unknown total: bytes, speed and time so far', () => {
    expect(progressLine(2048, 0, 2000)).toBe('2.00 KiB  1.00 KiB/s  00:02');
    expect(humanBytes(999)).toBe('999 B');
  });
});
