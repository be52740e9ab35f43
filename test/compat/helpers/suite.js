// The setup most compat files share, registered as Jest hooks in one call: the local stand-ins a file talks to and,
// where the file keeps one, its cycletls client on the engine port of its own.
'use strict';
const initCycleTLS = require('../../..');

/**
 * beforeAll starts every stand-in of `standIns` (name → function returning a promise of something with close()),
 * all at once, then, with `client`, `initCycleTLS(client)`; afterAll exits the client, then closes the stand-ins.
 * With `freshClientPerTest`, the client is made in beforeEach and exited in afterEach instead (as some of
 * cycletls's files did). Returns the object the hooks fill in: one field per stand-in name, and `cycleTLS`.
 */
function compatSuite(standIns, { client, freshClientPerTest = false } = {}) {
  const names = Object.keys(standIns);
  const suite = {};
  beforeAll(async () => {
    const started = await Promise.all(names.map((name) => standIns[name]()));
    names.forEach((name, i) => {
      suite[name] = started[i];
    });
    if (client && !freshClientPerTest) suite.cycleTLS = await initCycleTLS(client);
  });
  afterAll(async () => {
    if (suite.cycleTLS && !freshClientPerTest) await suite.cycleTLS.exit();
    await Promise.all(names.filter((name) => suite[name]).map((name) => suite[name].close()));
  });
  if (client && freshClientPerTest) {
    beforeEach(async () => {
      suite.cycleTLS = await initCycleTLS(client);
    });
    afterEach(() => suite.cycleTLS.exit());
  }
  return suite;
}

module.exports = { compatSuite };
