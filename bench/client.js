'use strict';
// One benchmark cell in a fresh process:  node client.js <client> <workload> --base URL[,URL...] [--n N]
//   [--warmup W] [--c C] [--proxy URL] [--cycle-port P] [--req-timeout MS]
// Several --base URLs (comma-separated) take the requests in turn (cold-h2: one origin per listener).
// Forked by run.js (IPC). Protocol: child -> {type:'ready'} after init + warm-up; parent samples the
// process tree's CPU and replies {type:'go'}; child runs the timed phase and sends {type:'done', ...};
// parent samples again and replies {type:'ack'}; child closes the client and exits.
// Without IPC (manual run) it just prints the result as JSON.
const { makeBody, WORKLOADS } = require('./lib/body');
const { CLIENTS } = require('./clients');

const argv = process.argv.slice(2);
const [clientName, workloadName] = argv;
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const w =
  workloadName === 'probe'
    ? { path: '/proto', bytes: 0, concurrency: 1, size: 'small' }
    : WORKLOADS[workloadName];
if (!CLIENTS[clientName] || !w) {
  console.error(
    `usage: node client.js <${Object.keys(CLIENTS).join('|')}> <${Object.keys(WORKLOADS).join('|')}> --base https://127.0.0.1:PORT`,
  );
  process.exit(2);
}
const base = opt('base');
const N = Number(opt('n', w && w.size === 'large' ? 200 : 2000));
const C = Number(opt('c', w.concurrency));
const WARMUP = Number(opt('warmup', 2 * C));
const REQ_TIMEOUT = Number(opt('req-timeout', 30000));
const urls = base.split(',').map((b) => b + w.path);
const expected = makeBody(w.bytes);

const viaIpc = typeof process.send === 'function';
const send = (m) => new Promise((resolve) => process.send(m, resolve));
const waitFor = (type) =>
  new Promise((resolve) => {
    const on = (m) => {
      if (m && m.type === type) {
        process.off('message', on);
        resolve(m);
      }
    };
    process.on('message', on);
  });

// Large bodies: a full comparison costs a client ~5 % of its CPU per MiB (memcmp of 2 MiB), which
// is the bench's work, not the client's. Every FULL_CHECK_EVERY-th response (and every small one) is
// compared whole; the others by length and SAMPLE_WINDOWS windows of SAMPLE_BYTES whose place moves
// with the request index, so a run still reads every region of the body. The same for every client.
const FULL_CHECK_BELOW = 64 * 1024;
const FULL_CHECK_EVERY = 8;
const SAMPLE_WINDOWS = 8;
const SAMPLE_BYTES = 4096;

function sameBytes(buf, i) {
  if (buf.length < FULL_CHECK_BELOW || i % FULL_CHECK_EVERY === 0) return buf.equals(expected);
  const span = Math.floor(buf.length / SAMPLE_WINDOWS);
  const shift = ((i * 2654435761) >>> 0) % Math.max(1, span - SAMPLE_BYTES);
  const windows = [0, buf.length - SAMPLE_BYTES];
  for (let k = 0; k < SAMPLE_WINDOWS; k++) windows.push(k * span + shift);
  return windows.every((at) => buf.compare(expected, at, at + SAMPLE_BYTES, at, at + SAMPLE_BYTES) === 0);
}

function check(res, i) {
  if (!res || res.status !== 200) {
    const detail =
      res && res.err !== undefined
        ? String(res.err instanceof ArrayBuffer ? Buffer.from(res.err) : res.err).slice(0, 160)
        : '';
    return `status ${res ? res.status : '?'}${detail ? ': ' + detail.replace(/\s+/g, ' ') : ''}`;
  }
  const b = res.body;
  const buf = b instanceof ArrayBuffer ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length !== expected.length) return `length ${buf.length} != ${expected.length}`;
  if (!sameBytes(buf, i)) return 'body content differs';
  return null;
}

