// A local stand-in for httpbin.org, answering the routes cycletls's own test suite and README call, in httpbin's
// JSON shapes (args, data, files, form, headers, json, origin, url). Served over HTTPS (HTTP/2 and HTTP/1.1 on one
// port, ALPN decides; certificate of the test CA for localhost) or plain HTTP. Written from httpbin's documented
// behaviour, not from its code.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const http2 = require('node:http2');
const path = require('node:path');
const zlib = require('node:zlib');
const { certPair, patternBytes, readBody } = require('../../helpers/servers');

const IMAGE_DIR = path.join(__dirname, '..', 'fixtures', 'images');
const IMAGE_TYPES = { jpeg: 'image/jpeg', png: 'image/png', svg: 'image/svg+xml', webp: 'image/webp' };

/** The bytes /image/<kind> serves, for tests that compare downloads with the original. */
function imageBytes(kind) {
  return fs.readFileSync(path.join(IMAGE_DIR, `test.${kind}`));
}

const SLIDESHOW = {
  slideshow: {
    author: 'Yours Truly',
    date: 'date of publication',
    slides: [
      { title: 'Wake up to WonderWidgets!', type: 'all' },
      {
        items: ['Why <em>WonderWidgets</em> are great', 'Who <em>buys</em> WonderWidgets'],
        title: 'Overview',
        type: 'all',
      },
    ],
    title: 'Sample Slide Show',
  },
};

const HTML_PAGE =
  '<!DOCTYPE html>\n<html>\n  <head>\n  </head>\n  <body>\n      <h1>Herman Melville - Moby-Dick</h1>\n' +
  '      <div>\n        <p>Call me Ishmael.</p>\n      </div>\n  </body>\n</html>';

const ROBOTS = 'User-agent: *\nDisallow: /deny\n';

/** Header names as httpbin shows them: Title-Case, repeated fields joined by ",". */
function headerDict(req) {
  const out = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    let name = raw[i];
    if (name.startsWith(':')) {
      if (name !== ':authority') continue;
      name = 'host';
    }
    const title = name
      .toLowerCase()
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('-');
    out[title] = title in out ? `${out[title]},${raw[i + 1]}` : raw[i + 1];
  }
  return out;
}

function argsDict(searchParams) {
  const out = {};
  for (const [k, v] of searchParams) {
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

function cookieDict(req) {
  const out = {};
  for (const part of String(req.headers.cookie || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function isUtf8(buf) {
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}

/** Text bodies as text; anything else as a data URL, as httpbin does. */
function asText(buf, type = 'application/octet-stream') {
  return isUtf8(buf) ? buf.toString('utf8') : `data:${type};base64,${buf.toString('base64')}`;
}

function addField(dict, name, value) {
  if (name in dict) dict[name] = [].concat(dict[name], value);
  else dict[name] = value;
}

function parseMultipart(body, boundary) {
  const form = {};
  const files = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // past CRLF, before CRLF
    const headEnd = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, headEnd).toString('latin1');
    const content = part.subarray(headEnd + 4);
    const name = /name="([^"]*)"/i.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/i.exec(head);
    const type = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1];
    if (filename) addField(files, name, asText(content, type));
    else addField(form, name, content.toString('utf8'));
    at = next;
  }
  return { form, files };
}

function requestDict(req, body, url, origin) {
  const type = String(req.headers['content-type'] || '');
  let form = {};
  let files = {};
  let data = asText(body);
  if (type.startsWith('application/x-www-form-urlencoded')) {
    form = argsDict(new URLSearchParams(body.toString('utf8')));
    data = '';
  } else if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary=("?)([^";]+)\1/i.exec(type)?.[2];
    if (boundary) ({ form, files } = parseMultipart(body, boundary));
    data = '';
  }
  let json = null;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    /* not JSON: null, as httpbin */
  }
  return {
    args: argsDict(url.searchParams),
    data,
    files,
    form,
    headers: headerDict(req),
    json,
    origin,
    url: url.href,
  };
}

function sendJson(res, value, status = 200, extra = {}) {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
    'Access-Control-Allow-Origin': '*',
    ...extra,
  });
  res.end(body);
}

function redirect(res, location, status = 302) {
  res.writeHead(status, { Location: location, 'Content-Type': 'text/html; charset=utf-8' });
  res.end(
    `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>Redirecting...</title>\n<p>Redirecting to ${location}</p>`,
  );
}

