'use strict';
// A local name server for the DNS tests: Debian's dnsmasq (scripts/install-deps.sh installs
// dnsmasq-base), on 127.0.0.1 and a free UDP port, answering only what it is given (no upstream, no
// /etc/hosts) and logging every question it gets, so tests can count them.
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const net = require('node:net');

// dnsmasq listens on UDP and TCP: a port free for UDP may be taken for TCP (another suite's server,
// the suites run in parallel). One free for both, as far as can be known before dnsmasq binds it.
async function freeUdpPort() {
  for (;;) {
    const socket = dgram.createSocket('udp4');
    await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    const tcpFree = await new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    await new Promise((resolve) => socket.close(resolve));
    if (tcpFree) return port;
  }
}

// Another process can still take the port between the check and dnsmasq's bind: then once more.
const START_ATTEMPTS = 3;

/**
 * Starts dnsmasq. `hosts`: { name: ['127.0.0.1', '::1'] } (A and AAAA records); `https`: { name: hex
 * RDATA } (HTTPS records, type 65); `nxdomain`: names answered NXDOMAIN; `ttl`: the TTL of every answer.
 * Resolves to { address ('127.0.0.1:port'), questions(name, type) (how many it was asked), asked(name,
 * type) (the same, waiting for the log to catch up), log(), close() }.
 */
async function startDnsmasq(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freeUdpPort());
    } catch (err) {
      if (attempt >= START_ATTEMPTS || !/Address already in use/.test(String(err && err.message))) throw err;
    }
  }
}

async function startOnce({ hosts = {}, https = {}, nxdomain = [], ttl = 60 }, port) {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--pid-file=',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--log-queries',
    '--log-facility=-',
    `--local-ttl=${ttl}`,
  ];
  if (process.getuid && process.getuid() === 0) args.push('--user=root');
  for (const [name, addresses] of Object.entries(hosts))
    args.push(`--host-record=${name},${addresses.join(',')}`);
  for (const [name, rdata] of Object.entries(https)) args.push(`--dns-rr=${name},65,${rdata}`);
  for (const name of nxdomain) args.push(`--address=/${name}/`);
  // Not the sanitizer run's LD_PRELOAD (scripts/asan-jest.js): dnsmasq is not ours to instrument, and
  // with the ASan runtime preloaded it never starts.
  const { LD_PRELOAD, ...env } = process.env;
  void LD_PRELOAD;
  const child = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let log = '';
  child.stderr.setEncoding('utf8');
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dnsmasq did not start:\n${log}`)), 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dnsmasq exited (${code}):\n${log}`));
    });
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('started, version')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    address: `127.0.0.1:${port}`,
    port,
    /** How many questions for `name` of `type` ('A', 'AAAA', 'HTTPS') dnsmasq has logged so far. */
    questions(name, type) {
      return countQuestions(log, name, type);
    },
    /**
     * The same count, once it reaches `atLeast` or `timeoutMs` passed: the log comes over a pipe,
     * which the test's event loop may read after the response a question led to has arrived.
     */
    async asked(name, type, { atLeast = 1, timeoutMs = 3000 } = {}) {
      const until = Date.now() + timeoutMs;
      while (countQuestions(log, name, type) < atLeast && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return countQuestions(log, name, type);
    },
    log: () => log,
    close() {
      if (child.exitCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill();
      });
    },
  };
}

// dnsmasq names the types it knows ("query[HTTPS]") and numbers the others ("query[type=65]").
const TYPE_NUMBERS = { A: 1, AAAA: 28, HTTPS: 65 };

function countQuestions(log, name, type) {
  const spellings = [`query[${type}] ${name} from`];
  if (TYPE_NUMBERS[type]) spellings.push(`query[type=${TYPE_NUMBERS[type]}] ${name} from`);
  return log.split('\n').filter((l) => spellings.some((s) => l.includes(s))).length;
}

/** The hex RDATA of an HTTPS record: ServiceMode priority 1, target ".", the given alpn ids and ECH bytes. */
function httpsRdata({ priority = 1, alpn = [], ech } = {}) {
  const u16 = (v) => Buffer.from([v >> 8, v & 0xff]);
  const parts = [u16(priority), Buffer.from([0])];
  if (alpn.length) {
    const ids = Buffer.concat(alpn.map((id) => Buffer.concat([Buffer.from([id.length]), Buffer.from(id)])));
    parts.push(u16(1), u16(ids.length), ids);
  }
  if (ech) parts.push(u16(5), u16(ech.length), ech);
  return Buffer.concat(parts).toString('hex');
}

module.exports = { startDnsmasq, httpsRdata };
