'use strict';
// Memory bounds for tests of hostile peers: what a test asserts is how much memory a process took,
// never how long something took.

/** The largest RSS of this process while `work` runs (sampled every 10 ms; the engine runs on its own thread). */
async function peakRss(work) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, process.memoryUsage.rss()) };
  } finally {
    clearInterval(timer);
  }
}

module.exports = { peakRss };
