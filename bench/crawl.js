'use strict';
// The crawl workload (`node run.js --workloads crawl [--out crawlee]`): Crawlee's HttpCrawler crawling
// a local site of N pages (--n-crawl, 2000) at a fixed concurrency (--crawl-concurrency, 16) with each
// HTTP client in turn (--crawl-clients: cycletls-native's cycletls-native/crawlee, @crawlee/impit-client,
// Crawlee's default got-scraping client), each cell a fresh process, R interleaved rounds; reports
// the median pages/s, CPU ms per page and peak RSS of the crawler process. The site runs in its own
// process (lib/crawl-site.js).
const path = require('node:path');
const fs = require('node:fs');
const { fork, execFileSync } = require('node:child_process');

const CRAWL_CLIENTS = ['cycletls-native', 'crawlee-impit', 'crawlee-got'];

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

function startSite(pages) {
  const child = fork(path.join(__dirname, 'lib', 'crawl-site.js'), [String(pages)], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', ({ port }) => resolve({ child, port }));
    child.once('exit', (code) => reject(new Error(`crawl site exited with ${code}`)));
  });
}

function siteCounts(site) {
  return new Promise((resolve) => {
    site.child.once('message', (m) => resolve(m.counts));
    site.child.send('counts');
  });
}

function runCell(client, start, pages, concurrency, timeoutMs) {
  try {
    const out = execFileSync(
      process.execPath,
      [path.join(__dirname, 'crawl-client.js'), client, start, String(pages), String(concurrency)],
      { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, CRAWLEE_STORAGE_DIR: storageDir() } },
    );
    return JSON.parse(out.trim().split('\n').pop());
  } catch (err) {
    const line = String(err.stdout ?? '')
      .trim()
      .split('\n')
      .pop();
    try {
      return JSON.parse(line);
    } catch {
      return { ok: false, error: String(err.message).split('\n')[0] };
    }
  }
}

/** A fresh temp dir for one cell's Crawlee storage (in memory anyway: persistStorage is off). */
function storageDir() {
  return fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'bench-crawl-'));
}

function version(pkg) {
  try {
    // read from the folder: got-scraping's "exports" do not expose its package.json
    return JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', pkg, 'package.json'), 'utf8'))
      .version;
  } catch {
    return 'not installed';
  }
}

async function runCrawlBench({ rounds, pages, concurrency, clients, outMd, outJson, log, cellTimeoutMs }) {
  const loadBefore = require('node:os').loadavg();
  const site = await startSite(pages);
  const start = `https://localhost:${site.port}/p/0`;
  log(
    `crawl site: ${pages} pages on 127.0.0.1:${site.port} (pid ${site.child.pid}); ${concurrency} in flight`,
  );
  const records = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const shift = (round - 1) % clients.length;
      for (const client of clients.slice(shift).concat(clients.slice(0, shift))) {
        const before = await siteCounts(site);
        const rec = { round, ...runCell(client, start, pages, concurrency, cellTimeoutMs), client };
        const after = await siteCounts(site);
        rec.protocols = Object.fromEntries(
          Object.entries(after.protocols)
            .map(([k, v]) => [k, v - (before.protocols[k] ?? 0)])
            .filter(([, v]) => v),
        );
        records.push(rec);
        log(
          rec.ok
            ? `r${round} crawl ${client.padEnd(16)} ${rec.pagesPerSec.toFixed(0).padStart(5)} pages/s  cpu ${rec.cpuMsPerPage.toFixed(3)} ms/page  rss ${rec.peakRssMB.toFixed(0)} MB  pages ${rec.pages} failed ${rec.failed} bad ${rec.bad}  ${JSON.stringify(rec.protocols)}`
            : `r${round} crawl ${client.padEnd(16)} FAILED: ${rec.error}`,
        );
      }
    }
  } finally {
    site.child.send('stop');
  }
  const rows = clients.map((client) => {
    const ok = records.filter((r) => r.client === client && r.ok);
    return {
      client,
      rounds: ok.length,
      pagesPerSec: median(ok.map((r) => r.pagesPerSec)),
      cpuMsPerPage: median(ok.map((r) => r.cpuMsPerPage)),
      peakRssMB: median(ok.map((r) => r.peakRssMB)),
      failed: ok.reduce((s, r) => s + r.failed + r.bad, 0),
      protocols: [...new Set(ok.flatMap((r) => Object.keys(r.protocols)))].join(', '),
      error: records.find((r) => r.client === client && !r.ok)?.error?.split('\n')[0],
    };
  });
  const ours = rows.find((r) => r.client === 'cycletls-native');
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const md = [
    '# Crawl workload: Crawlee HttpCrawler, pages/s per HTTP client',
    '',
    `Run ${new Date().toISOString()} on ${require('node:os').cpus().length} cores, node ${process.version}; ` +
      `\`node run.js ${process.argv.slice(2).join(' ')}\`.`,
    `Crawlee ${version('@crawlee/http')} (HttpCrawler), @crawlee/impit-client ${version('@crawlee/impit-client')}, ` +
      `got-scraping ${version('got-scraping')}; site: ${pages} HTML pages of ~3 KiB on 127.0.0.1 (TLS, node:http2 ` +
      `with HTTP/1.1 allowed), five links each; concurrency fixed at ${concurrency}; each cell a fresh process, ` +
      `${rounds} interleaved rounds, medians. CPU and RSS: the crawler process (Crawlee's own work included). ` +
      `Load average (1 min) before/after: ${loadBefore[0].toFixed(1)}/${require('node:os').loadavg()[0].toFixed(1)} ` +
      `on this shared machine: pages/s moves with it; CPU ms/page is the steadier figure.`,
    '',
    '| client | pages/s | × ours | CPU ms/page | peak RSS MB | failed or bad pages | HTTP seen by the site | rounds |',
    '|---|--:|--:|--:|--:|--:|---|--:|',
    ...rows.map(
      (r) =>
        `| ${r.client} | ${f(r.pagesPerSec)} | ${ours && r !== ours ? f(r.pagesPerSec / ours.pagesPerSec, 2) : '—'} | ` +
        `${f(r.cpuMsPerPage, 3)} | ${f(r.peakRssMB)} | ${r.failed} | ${r.protocols} | ${r.rounds}${r.error ? ` (failed: ${r.error})` : ''} |`,
    ),
    '',
    'Per round:',
    '',
    ...records.map((r) =>
      r.ok
        ? `- r${r.round} ${r.client}: ${f(r.pagesPerSec)} pages/s, ${f(r.seconds, 2)} s, ${f(r.cpuMsPerPage, 3)} ms CPU/page, ${f(r.peakRssMB)} MB`
        : `- r${r.round} ${r.client}: failed: ${String(r.error).split('\n')[0]}`,
    ),
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(outMd), { recursive: true });
  fs.writeFileSync(outMd, md);
  fs.writeFileSync(outJson, JSON.stringify({ rows, records }, null, 2) + '\n');
  log(`wrote ${outMd}`);
  console.log('\n' + md);
}

module.exports = { runCrawlBench, CRAWL_CLIENTS };
