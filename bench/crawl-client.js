'use strict';
// One cell of the crawl workload: `node crawl-client.js <client> <start URL> <pages> <concurrency>`
// crawls the local site with Crawlee's HttpCrawler and that HTTP client, and prints one JSON line:
// pages, seconds (crawler.run() start to end), pages/s, CPU ms per page of this process, peak RSS.
// Crawlee's storage is in memory (persistStorage false) under a temp CRAWLEE_STORAGE_DIR.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

process.env.CRAWLEE_STORAGE_DIR ||= fs.mkdtempSync(path.join(os.tmpdir(), 'bench-crawl-'));
process.env.CRAWLEE_LOG_LEVEL ??= 'OFF';
const { HttpCrawler, Configuration } = require('@crawlee/http');

const CLIENTS = {
  // ours, from the repository root (build it first)
  'cycletls-native': () => new (require('../dist/crawlee.js').CycleTLSHttpClient)(),
  'crawlee-impit': () =>
    new (require('@crawlee/impit-client').ImpitHttpClient)({ browser: 'chrome', ignoreTlsErrors: true }),
  // Crawlee's default: got-scraping (HttpCrawler's ignoreSslErrors, default true, covers the certificate)
  'crawlee-got': () => undefined,
};

async function main() {
  const [client, start, pagesArg, concurrencyArg] = process.argv.slice(2);
  const pages = Number(pagesArg);
  const concurrency = Number(concurrencyArg);
  const httpClient = CLIENTS[client]();
  let bad = 0;
  const crawler = new HttpCrawler(
    {
      httpClient,
      minConcurrency: concurrency,
      maxConcurrency: concurrency,
      maxRequestRetries: 0,
      requestHandler: async ({ request, body, addRequests }) => {
        const text = String(body);
        if (!text.endsWith('</p></body></html>')) bad++;
        const base = request.loadedUrl ?? request.url;
        await addRequests([...text.matchAll(/href="([^"]+)"/g)].map((m) => new URL(m[1], base).href));
      },
      failedRequestHandler: () => {
        bad++;
      },
    },
    new Configuration({ persistStorage: false, purgeOnStart: true }),
  );
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const stats = await crawler.run([start]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await httpClient?.close?.();
  const done = stats.requestsFinished;
  process.stdout.write(
    JSON.stringify({
      ok: true,
      client,
      pages: done,
      failed: stats.requestsFailed,
      bad,
      seconds,
      pagesPerSec: done / seconds,
      cpuMsPerPage: (cpu.user + cpu.system) / 1000 / done,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    }) + '\n',
  );
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack ?? err) }) + '\n');
  process.exit(1);
});
