// Real local proxies on 127.0.0.1, port 0, small enough to read: an HTTP proxy (CONNECT tunnels
// and absolute-form requests, optionally over TLS, optionally with Basic credentials), a SOCKS
// server speaking SOCKS4, SOCKS4a and SOCKS5 (optionally with username/password, and with names
// only it can resolve), and a black hole that accepts connections and never answers. Each records
// what it was asked, so tests can prove what went over the wire.
'use strict';
const net = require('node:net');
const tls = require('node:tls');
const { certPair } = require('./servers');

function track(server) {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    async listen() {
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server.address().port;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Pipes `client` to a new TCP connection to host:port; `onOpen` runs once connected. */
function relay(client, host, port, onOpen, onFail, head = Buffer.alloc(0)) {
  const upstream = net.connect({ host, port });
  upstream.on('connect', () => {
    onOpen(upstream);
    if (head.length) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on('error', (err) => onFail(err));
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

/**
 * An HTTP proxy. tls: serve it over TLS (the test CA's 'server' certificate: https://localhost).
 * auth: {user, pass} required as Proxy-Authorization: Basic. log: one entry per request head:
 * {method, target, authorization}.
 */
async function startHttpProxy({ tls: useTls = false, auth } = {}) {
  const log = [];
  const expected = auth ? `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}` : undefined;
  const onSocket = (socket) => {
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      socket.pause();
      const head = buf.subarray(0, end).toString('latin1');
      const rest = buf.subarray(end + 4);
      const [method, target] = head.split('\r\n')[0].split(' ');
      const authorization = /\r\nproxy-authorization:\s*([^\r\n]*)/i.exec(head)?.[1];
      log.push({ method, target, authorization, head });
      if (expected && authorization !== expected) {
        socket.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n',
        );
        return;
      }
      const fail = () => socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      if (method === 'CONNECT') {
        const i = target.lastIndexOf(':');
        const host = target.slice(0, i).replace(/^\[|\]$/g, '');
        relay(
          socket,
          host,
          Number(target.slice(i + 1)),
          () => socket.write('HTTP/1.1 200 Connection established\r\n\r\n'),
          fail,
          rest,
        );
        return;
      }
      // Absolute-form: relay the request as it came (Node's HTTP server accepts absolute-form).
      const url = new URL(target);
      relay(socket, url.hostname, Number(url.port || 80), () => {}, fail, buf);
    };
    socket.on('data', onData);
  };
  const server = useTls ? tls.createServer({ ...certPair('server') }, onSocket) : net.createServer(onSocket);
  const t = track(server);
  const port = await t.listen();
  return {
    port,
    log,
    url: (cred = '') => `${useTls ? 'https' : 'http'}://${cred}${useTls ? 'localhost' : '127.0.0.1'}:${port}`,
    close: t.close,
  };
}

/**
 * A SOCKS4/4a/5 server. auth: {user, pass} makes SOCKS5 require username/password (SOCKS4 takes
 * any user id). hosts: names only this server resolves ({name: ip}); other names go to the system
 * resolver. log: one entry per CONNECT: {version, addressType ('ipv4'|'ipv6'|'name'), host, port, user}.
 */
async function startSocksServer({ auth, hosts = {} } = {}) {
  const log = [];
  const resolve = (name) => hosts[name] ?? name;
  const onSocket = (socket) => {
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let state = 'start';
    let user = '';
    const take = (n) => {
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    };
    const connect = (version, addressType, host, port, reply) => {
      log.push({ version, addressType, host, port, user });
      state = 'relay';
      socket.removeListener('data', onData);
      socket.pause();
      const rest = buf;
      relay(
        socket,
        resolve(host),
        port,
        () => reply(true),
        () => reply(false),
        rest,
      );
    };
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (state === 'start') {
          if (buf.length < 1) return;
          state = buf[0] === 4 ? 'v4' : buf[0] === 5 ? 'v5-greeting' : 'bad';
          if (state === 'bad') return socket.destroy();
        } else if (state === 'v4') {
          // VN CD DSTPORT DSTIP USERID\0 [HOST\0]
          const nul = buf.indexOf(0, 8);
          if (nul < 0) return;
          const ip = [...buf.subarray(4, 8)].join('.');
          const is4a = buf[4] === 0 && buf[5] === 0 && buf[6] === 0 && buf[7] !== 0;
          const hostEnd = is4a ? buf.indexOf(0, nul + 1) : nul;
          if (hostEnd < 0) return;
          const port = buf.readUInt16BE(2);
          user = buf.subarray(8, nul).toString();
          const host = is4a ? buf.subarray(nul + 1, hostEnd).toString() : ip;
          take(hostEnd + 1);
          const reply = (ok) => socket.write(Buffer.from([0, ok ? 90 : 91, 0, 0, 0, 0, 0, 0]));
          return connect(is4a ? '4a' : '4', is4a ? 'name' : 'ipv4', host, port, reply);
        } else if (state === 'v5-greeting') {
          if (buf.length < 2 || buf.length < 2 + buf[1]) return;
          const methods = [...take(2 + buf[1]).subarray(2)];
          const want = auth ? 2 : 0;
          if (!methods.includes(want)) {
            socket.end(Buffer.from([5, 0xff]));
            return;
          }
          socket.write(Buffer.from([5, want]));
          state = auth ? 'v5-auth' : 'v5-request';
        } else if (state === 'v5-auth') {
          if (buf.length < 2 || buf.length < 3 + buf[1] || buf.length < 3 + buf[1] + buf[2 + buf[1]]) return;
          const ulen = buf[1];
          const plen = buf[2 + ulen];
          user = buf.subarray(2, 2 + ulen).toString();
          const pass = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
          take(3 + ulen + plen);
          if (user !== auth.user || pass !== auth.pass) {
            socket.end(Buffer.from([1, 1]));
            return;
          }
          socket.write(Buffer.from([1, 0]));
          state = 'v5-request';
        } else if (state === 'v5-request') {
          if (buf.length < 5) return;
          const atyp = buf[3];
          const alen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4];
          if (buf.length < 4 + alen + 2) return;
          const a = buf.subarray(4, 4 + alen);
          const port = buf.readUInt16BE(4 + alen);
          take(4 + alen + 2);
          let host;
          let type;
          if (atyp === 1) {
            host = [...a].join('.');
            type = 'ipv4';
          } else if (atyp === 4) {
            host = a.toString('hex').match(/.{4}/g).join(':');
            type = 'ipv6';
          } else {
            host = a.subarray(1).toString();
            type = 'name';
          }
          const reply = (ok) => socket.write(Buffer.from([5, ok ? 0 : 5, 0, 1, 127, 0, 0, 1, 0, 0]));
          return connect('5', type, host, port, reply);
        } else {
          return;
        }
      }
    };
    socket.on('data', onData);
  };
  const server = net.createServer(onSocket);
  const t = track(server);
  const port = await t.listen();
  return { port, log, url: (scheme, cred = '') => `${scheme}://${cred}127.0.0.1:${port}`, close: t.close };
}

/** Accepts TCP connections and never sends a byte. */
async function startBlackHole() {
  const server = net.createServer((s) => s.on('error', () => {}));
  const t = track(server);
  const port = await t.listen();
  return { port, close: t.close };
}

module.exports = { startHttpProxy, startSocksServer, startBlackHole };
