'use strict';
// cycletls 2.0.5's README examples, run as cycletls users run them: each JS/TS program of that README, read from an
// installed cycletls 2.0.5 at test time (nothing of it is copied here), is written to a file next to a
// node_modules/cycletls that is this package, and run with node in a child process. The only edits: URLs point at
// local stand-ins (httpbin, the fingerprint echo, proxies, a WebSocket + SSE server), and `initCycleTLS()` gets a
// port of its own. Four stream examples cannot run as printed under any runtime (`await` inside a non-async
// callback, and one string literal broken over two lines): they are checked to be syntax errors, then run once more
// with exactly those typos repaired. Where the README is found: $CYCLETLS_README, else the cycletls package of
// this checkout (a dev dependency) or of bench/; without one the file fails.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startHttpbin, imageBytes } = require('./helpers/httpbin');
const { startEcho, startLiveServer, FIREFOX_87_JA3 } = require('./helpers/stand-ins');
const { startHttpProxy, startSocksServer } = require('../helpers/proxies');

const ROOT = path.resolve(__dirname, '..', '..');

function findReadme() {
  const candidates = [
    process.env.CYCLETLS_README,
    path.join(ROOT, 'node_modules', 'cycletls', 'README.md'),
    path.join(ROOT, 'bench', 'node_modules', 'cycletls', 'README.md'),
  ].filter(Boolean);
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const pkg = path.join(path.dirname(file), 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).version !== '2.0.5') continue;
    return file;
  }
  return null;
}

/** The fenced JS/TS blocks of the README: {line, code}. */
function codeBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(js|javascript|ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    while (i + 1 < lines.length && !/^```\s*$/.test(lines[++i]));
    blocks.push({ line: start, code: lines.slice(start, i).join('\n') });
  }
  return blocks;
}

const README = findReadme();
const BLOCKS = README ? codeBlocks(fs.readFileSync(README, 'utf8')) : [];
/** Whole programs: they start an instance inside an async IIFE. The rest are fragments (option lists, types). */
const PROGRAMS = BLOCKS.filter((b) => b.code.includes('initCycleTLS(') && /\(async \(\) => \{/.test(b.code));

/**
 * Every program of the README, named, found by what it contains (so a README that changed shows up as a failure),
 * with what it must do here. `repair`: the README typo fixes for the four stream examples.
 */
const EXAMPLES = [
  {
    name: 'basic request through an authenticated proxy',
    find: (c) => c.includes('ja3er.com/json') && c.includes('proxy:'),
  },
  { name: 'JA4_r', find: (c) => c.includes('ja4r:') && !c.includes('http2Fingerprint') },
  {
    name: 'HTTP/2 fingerprint with a JA3',
    find: (c) => c.includes('http2Fingerprint') && c.includes('ja3:'),
  },
  {
    name: 'JA4_r with an HTTP/2 fingerprint',
    find: (c) => c.includes('http2Fingerprint') && c.includes('ja4r:'),
  },
  { name: 'streaming /stream/3', find: (c) => c.includes('/stream/3'), syntaxError: true },
  { name: 'streaming /drip', find: (c) => c.includes('/drip'), syntaxError: true },
  { name: 'gzip, decompressed', find: (c) => c.includes('/gzip') },
  { name: 'timeout 2 s against /delay/10', find: (c) => c.includes('/delay/10') },
  { name: 'HTTP, SOCKS5 and SOCKS5h proxies', find: (c) => c.includes('socks5h://') },
  { name: 'multiple requests at once', find: (c) => c.includes('requestDict') },
  {
    name: 'cookies as an object',
    find: (c) => c.includes('cookie1: "value1"') && !c.includes('complexCookies'),
  },
  { name: 'cookies as an array', find: (c) => c.includes('complexCookies') },
  { name: 'tough-cookie jar by hand', find: (c) => c.includes('tough-cookie') },
  {
    name: 'multipart form fields',
    find: (c) => c.includes("require('form-data')") && !c.includes('createReadStream'),
  },
  { name: 'multipart file upload', find: (c) => c.includes('createReadStream') },
  { name: 'URL-encoded form', find: (c) => c.includes('new URLSearchParams()') },
  {
    name: 'images and a video with arrayBuffer()',
    find: (c) => c.includes('arrayBuffer()') && c.includes('SampleVideo'),
  },
  {
    name: 'a large video streamed to a file',
    find: (c) => c.includes('createWriteStream'),
    syntaxError: true,
  },
  { name: 'WebSocket with a subprotocol', find: (c) => c.includes('echo.websocket.org') },
  { name: 'sse() read as text', find: (c) => c.includes('cycleTLS.sse(') && c.includes('.text()') },
  {
    name: 'SSE through a stream',
    find: (c) => c.includes('/events') && c.includes("responseType: 'stream'"),
    syntaxError: true,
  },
  {
    name: 'SNI override with a Host header',
    find: (c) => c.includes("serverName: 'front.example'") && c.includes('resp.text()'),
  },
  {
    name: 'WebSocket with SNI override (ESM)',
    find: (c) => c.includes('cycleTLS.ws(') && c.includes('front.example'),
  },
  {
    name: 'SSE with SNI override (ESM)',
    find: (c) => c.includes('cycleTLS.sse(') && c.includes('front.example'),
  },
  { name: 'forceHTTP1', find: (c) => c.includes('forceHTTP1: true') },
  { name: 'forceHTTP3', find: (c) => c.includes('forceHTTP3: true') && c.includes('google') },
];
const FIRST_PORT = 9630; // one engine port per example: 9630..9655

const services = {};
let workDir;

/** The README's addresses → the local stand-ins. */
function urlMap() {
  const { httpbin, plainHttpbin, echo, live, httpProxy, socks } = services;
  return [
    ['https://ja3er.com/json', echo.url('/json')],
    ['https://tls.peet.ws/api/all', echo.url('/api/all')],
    ['https://httpbin.org', httpbin.origin],
    ['http://httpbin.org', plainHttpbin.origin],
    ['http://username:password@hostname.com:443', `http://username:password@127.0.0.1:${httpProxy.port}`],
    [
      'http://username:password@proxy.example.com:8080',
      `http://username:password@127.0.0.1:${httpProxy.port}`,
    ],
    ['socks5://proxy.example.com:1080', `socks5://127.0.0.1:${socks.port}`],
    ['socks5h://proxy.example.com:1080', `socks5h://127.0.0.1:${socks.port}`],
    ['https://sample-videos.com/zip/10/mp4/SampleVideo_360x240_1mb.mp4', httpbin.url('/bytes/1048576')],
    ['https://sample-videos.com/zip/25/mp4/SampleVideo_1280x720_5mb.mp4', httpbin.url('/bytes/5242880')],
    ['wss://echo.websocket.org', `wss://localhost:${live.port}`],
    ['https://example.com/events', `https://localhost:${live.port}/events`],
    ['https://127.0.0.1:8443', `https://127.0.0.1:${live.port}`],
    ['wss://127.0.0.1:8443', `wss://127.0.0.1:${live.port}`],
    ['https://www.google.com/', echo.url('/')],
  ];
}