async function runPhase(client, n, c, latencies) {
  let next = 0;
  let bad = 0;
  const errors = new Map();
  // HTTP version the server saw per response (X-Bench-Proto), and what the client reports (if it does)
  const protos = {};
  const clientProtocols = {};
  const resumed = {}; // X-Bench-Resumed: 'r' (resumed TLS session) / '.' (full handshake)
  const note = (msg) => {
    bad++;
    errors.set(msg, (errors.get(msg) || 0) + 1);
  };
  async function worker() {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      let timer;
      try {
        const res = await Promise.race([
          client.get(urls[i % urls.length]),
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`no answer in ${REQ_TIMEOUT} ms`)), REQ_TIMEOUT);
          }),
        ]);
        const e = check(res, i);
        if (e) note(e);
        if (res && res.status === 200) {
          protos[res.proto || '?'] = (protos[res.proto || '?'] || 0) + 1;
          if (res.resumed !== undefined) resumed[res.resumed] = (resumed[res.resumed] || 0) + 1;
          if (res.protocol !== undefined)
            clientProtocols[res.protocol] = (clientProtocols[res.protocol] || 0) + 1;
        }
      } catch (err) {
        note(`error: ${String((err && err.message) || err).slice(0, 160)}`);
      } finally {
        clearTimeout(timer);
      }
      if (latencies) latencies[i] = performance.now() - t0;
    }
  }
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
  return {
    bad,
    protos,
    clientProtocols,
    resumed,
    errors: [...errors]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([m, k]) => `${k}x ${m}`),
  };
}

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

// `probe`: one request to /proto, where the server answers with the negotiated TLS version, cipher,
// HTTP version and ALPN protocol ("TLSv1.3 TLS_AES_128_GCM_SHA256 HTTP/2.0 alpn=h2"), plus what the
// client itself reports (cycletls-native: response.protocol).
async function probe(client) {
  const r = await client.get(urls[0]);
  const b = r.body;
  const text =
    b == null
      ? ''
      : typeof b === 'string'
        ? b
        : Buffer.from(b instanceof ArrayBuffer ? b : b.buffer, b.byteOffset || 0, b.byteLength).toString();
  const result = {
    client: clientName,
    status: r.status,
    tls:
      r.status === 200
        ? text.trim().replace(/alpn=$/, 'alpn=(none)')
        : `status ${r.status}: ${text.slice(0, 120).replace(/\s+/g, ' ')}`,
    clientProtocol: r.protocol,
  };
  if (viaIpc) await send({ type: 'probe', result });
  else console.log(JSON.stringify(result));
  const closeTimer = setTimeout(() => process.exit(0), 5000);
  try {
    await client.close();
  } catch {}
  clearTimeout(closeTimer);
  process.exit(0);
}

async function main() {
  const tInit = performance.now();
  const client = await CLIENTS[clientName]({
    cyclePort: Number(opt('cycle-port', 0)) || 9119,
    proxy: opt('proxy'),
    http3: Boolean(w.http3),
  });
  const initMs = performance.now() - tInit;
  if (workloadName === 'probe') return probe(client);
  const warm = await runPhase(client, WARMUP, C, null);
  if (viaIpc) {
    await send({ type: 'ready', initMs });
    await waitFor('go');
  }

  const lat = new Float64Array(N);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const timed = await runPhase(client, N, C, lat);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sorted = Array.from(lat).sort((a, b) => a - b);
  const result = {
    client: clientName,
    workload: workloadName,
    n: N,
    concurrency: C,
    warmup: WARMUP,
    initMs,
    wallMs,
    reqPerSec: (N * 1000) / wallMs,
    p50Ms: pct(sorted, 50),
    p99Ms: pct(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
    bad: timed.bad,
    errors: timed.errors,
    warmupBad: warm.bad,
    warmupErrors: warm.errors,
    protos: timed.protos,
    clientProtocols: timed.clientProtocols,
    resumed: timed.resumed,
    warmupProtos: warm.protos,
  };
  if (viaIpc) {
    await send({ type: 'done', result });
    await waitFor('ack');
  } else console.log(JSON.stringify(result, null, 2));
  const closeTimer = setTimeout(() => process.exit(0), 5000);
  try {
    await client.close();
  } catch {}
  clearTimeout(closeTimer);
  process.exit(0);
}

main().catch(async (err) => {
  const msg = String((err && err.stack) || err);
  if (viaIpc) await send({ type: 'fatal', error: msg.slice(0, 2000) });
  else console.error(msg);
  process.exit(1);
});
