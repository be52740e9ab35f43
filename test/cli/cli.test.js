// The `cycletls-native` command as a user runs it: a child process against real local servers (HTTPS
// and plain HTTP from test/helpers, the fingerprint echo server for HTTP/2 and the first flight, a real
// HTTP proxy). Outputs, files and exit codes are checked as curl users would check them.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const { startServer, patternBytes, sha256, closedPort } = require('../helpers/servers');
const { startHttpProxy } = require('../helpers/proxies');
const { startEchoServer } = require('../../dist/echo');
const { runCli } = require('./helpers');

let https;
let plain;
let echo;
const echoRecords = [];
let tmp;

beforeAll(async () => {
  https = await startServer();
  plain = await startServer({ tls: false });
  echo = await startEchoServer({ port: 0, onRecord: (r) => echoRecords.push(r) });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-cli-'));
});

afterAll(async () => {
  await https.close();
  await plain.close();
  await echo.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const json = (r) => JSON.parse(r.stdout.toString('utf8'));
/** The request the test server saw, as [name, value] pairs in wire order. */
const pairs = (raw) => raw.reduce((acc, v, i) => (i % 2 ? acc : [...acc, [v, raw[i + 1]]]), []);
const header = (seen, name) => pairs(seen.rawHeaders).find(([n]) => n.toLowerCase() === name)?.[1];

describe('requests', () => {
  test('GET prints the body on stdout and exits 0, with nothing on stderr', async () => {
    const r = await runCli([https.url('/text')]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe('héllo wörld');
    expect(r.stderr).toBe('');
  });

  test('-X, repeated -H in order, -d parts joined with & as a form POST', async () => {
    const r = await runCli([
      '-XPUT',
      '-H',
      'X-One: 1',
      '-H',
      'X-Two: 2',
      '-d',
      'a=1',
      '-d',
      'b=2',
      https.url(),
    ]);
    expect(r.code).toBe(0);
    const seen = json(r);
    expect(seen.method).toBe('PUT');
    expect(Buffer.from(seen.body, 'base64').toString()).toBe('a=1&b=2');
    expect(header(seen, 'content-type')).toBe('application/x-www-form-urlencoded');
    const names = pairs(seen.rawHeaders).map(([n]) => n);
    expect(names.indexOf('X-One')).toBeLessThan(names.indexOf('X-Two'));
  });

  test('-d @file drops newlines, --data-binary @file is byte-exact, --data-raw keeps @, -G moves data to the query', async () => {
    const file = path.join(tmp, 'data.bin');
    fs.writeFileSync(file, Buffer.from('x=1\r\ny=2\n\u0000\u00ff', 'latin1'));
    let r = await runCli(['-d', `@${file}`, https.url()]);
    expect(Buffer.from(json(r).body, 'base64')).toEqual(Buffer.from('x=1y=2\u0000\u00ff', 'latin1'));
    r = await runCli(['--data-binary', `@${file}`, https.url()]);
    expect(Buffer.from(json(r).body, 'base64')).toEqual(fs.readFileSync(file));
    r = await runCli(['--data-raw', '@not-a-file', https.url()]);
    expect(Buffer.from(json(r).body, 'base64').toString()).toBe('@not-a-file');
    r = await runCli(['-G', '-d', 'q=1', '--data-urlencode', 'w=a b&c', https.url('/echo?z=0')]);
    expect(json(r).method).toBe('GET');
    expect(json(r).url).toBe('/echo?z=0&q=1&w=a%20b%26c');
    r = await runCli(['-d', 'a', '-d', '@-', https.url()], { input: 'from stdin' });
    expect(Buffer.from(json(r).body, 'base64').toString()).toBe('a&from stdin');
  });

  test('-F sends multipart parts a multipart parser reads back: values, a file upload with its type', async () => {
    const file = path.join(tmp, 'upload.json');
    fs.writeFileSync(file, '{"k":1}');
    const r = await runCli(['-F', 'name=value', '-F', `doc=@${file}`, '-F', `raw=<${file}`, https.url()]);
    expect(r.code).toBe(0);
    const seen = json(r);
    const form = await new Response(Buffer.from(seen.body, 'base64'), {
      headers: { 'content-type': header(seen, 'content-type') },
    }).formData();
    expect(seen.method).toBe('POST');
    expect(form.get('name')).toBe('value');
    expect(form.get('raw')).toBe('{"k":1}');
    const doc = form.get('doc');
    expect(doc.name).toBe('upload.json');
    expect(doc.type).toBe('application/json');
    expect(await doc.text()).toBe('{"k":1}');
  });

  test('-A replaces the User-Agent, -e sets Referer, -u sends basic credentials', async () => {
    const r = await runCli(['-A', 'my-agent/1', '-e', 'https://ref.test/', '-u', 'me:pw', https.url()]);
    const seen = json(r);
    expect(header(seen, 'user-agent')).toBe('my-agent/1');
    expect(header(seen, 'referer')).toBe('https://ref.test/');
    expect(header(seen, 'authorization')).toBe(`Basic ${Buffer.from('me:pw').toString('base64')}`);
  });

  test('-i prints the head before the body (into the -o file too), -I sends HEAD and prints only the head, -D writes it to a file', async () => {
    let r = await runCli(['-i', https.url('/text')]);
    const text = r.stdout.toString('utf8');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
    expect(text.endsWith('\r\n\r\nhéllo wörld')).toBe(true);
    r = await runCli(['-I', https.url('/text')]);
    expect(r.stdout.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
    const withHead = path.join(tmp, 'with-head.txt');
    r = await runCli(['-i', '-o', withHead, https.url('/text')]);
    expect(r.stdout.length).toBe(0);
    expect(fs.readFileSync(withHead, 'utf8')).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhéllo wörld$/);
    const dump = path.join(tmp, 'head.txt');
    r = await runCli(['-s', '-D', dump, '-o', path.join(tmp, 'ignored'), https.url('/text')]);
    expect(fs.readFileSync(dump, 'utf8')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  test('gzip bodies are decoded by default (--compressed, as a browser); --no-compressed writes the bytes received', async () => {
    const gz = await startServer({
      handler: (req, res) => {
        res.setHeader('Content-Encoding', 'gzip');
        res.end(zlib.gzipSync('squeezed'));
      },
    });
    try {
      let r = await runCli([gz.url('/')]);
      expect(r.stdout.toString()).toBe('squeezed');
      r = await runCli(['--no-compressed', gz.url('/')]);
      expect(zlib.gunzipSync(r.stdout).toString()).toBe('squeezed');
    } finally {
      await gz.close();
    }
  });

  test('--json prints the cycletls-shaped response', async () => {
    const r = await runCli(['--json', https.url('/echo')]);
    expect(r.code).toBe(0);
    const res = json(r);
    expect(res.status).toBe(200);
    expect(res.headers['Content-Type']).toEqual(['application/json']);
    expect(res.data.method).toBe('GET');
    expect(res.finalUrl).toBe(https.url('/echo'));
    expect(res.tls.version).toMatch(/^TLSv1\.[23]$/);
  });

  test('a URL without a scheme is http://, as in curl', async () => {
    const r = await runCli([`localhost:${plain.port}/text`]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('héllo wörld');
  });

  test('-x sends the request through an HTTP proxy (CONNECT for https)', async () => {
    const proxy = await startHttpProxy();
    try {
      const r = await runCli(['-x', `127.0.0.1:${proxy.port}`, https.url('/text')]);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe('héllo wörld');
      expect(proxy.log.map((e) => e.method)).toEqual(['CONNECT']);
    } finally {
      await proxy.close();
    }
  });
});

describe('files: -o, -O, cookies', () => {
  test('-o writes the exact bytes to the file, nothing on stdout, and no progress bar when stderr is not a terminal', async () => {
    const file = path.join(tmp, 'out.bin');
    const r = await runCli(['-o', file, https.url('/bytes?n=300000&seed=7')]);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe('');
    expect(sha256(fs.readFileSync(file))).toBe(sha256(patternBytes(300000, 7)));
  });

  test('-O names the file after the URL, in the working directory; -ofile glued works', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'O-'));
    let r = await runCli(['-sO', https.url('/bytes?n=1000')], { cwd: dir });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'bytes'))).toEqual(patternBytes(1000, 1));
    r = await runCli([`-o${path.join(dir, 'glued')}`, https.url('/text')]);
    expect(fs.readFileSync(path.join(dir, 'glued'), 'utf8')).toBe('héllo wörld');
  });

  test('cookies round-trip: -c writes the Netscape file, -b file sends them back, -b "k=v" adds its own', async () => {
    const jar = path.join(tmp, 'cookies.txt');
    let r = await runCli(['-c', jar, https.url('/set-cookie')]);
    expect(r.code).toBe(0);
    const text = fs.readFileSync(jar, 'utf8');
    expect(text.split('\n')[0]).toBe('# Netscape HTTP Cookie File');
    expect(text).toContain('localhost\tFALSE\t/\tFALSE\t0\tc1\tv1\n');
    expect(text).toContain('localhost\tFALSE\t/\tFALSE\t0\tc2\tv2\n');
    r = await runCli(['-b', jar, https.url()]);
    expect(header(json(r), 'cookie')).toBe('c1=v1; c2=v2');
    r = await runCli(['-b', 'x=1; y=2', https.url()]);
    expect(header(json(r), 'cookie')).toBe('x=1; y=2');
    r = await runCli(['-s', '-o', '/dev/null', '-c', '-', https.url('/set-cookie')]);
    expect(r.stdout.toString()).toMatch(/^# Netscape HTTP Cookie File\n[^]*\tc1\tv1\n/);
  });

  test('-b reads a curl-written file (HttpOnly prefix, expiry, subdomain flag) and -c keeps what it did not send', async () => {
    const jar = path.join(tmp, 'curl-cookies.txt');
    const future = Math.floor(Date.now() / 1000) + 3600;
    fs.writeFileSync(
      jar,
      [
        '# Netscape HTTP Cookie File',
        '# https://curl.se/docs/http-cookies.html',
        '',
        `#HttpOnly_localhost\tFALSE\t/\tFALSE\t${future}\tsid\tabc`,
        `localhost\tFALSE\t/other\tFALSE\t0\tpathonly\t1`,
        `localhost\tFALSE\t/\tFALSE\t1\texpired\tgone`,
        `.elsewhere.test\tTRUE\t/\tTRUE\t0\tforeign\tz`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['-b', jar, '-c', jar, https.url('/echo')]);
    expect(header(json(r), 'cookie')).toBe('sid=abc');
    const written = fs.readFileSync(jar, 'utf8');
    expect(written).toContain(`#HttpOnly_localhost\tFALSE\t/\tFALSE\t${future}\tsid\tabc\n`);
    expect(written).toContain('localhost\tFALSE\t/other\tFALSE\t0\tpathonly\t1\n');
    expect(written).toContain('.elsewhere.test\tTRUE\t/\tTRUE\t0\tforeign\tz\n');
    expect(written).not.toContain('expired');
  });

  test('cookies set during a -L redirect chain are sent on the next hop and saved by -c', async () => {
    const jar = path.join(tmp, 'redirect-cookies.txt');
    const r = await runCli([
      '-L',
      '-c',
      jar,
      https.url(`/cookie-redirect?set=${encodeURIComponent('hop=1; Path=/')}&to=/echo`),
    ]);
    expect(header(json(r), 'cookie')).toBe('hop=1');
    expect(fs.readFileSync(jar, 'utf8')).toContain('\thop\t1\n');
  });
});

describe('redirects and write-out', () => {
  test('without -L a redirect is printed as it is; -L follows it; -w reports the transfer', async () => {
    let r = await runCli([https.url('/redirect/2')]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('redirecting');
    r = await runCli([
      '-sSL',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{num_redirects} %{url_effective} %{content_type} %{http_version} %{size_download} %{remote_ip} %{remote_port} %{header{content-type}} %%\\n',
      https.url('/redirect/3'),
    ]);
    expect(r.code).toBe(0);
    const [code, hops, effective, type, version, size, ip, port, hdr, pct] = r.stdout
      .toString()
      .trim()
      .split(' ');
    expect([code, hops, effective, type, version]).toEqual([
      '200',
      '3',
      https.url('/echo'),
      'application/json',
      '1.1',
    ]);
    expect(Number(size)).toBeGreaterThan(100);
    expect([ip, port, hdr, pct]).toEqual(['127.0.0.1', String(https.port), 'application/json', '%']);
  });

  test('several URLs run in turn, the n-th -o with the n-th URL (--url adds one)', async () => {
    const a = path.join(tmp, 'multi-a');
    const b = path.join(tmp, 'multi-b');
    const r = await runCli([https.url('/bytes?n=100&seed=4'), '-o', a, '--url', https.url('/text'), '-o', b]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(a)).toEqual(patternBytes(100, 4));
    expect(fs.readFileSync(b, 'utf8')).toBe('héllo wörld');
  });

  test('-v with -L says how many hops were followed and shows the final response', async () => {
    const r = await runCli(['-v', '-L', '-o', '/dev/null', https.url('/redirect/2')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('> GET /redirect/2 HTTP/1.1\n');
    expect(r.stderr).toContain(`* Followed 2 redirect(s) to ${https.url('/echo')}\n`);
    expect(r.stderr).toMatch(/^< Content-Type: application\/json$/m);
  });

  test('-w times are seconds with six decimals, %{json} holds every variable, %{stderr} switches stream', async () => {
    const r = await runCli([
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{time_total} %{time_starttransfer}%{stderr}%{json}',
      https.url('/text'),
    ]);
    expect(r.stdout.toString()).toMatch(/^\d+\.\d{6} \d+\.\d{6}$/);
    const vars = JSON.parse(r.stderr);
    expect(vars.http_code).toBe(200);
    expect(vars.size_download).toBe(Buffer.byteLength('héllo wörld'));
    expect(vars.exitcode).toBe(0);
  });
});

describe("curl's exit codes", () => {
  test('7: connection refused', async () => {
    const r = await runCli(['-sS', `https://127.0.0.1:${await closedPort()}/`]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^cycletls-native: \(7\) .*\[ERR_CONNECT_REFUSED\]\n$/);
  });

  test('-s hides the message, -S brings it back', async () => {
    const port = await closedPort();
    const quiet = await runCli(['-s', `https://127.0.0.1:${port}/`]);
    expect(quiet.code).toBe(7);
    expect(quiet.stderr).toBe('');
  });

  test('28: --max-time passes while the server stalls', async () => {
    const r = await runCli(['-sS', '--max-time', '0.5', https.url('/stall')]);
    expect(r.code).toBe(28);
    expect(r.stderr).toContain('[ERR_TIMEOUT]');
  });

  test('60: a certificate the system does not trust, without -k; -k accepts it', async () => {
    const bad = await startServer({ cert: 'self-signed' });
    try {
      let r = await runCli(['-sS', bad.url('/text')]);
      expect(r.code).toBe(60);
      expect(r.stderr).toContain('[ERR_TLS_CERT]');
      // -v still shows the first flight that met the failure.
      const v = await runCli(['-v', bad.url('/text')]);
      expect(v.code).toBe(60);
      expect(v.stderr).toMatch(/^\* JA4: t13d1517h2_8daaf6152771_cb7bf5808d99$/m);
      expect(v.stderr).toMatch(/^cycletls-native: \(60\) .*\[ERR_TLS_CERT\]$/m);
      r = await runCli(['-k', bad.url('/text')]);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe('héllo wörld');
    } finally {
      await bad.close();
    }
  });

  test('35: a TLS handshake that fails (the server answers the ClientHello with plain text)', async () => {
    const server = net.createServer((c) => {
      c.on('error', () => {});
      c.once('data', () => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const r = await runCli(['-sS', `https://127.0.0.1:${server.address().port}/`]);
      expect(r.code).toBe(35);
      expect(r.stderr).toContain('[ERR_TLS_HANDSHAKE]');
    } finally {
      server.close();
    }
  });

  test('47: more redirects than --max-redirs', async () => {
    const r = await runCli(['-sSL', '--max-redirs', '2', https.url('/redirect/5')]);
    expect(r.code).toBe(47);
    expect(r.stderr).toContain('[ERR_TOO_MANY_REDIRECTS]');
  });

  test('22: -f on a 404 prints no body; --fail-with-body prints it; without -f the exit is 0', async () => {
    let r = await runCli(['-sSf', https.url('/status/404')]);
    expect(r.code).toBe(22);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe('cycletls-native: (22) The requested URL returned error: 404\n');
    r = await runCli(['-s', '--fail-with-body', https.url('/status/404')]);
    expect(r.code).toBe(22);
    expect(r.stdout.toString()).toBe('status 404');
    r = await runCli([https.url('/status/404')]);
    expect(r.code).toBe(0);
  });

  test('2: an unknown option or a missing value; 3: a malformed URL; 1: an unsupported scheme', async () => {
    let r = await runCli(['--no-such-option', https.url()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('option --no-such-option: is unknown');
    r = await runCli(['-H']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('option -H: requires parameter');
    r = await runCli([]);
    expect(r.code).toBe(2);
    r = await runCli(['http://[::1']);
    expect(r.code).toBe(3);
    r = await runCli(['ftp://127.0.0.1/']);
    expect(r.code).toBe(1);
  });

  test('23: the output file cannot be written, or stdout’s reader went away; 26: a data file cannot be read', async () => {
    let r = await runCli(['-sS', '-o', path.join(tmp, 'no-such-dir', 'x'), https.url('/text')]);
    expect(r.code).toBe(23);
    r = await runCli(['-sS', '-w', '%{http_code}', https.url('/bytes?n=20000000')], { closeStdout: true });
    expect(r.code).toBe(23);
    expect(r.stderr).toMatch(/^cycletls-native: \(23\) Failure writing output to destination: .*EPIPE\n$/);
    // Only -w writes to stdout here: its failure is a write error too, not a crash.
    r = await runCli(['-sS', '-o', '/dev/null', '-w', '%{http_code}', https.url('/text')], {
      closeStdout: true,
    });
    expect(r.code).toBe(23);
    expect(r.stderr).toMatch(/^cycletls-native: \(23\) Failure writing output to destination: .*EPIPE\n$/);
    r = await runCli(['-sS', '-d', `@${path.join(tmp, 'missing.txt')}`, https.url()]);
    expect(r.code).toBe(26);
    r = await runCli(['-sS', '-F', `f=@${path.join(tmp, 'missing.txt')}`, https.url()]);
    expect(r.code).toBe(26);
  });

  test("--http3 speaks HTTP/3 (forceHTTP3): the echo's HTTP/3 endpoint answers over QUIC", async () => {
    const h3echo = await startEchoServer({ quic: true });
    try {
      const r = await runCli([
        '-sS',
        '-k',
        '--max-time',
        '10',
        '--http3',
        `https://localhost:${h3echo.port}/quic`,
      ]);
      expect(r.code).toBe(0);
      const answer = json(r);
      expect(answer.http_version).toBe('HTTP/3');
      expect(answer.ja4).toMatch(/^q13d/);
      // Without it, the same URL over TCP.
      const tcp = await runCli(['-sS', '-k', '--max-time', '10', `https://localhost:${h3echo.port}/quic`]);
      expect(tcp.code).toBe(0);
    } finally {
      await h3echo.close();
    }
  });

  test("--http3 with a preset that has no QUIC fingerprint exits with the engine's code", async () => {
    const { exitCodeFor } = require('../../dist/cli/exit-codes');
    const r = await runCli(['-sS', '--json', '--profile', 'chrome_130', '--http3', https.url('/text')]);
    const { error } = json(r);
    expect(error.code).toBe('ERR_UNSUPPORTED_FINGERPRINT');
    expect(r.code).toBe(exitCodeFor(error.code, error.stage));
  });
});

describe('fingerprint options and -v', () => {
  // By name, so the hello carries SNI as a browser's does (the echo certificate covers localhost).
  const echoUrl = (p) => echo.url(p).replace('127.0.0.1', 'localhost');

  test('-v shows the JA4 and Akamai string the server saw, the request head in wire order and the response head', async () => {
    echoRecords.length = 0;
    const r = await runCli(['-v', '-k', '-o', '/dev/null', echoUrl('/fp')]);
    expect(r.code).toBe(0);
    // The real request is the record of path /fp (the -v replay goes to an echo server of its own).
    const real = echoRecords.find((rec) => rec.path === '/fp');
    const lines = r.stderr.split('\n');
    expect(lines).toContain(`* JA4: ${real.ja4}`);
    expect(lines).toContain(`* Akamai HTTP/2: ${real.http2.akamai_fingerprint}`);
    expect(lines).toContain('* ALPN: offers h2,http/1.1');
    expect(lines).toContain('* SNI: localhost');
    expect(lines).toContain('* ALPN: server accepted h2');
    expect(lines.some((l) => /^\* SSL connection using TLSv1\.3 \/ TLS_/.test(l))).toBe(true);
    const sentPseudo = lines.map((l) => /^\* \[HTTP\/2\] \[1\] \[(:[a-z]+): /.exec(l)?.[1]).filter(Boolean);
    expect(sentPseudo).toEqual(real.headers.filter(([n]) => n.startsWith(':')).map(([n]) => n));
    const sent = lines.filter((l) => /^> [^ ]+: /.test(l)).map((l) => l.slice(2).split(': ')[0]);
    expect(sent).toEqual(real.headers.filter(([n]) => !n.startsWith(':')).map(([n]) => n));
    expect(lines).toContain('> GET /fp HTTP/2');
    expect(lines).toContain('< HTTP/2 200');
  });

  test('--profile picks the preset: firefox sends Firefox’s JA4 and user agent', async () => {
    const r = await runCli(['-k', '--profile', 'firefox_153', echoUrl('/ff')]);
    const seen = json(r);
    expect(seen.ja4).toBe('t13d1617h2_86a278354501_3cbfd9057e0d');
    expect(seen.user_agent).toMatch(/Firefox\/153/);
  });

  test('--http1.1 offers only http/1.1', async () => {
    const r = await runCli(['-k', '--http1.1', echoUrl('/h1')]);
    const seen = json(r);
    expect(seen.http_version).toBe('HTTP/1.1');
    expect(seen.alpn).toEqual(['http/1.1']);
  });

  test('--ja3 and --h2-fingerprint go on the wire as given', async () => {
    const ff = json(await runCli(['-k', '--profile', 'firefox_153', echoUrl('/a')]));
    const safari = json(await runCli(['-k', '--profile', 'safari_26', echoUrl('/b')]));
    const r = await runCli([
      '-k',
      '-A',
      ff.user_agent,
      `--ja3=${ff.ja3}`,
      '--h2-fingerprint',
      safari.http2.akamai_fingerprint,
      echoUrl('/c'),
    ]);
    expect(r.code).toBe(0);
    const seen = json(r);
    expect(seen.ja3_hash).toBe(ff.ja3_hash);
    expect(seen.http2.akamai_fingerprint).toBe(safari.http2.akamai_fingerprint);
  });

  test('--ja4r sends the hello it names', async () => {
    const chrome = json(await runCli(['-k', echoUrl('/d')]));
    const r = await runCli(['-k', '--ja4r', chrome.tls.ja4_r, echoUrl('/e')]);
    expect(json(r).tls.ja4_r).toBe(chrome.tls.ja4_r);
  });

  test('--list-profiles, --version and --help', async () => {
    let r = await runCli(['--list-profiles']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^chrome_156, chrome, chromium \(default\)\n {4}Mozilla\/5\.0/m);
    expect(r.stdout.toString()).toMatch(/^firefox_153, firefox\n/m);
    r = await runCli(['--version']);
    expect(r.stdout.toString()).toMatch(/^cycletls-native \d+\.\d+\.\d+ /);
    r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain('--h2-fingerprint');
  });

  test('--list-profiles -v gives each preset’s JA4 and Akamai string (the README table’s)', async () => {
    const r = await runCli(['--list-profiles', '-v']);
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    expect(text).toMatch(
      /^chrome_156, .*\n.*\n {4}JA4 t13d1517h2_8daaf6152771_cb7bf5808d99 {2}Akamai 1:65536;2:0;4:6291456;6:262144\|15663105\|0\|m,a,s,p$/m,
    );
    expect(text).toMatch(
      /^firefox_153, .*\n.*\n {4}JA4 t13d1617h2_86a278354501_3cbfd9057e0d {2}Akamai 1:65536;2:0;4:131072;5:16384\|12517377\|0\|m,p,a,s$/m,
    );
    expect(text).toMatch(
      /^safari_26, .*\n.*\n {4}JA4 t13d2013h2_a09f3c656075_7f0f34a4126d {2}Akamai 2:0;3:100;4:2097152;9:1\|10420225\|0\|m,s,a,p$/m,
    );
  });

  test('an unknown --profile is a usage error with the engine’s message', async () => {
    const r = await runCli(['-sS', '--profile', 'netscape_4', https.url()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[ERR_INVALID_OPTION]');
  });
});