/** The README's typos that keep four stream examples from parsing: awaits in plain callbacks, a broken '\n'. */
function repairTypos(code) {
  return code
    .replace(/await cycleTLS\.exit\(\);/g, 'cycleTLS.exit();')
    .replace(/split\('\n'\)/g, "split('\\n')");
}

function localize(code, port) {
  let out = code;
  for (const [from, to] of urlMap()) out = out.split(from).join(to);
  return out.replace(/initCycleTLS\(\)/g, `initCycleTLS({ port: ${port} })`);
}

/** Runs the thunks with at most `width` of them in flight. */
async function inBatches(width, thunks) {
  const queue = [...thunks];
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (queue.length) await queue.shift()();
    }),
  );
}

function run(code, file) {
  const full = path.join(workDir, file);
  fs.writeFileSync(full, code);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [full],
      {
        cwd: workDir,
        timeout: 30000,
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
      },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 'killed') : 0, stdout, stderr }),
    );
  });
}

const results = new Map(); // name → { asPrinted, repaired }

// cycletls 2.0.5 is a dev dependency (for this README only; its binary never runs): a missing README is a failed
// install, not a reason to skip.
if (!README) {
  test("cycletls 2.0.5's README is installed (a dev dependency)", () => {
    throw new Error('no cycletls 2.0.5 README found: run npm install (or set CYCLETLS_README)');
  });
}
const describeReadme = README ? describe : describe.skip;

