'use strict';
// node share-host.js <port>: a process that hosts cycletls-native's engine on <port> and does nothing
// else, so the benchmark's "remote" client measures requests sent over the process link to it. It
// runs as a child of the measured client process: its CPU counts in the client's process tree.
const path = require('node:path');
const initCycleTLS = require(path.resolve(__dirname, '..', '..'));

initCycleTLS({ port: Number(process.argv[2]) }).then(
  (client) => {
    console.log(`READY ${client.stats().role}`);
    setInterval(() => undefined, 1 << 30);
  },
  (err) => {
    console.log(`FAILED ${err.code} ${err.message}`);
    process.exit(1);
  },
);