async function route(req, res, base, ctx) {
  const url = new URL(req.url, base);
  const p = url.pathname;
  const body = await readBody(req);
  const origin = (req.socket.remoteAddress || '').replace(/^::ffff:/, '');
  const method = req.method;
  const segments = p.split('/').filter(Boolean);

  if (p === '/get' && (method === 'GET' || method === 'HEAD')) {
    return sendJson(res, {
      args: argsDict(url.searchParams),
      headers: headerDict(req),
      origin,
      url: url.href,
    });
  }
  if (['/post', '/put', '/patch', '/delete'].includes(p)) {
    if (method !== p.slice(1).toUpperCase()) return sendJson(res, { error: 'method not allowed' }, 405);
    return sendJson(res, requestDict(req, body, url, origin));
  }
  if (segments[0] === 'anything') return sendJson(res, { ...requestDict(req, body, url, origin), method });
  if (p === '/headers') return sendJson(res, { headers: headerDict(req) });
  if (p === '/user-agent') return sendJson(res, { 'user-agent': req.headers['user-agent'] ?? null });
  if (p === '/ip') return sendJson(res, { origin });
  if (p === '/cookies') return sendJson(res, { cookies: cookieDict(req) });
  if (p === '/cookies/set') {
    const cookies = [...url.searchParams].map(([k, v]) => `${k}=${v}; Path=/`);
    res.setHeader('Set-Cookie', cookies);
    return redirect(res, '/cookies');
  }
  if (p === '/') {
    // example.com's role: a small HTML page at the root
    res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
    return res.end(
      '<!doctype html>\n<html><head><title>Example Domain</title></head><body><h1>Example Domain</h1></body></html>',
    );
  }
  if (p === '/html') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    return res.end(HTML_PAGE);
  }
  if (p === '/json') return sendJson(res, SLIDESHOW);
  if (p === '/robots.txt') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(ROBOTS);
  }
  if (p === '/gzip' || p === '/deflate' || p === '/brotli') {
    const flag = { '/gzip': 'gzipped', '/deflate': 'deflated', '/brotli': 'brotli' }[p];
    const json = Buffer.from(
      JSON.stringify({ [flag]: true, headers: headerDict(req), method, origin }, null, 2),
    );
    const [encoding, encoded] =
      p === '/gzip'
        ? ['gzip', zlib.gzipSync(json)]
        : p === '/deflate'
          ? ['deflate', zlib.deflateSync(json)]
          : ['br', zlib.brotliCompressSync(json)];
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Encoding': encoding,
      'Content-Length': encoded.length,
    });
    return res.end(encoded);
  }
  if (segments[0] === 'delay') {
    const seconds = Math.min(Number(segments[1]) || 0, 10);
    const timer = setTimeout(
      () =>
        sendJson(res, {
          args: argsDict(url.searchParams),
          data: asText(body),
          headers: headerDict(req),
          origin,
          url: url.href,
        }),
      seconds * 1000,
    );
    ctx.timers.add(timer);
    return undefined;
  }
  if (segments[0] === 'status') {
    const status = Number(segments[1]);
    res.writeHead(
      status,
      status === 204 || status === 304 ? {} : { 'Content-Type': 'text/html; charset=utf-8' },
    );
    return res.end();
  }
  if (
    segments[0] === 'redirect' ||
    segments[0] === 'relative-redirect' ||
    segments[0] === 'absolute-redirect'
  ) {
    const n = Number(segments[1]);
    const absolute = segments[0] === 'absolute-redirect' || url.searchParams.get('absolute') === 'true';
    const next = n > 1 ? `/${absolute ? 'absolute' : 'relative'}-redirect/${n - 1}` : '/get';
    return redirect(res, absolute ? new URL(next, base).href : next);
  }
  if (p === '/redirect-to') {
    return redirect(res, url.searchParams.get('url'), Number(url.searchParams.get('status_code') || 302));
  }
  if (segments[0] === 'image' && IMAGE_TYPES[segments[1]]) {
    const bytes = imageBytes(segments[1]);
    res.writeHead(200, { 'Content-Type': IMAGE_TYPES[segments[1]], 'Content-Length': bytes.length });
    return res.end(bytes);
  }
  if (segments[0] === 'bytes') {
    const bytes = patternBytes(Number(segments[1]), Number(url.searchParams.get('seed') || 1));
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
    return res.end(bytes);
  }
  if (segments[0] === 'stream') {
    const n = Math.min(Number(segments[1]), 100);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    for (let id = 0; id < n; id++) {
      res.write(
        `${JSON.stringify({ url: url.href, args: argsDict(url.searchParams), headers: headerDict(req), origin, id })}\n`,
      );
    }
    return res.end();
  }
  if (p === '/drip') {
    // numbytes '*' bytes spread over `duration` seconds (scaled by timeScale)
    const numbytes = Math.min(Number(url.searchParams.get('numbytes') || 10), 10 * 1024 * 1024);
    const duration = Number(url.searchParams.get('duration') || 2) * ctx.timeScale * 1000;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': numbytes });
    let sent = 0;
    const step = () => {
      if (res.destroyed) return;
      res.write('*');
      if (++sent >= numbytes) return res.end();
      return ctx.timers.add(setTimeout(step, duration / numbytes));
    };
    step();
    return undefined;
  }
  if (p === '/response-headers') {
    const dict = argsDict(url.searchParams);
    return sendJson(res, { 'Content-Type': 'application/json', ...dict }, 200, dict);
  }
  res.writeHead(404, { 'Content-Type': 'text/html' });
  return res.end('<h1>Not Found</h1>');
}

/**
 * Starts the stand-in on 127.0.0.1:0. tls: true → HTTPS with h2 and http/1.1 (h1Only: http/1.1 only); false → HTTP.
 * url(path) uses the name `localhost`, which the test CA's certificate covers. timeScale shortens /drip's duration
 * (0.1: ten times faster); /delay/N keeps its seconds, a timeout against it is the client's.
 */
async function startHttpbin({ tls = true, h1Only = false, timeScale = 1 } = {}) {
  const ctx = { timers: new Set(), sockets: new Set(), timeScale };
  let base = 'http://localhost';
  const onRequest = (req, res) => {
    route(req, res, base, ctx).catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  };
  const server = tls
    ? http2.createSecureServer(
        { ...certPair('server'), allowHTTP1: true, ...(h1Only ? { ALPNProtocols: ['http/1.1'] } : {}) },
        onRequest,
      )
    : http.createServer(onRequest);
  server.on('connection', (s) => {
    ctx.sockets.add(s);
    s.on('close', () => ctx.sockets.delete(s));
  });
  server.on('session', (session) => session.on('error', () => {}));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  base = `${tls ? 'https' : 'http'}://localhost:${port}`;
  return {
    port,
    origin: base,
    url: (p = '/get') => `${base}${p}`,
    close() {
      for (const t of ctx.timers) clearTimeout(t);
      for (const s of ctx.sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startHttpbin, imageBytes, SLIDESHOW };
