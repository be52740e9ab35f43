#include "core/event_queue.h"

namespace ctn {

size_t EventQueue::find_open_head(uint64_t id) const {
  // From the newest: a body or an end mostly follows its head closely.
  for (size_t i = open_heads_.size(); i-- > 0;) {
    if (open_heads_[i].id == id) return i;
  }
  return open_heads_.size();
}

void EventQueue::close_open_head(size_t i) {
  open_heads_[i] = open_heads_.back();
  open_heads_.pop_back();
}

void EventQueue::push(Event&& event) {
  if (event.kind == Event::Kind::kHead) {
    if (open_heads_.size() < kOpenHeadsMax) open_heads_.push_back(OpenHead{event.id, events_.size()});
    events_.push_back(std::move(event));
    return;
  }
  const size_t i = find_open_head(event.id);
  if (i < open_heads_.size()) {
    Event& head = events_[open_heads_[i].at];
    if (event.kind == Event::Kind::kBody && head.body.empty()) {
      head.body = std::move(event.body);
      return;
    }
    if (event.kind == Event::Kind::kEnd) {
      head.ended = true;
      close_open_head(i);
      return;
    }
    // Anything else of the request (a second burst, an error, upload progress) comes after the head
    // and what joined it, in order: nothing more may join the head past it.
    close_open_head(i);
  }
  events_.push_back(std::move(event));
}

std::vector<Event> EventQueue::take() {
  std::vector<Event> out;
  out.swap(events_);
  open_heads_.clear();
  return out;
}

}  // namespace ctn
