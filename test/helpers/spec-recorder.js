'use strict';
// The specs lib/ hands the engine, as they go in: the engine class lib/instance.ts constructs (for
// an engine made after this call) records each request's spec, until restore().
const native = require('../../dist/native');

function recordSpecs() {
  const sent = [];
  const addon = native.loadAddon();
  const Original = addon.NativeEngine;
  addon.NativeEngine = class extends Original {
    request(id, spec) {
      sent.push(spec);
      return super.request(id, spec);
    }
  };
  return {
    sent,
    restore() {
      addon.NativeEngine = Original;
    },
  };
}

module.exports = { recordSpecs };
