'use strict';
// A raw engine's events one step each, for tests that read the addon's events themselves: a head
// may carry its first body bytes and its end (native/core/event_queue.h merges them for one
// crossing), which unfold() gives back as the separate body ({type 1, data}) and end ({type 2})
// events they stand for, in their order.
function unfold(batch) {
  const out = [];
  for (const e of batch) {
    if (e.type !== 0) {
      out.push(e);
      continue;
    }
    const { data, ended, ...head } = e;
    out.push(head);
    if (data !== undefined) out.push({ id: e.id, type: 1, data });
    if (ended) out.push({ id: e.id, type: 2 });
  }
  return out;
}

module.exports = { unfold };