describeReadme(`cycletls 2.0.5 README examples (${README})`, () => {
  beforeAll(async () => {
    [
      services.httpbin,
      services.plainHttpbin,
      services.echo,
      services.live,
      services.httpProxy,
      services.socks,
    ] = await Promise.all([
      startHttpbin({ timeScale: 0.1 }),
      startHttpbin({ tls: false }),
      startEcho(),
      startLiveServer(),
      startHttpProxy({ auth: { user: 'username', pass: 'password' } }),
      startSocksServer(),
    ]);
    // The examples' files: ./images and ./videos to write into, ../go.mod to upload, node_modules/cycletls = us.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'compat-readme-'));
    workDir = path.join(base, 'work');
    for (const dir of ['images', 'videos']) fs.mkdirSync(path.join(workDir, dir), { recursive: true });
    fs.writeFileSync(path.join(base, 'go.mod'), 'module example.com/uploaded-by-the-readme-example\n');
    fs.mkdirSync(path.join(base, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(base, 'node_modules', 'cycletls'), 'dir');

    // Six at a time, each in its own process with its own engine port: the slowest (a 2 s timeout) sets the pace.
    await inBatches(
      6,
      EXAMPLES.map((example, i) => async () => {
        const matches = PROGRAMS.filter((b) => example.find(b.code));
        if (matches.length !== 1) return;
        const source = localize(matches[0].code, FIRST_PORT + i);
        const ext = /^import /m.test(source) ? 'mjs' : 'js';
        const result = { line: matches[0].line, asPrinted: await run(source, `example-${i}.${ext}`) };
        if (example.syntaxError)
          result.repaired = await run(repairTypos(source), `example-${i}-repaired.${ext}`);
        results.set(example.name, result);
      }),
    );
  }, 60000);

  afterAll(async () => {
    await Promise.all(Object.values(services).map((s) => s.close()));
    if (workDir) fs.rmSync(path.dirname(workDir), { recursive: true, force: true });
  });

  test('every program of the README is one of the examples below, each found once', () => {
    for (const example of EXAMPLES)
      expect([example.name, PROGRAMS.filter((b) => example.find(b.code)).length]).toEqual([example.name, 1]);
    expect(PROGRAMS.length).toBe(EXAMPLES.length);
  });

  /** The run of an example that must succeed: exit code 0, nothing on stderr. */
  function ok(name, which = 'asPrinted') {
    const r = results.get(name)[which];
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return r.stdout;
  }

  test('basic request through an authenticated proxy: the echo saw the README JA3', () => {
    const out = ok('basic request through an authenticated proxy');
    expect(out).toContain(FIREFOX_87_JA3);
    expect(services.httpProxy.log.some((e) => e.method === 'CONNECT' && e.authorization)).toBe(true);
  });

  // The README's JA4_r lists SNI (0000) among the extensions, which the canonical JA4_r leaves to its first part;
  // cycletls dropped it and sent the rest, and so do we (the first part says 'd').
  const README_JA4R_CANONICAL =
    't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_' +
    '0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601';

  test('JA4_r (the README string lists SNI 0000): the echo sees that JA4_r, SNI in the first part', () => {
    const out = ok('JA4_r');
    expect(out).toContain(`JA4_r: ${README_JA4R_CANONICAL}`);
    expect(out).toMatch(/JA4: t13d1516h2_/);
  });

  test('HTTP/2 fingerprint with a JA3: the echo reports the Akamai string given', () => {
    expect(ok('HTTP/2 fingerprint with a JA3')).toContain(
      'HTTP/2 Fingerprint: 1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s',
    );
  });

  test('JA4_r with an HTTP/2 fingerprint (the same README JA4_r): both reach the echo', () => {
    const out = ok('JA4_r with an HTTP/2 fingerprint');
    expect(out).toContain('Complete fingerprint applied successfully');
    expect(out).toMatch(/JA4: t13d1516h2_/);
    expect(out).toContain('HTTP/2: 1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s');
  });

  test.each([
    'streaming /stream/3',
    'streaming /drip',
    'a large video streamed to a file',
    'SSE through a stream',
  ])('%s: a syntax error as printed; runs once its typos are repaired', (name) => {
    const r = results.get(name);
    expect(r.asPrinted.code).not.toBe(0);
    expect(r.asPrinted.stderr).toContain('SyntaxError');
    ok(name, 'repaired');
  });

  test('the stream examples, repaired, print what they received', () => {
    expect(results.get('streaming /stream/3').repaired.stdout).toMatch(
      /Received chunk: \{"url":"https:\/\/localhost:\d+\/stream\/3"[\s\S]*stream done/,
    );
    expect(results.get('streaming /drip').repaired.stdout).toContain('Total received: 100 bytes');
    expect(results.get('a large video streamed to a file').repaired.stdout).toContain(
      'Stream complete. Total size: 5242880 bytes',
    );
    expect(fs.statSync(path.join(workDir, 'videos', 'large_video.mp4')).size).toBe(5242880);
    expect(results.get('SSE through a stream').repaired.stdout).toMatch(
      /Event type: message\nEvent data: Event 1[\s\S]*SSE stream ended/,
    );
  });

  test('gzip: printed decompressed', () => {
    expect(ok('gzip, decompressed')).toMatch(/Decompressed data: \{\s*gzipped: true/);
  });

  test('timeout: the 408 branch is taken', () => {
    // cycletls's response has no `body` field since 2.0.0, so the README prints undefined there too.
    expect(ok('timeout 2 s against /delay/10')).toContain('Request timed out: undefined');
  });

  test('proxies: through the HTTP proxy with credentials, SOCKS5 resolving locally, SOCKS5h by name', () => {
    const out = ok('HTTP, SOCKS5 and SOCKS5h proxies');
    expect(out).toContain("HTTP Proxy IP: { origin: '127.0.0.1' }");
    expect(out).toContain("SOCKS5 IP: { origin: '127.0.0.1' }");
    const connects = services.socks.log.map((e) => e.addressType);
    expect(connects).toEqual(expect.arrayContaining(['ipv4', 'name']));
  });

  test('multiple requests at once: every URL printed with its answer', () => {
    const out = ok('multiple requests at once');
    expect(out).toMatch(
      new RegExp(
        `${services.httpbin.origin}/user-agent \\{\\s+'user-agent': 'Mozilla/5\\.0 \\(X11; Ubuntu; Linux x86_64; rv:87\\.0\\) Gecko/20100101 Firefox/87\\.0'`,
      ),
    );
    expect(out).toContain("json: { field: 'POST-VAL' }");
    expect(out).toContain("cookies: { example1: 'aaaaaaa' }");
  });

  test.each(['cookies as an object', 'cookies as an array'])(
    '%s: the expected output of the README',
    (name) => {
      expect(ok(name)).toContain("{ cookies: { cookie1: 'value1', cookie2: 'value2' } }");
    },
  );

  test('tough-cookie jar by hand: the expected output of the README', () => {
    expect(ok('tough-cookie jar by hand')).toContain("{ cookies: { freeform: 'test' } }");
  });

  test('multipart form fields', () => {
    expect(ok('multipart form fields')).toContain("form: { key1: 'value1', key2: 'value2' }");
  });

  test('multipart file upload: the file arrives', () => {
    expect(ok('multipart file upload')).toContain(
      "file: 'module example.com/uploaded-by-the-readme-example\\n'",
    );
  });

  test('URL-encoded form (a URLSearchParams body)', () => {
    expect(ok('URL-encoded form')).toContain("form: { key1: 'value1', key2: 'value2' }");
  });

  test('images and a video: the written files are the served bytes', () => {
    expect(ok('images and a video with arrayBuffer()')).toContain('Video downloaded');
    for (const kind of ['jpeg', 'png', 'webp']) {
      expect(fs.readFileSync(path.join(workDir, 'images', `output.${kind}`)).equals(imageBytes(kind))).toBe(
        true,
      );
    }
    expect(fs.statSync(path.join(workDir, 'videos', 'sample_video.mp4')).size).toBe(1048576);
  });

  test('WebSocket: upgraded (101) with the subprotocol asked for', () => {
    expect(ok('WebSocket with a subprotocol')).toContain('WebSocket upgrade successful');
    expect(results.get('WebSocket with a subprotocol').asPrinted.stdout).toMatch(
      /'Sec-WebSocket-Protocol': \[ 'echo-protocol' \]/i,
    );
  });

  test('sse() read as text: refused, naming the ways to read events', () => {
    // differs on purpose: an sse() response is read with events() or onEvent(); text() throws ERR_INVALID_OPTION
    // saying so. (cycletls's sse() promise never settled, so this example hung there.)
    const r = results.get('sse() read as text').asPrinted;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_INVALID_OPTION');
    expect(r.stderr).toContain('events() or onEvent()');
  });

  test('SNI override with a Host header: the server saw both', () => {
    expect(ok('SNI override with a Host header')).toContain('sni=front.example host=real.example');
  });

  test('WebSocket with SNI override (ESM), closed at once', () => {
    ok('WebSocket with SNI override (ESM)');
    expect(services.live.upgrades).toEqual(
      expect.arrayContaining([{ url: '/socket', host: 'real.example', sni: 'front.example' }]),
    );
  });

  test('SSE with SNI override (ESM), closed at once', () => {
    ok('SSE with SNI override (ESM)');
  });

  test('forceHTTP1: the echo saw HTTP/1.1', () => {
    expect(ok('forceHTTP1')).toContain("http_version: 'HTTP/1.1'");
  });

  test('forceHTTP3: refused for a JA3 string', () => {
    // differs on purpose: the example's JA3 describes a TCP ClientHello only; HTTP/3 is sent with a preset's
    // established QUIC fingerprint (chrome_156, edge_156, firefox_153), never guessed. The refusal
    // (ERR_UNSUPPORTED_FINGERPRINT) resolves the way cycletls's failures resolve, so the example runs to its
    // end and prints the empty json() of that failure; test/integration/http3.test.js holds the refusal's code.
    const r = results.get('forceHTTP3').asPrinted;
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('{}');
  });
});
