// Events waiting for their crossing to JS, in arrival order. A buffered response's head, body and
// end usually arrive within microseconds of each other: they are merged into its head event (the
// body in `body`, `ended` set), so JS decodes one event and makes one dispatch instead of three.
// Each request's own order is kept: a body or an end joins its head only when nothing else of that
// request came after the head, and at most one body joins (a streamed body's later bursts stay
// events of their own, so nothing is copied). Which events cross together is up to the timing of
// the crossings; what a request's events say, and their order, is not.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/request.h"

namespace ctn {

class EventQueue {
 public:
  // Heads still open to a merge, at most this many per crossing: a body or an end looks for its
  // head among them only, so queueing an event costs at most this many comparisons of an id.
  static constexpr size_t kOpenHeadsMax = 64;

  void push(Event&& event);
  // Everything queued, in order; the queue is left empty.
  std::vector<Event> take();
  bool empty() const { return events_.empty(); }

 private:
  struct OpenHead {
    uint64_t id;
    size_t at;  // index in events_
  };
  // The open head of request `id`, or open_heads_.size().
  size_t find_open_head(uint64_t id) const;
  void close_open_head(size_t i);

  std::vector<Event> events_;
  std::vector<OpenHead> open_heads_;
};

}  // namespace ctn
