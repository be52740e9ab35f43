// The engine's wait queue: one FIFO lane per client, served round-robin, so that a client with
// many requests waiting cannot hold back another client's few. Items leave from anywhere (a cancel,
// a timeout) in O(1) through the handle push returned. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>

namespace ctn {

template <class T>
class FairQueue {
  struct Lane {
    uint64_t client;
    std::list<T> items;
  };
  using LaneIt = typename std::list<Lane>::iterator;

 public:
  struct Handle {
    uint64_t client = 0;
    typename std::list<T>::iterator item;
  };

  FairQueue() : cursor_(ring_.end()) {}
  FairQueue(const FairQueue&) = delete;
  FairQueue& operator=(const FairQueue&) = delete;

  // A newcomer waits behind its client's other items.
  Handle push_back(uint64_t client, T item) {
    Lane& l = lane(client);
    l.items.push_back(std::move(item));
    ++size_;
    return Handle{client, std::prev(l.items.end())};
  }
  // An item that had already started once (a retry) goes before its client's newcomers.
  Handle push_front(uint64_t client, T item) {
    Lane& l = lane(client);
    l.items.push_front(std::move(item));
    ++size_;
    return Handle{client, l.items.begin()};
  }

  void erase(const Handle& h) {
    auto it = lanes_.find(h.client);
    if (it == lanes_.end()) return;
    it->second->items.erase(h.item);
    --size_;
    if (it->second->items.empty()) drop_lane(it);
  }

  // The next item to serve: lanes in turn from the one after the last served, in each the first
  // item `eligible` accepts (so a blocked item does not block its client's others). The item is
  // removed; its handle is void from then on.
  template <class Eligible>
  std::optional<T> take(Eligible&& eligible) {
    if (ring_.empty()) return std::nullopt;
    if (cursor_ == ring_.end()) cursor_ = ring_.begin();
    LaneIt l = cursor_;
    // The client served last (perhaps straight past the queue) goes last in this round.
    if (ring_.size() > 1 && last_served_ == l->client) {
      if (++l == ring_.end()) l = ring_.begin();
    }
    for (size_t visited = 0; visited < ring_.size(); ++visited) {
      for (auto i = l->items.begin(); i != l->items.end(); ++i) {
        if (!eligible(static_cast<const T&>(*i))) continue;
        T out = std::move(*i);
        l->items.erase(i);
        --size_;
        last_served_ = l->client;
        LaneIt next = std::next(l);
        cursor_ = next == ring_.end() ? ring_.begin() : next;
        if (l->items.empty()) drop_lane(lanes_.find(l->client));
        return out;
      }
      if (++l == ring_.end()) l = ring_.begin();
    }
    return std::nullopt;
  }

  // `client` was served without the queue (nobody was waiting): it goes last in the next round.
  void served(uint64_t client) { last_served_ = client; }

  void clear() {
    lanes_.clear();
    ring_.clear();
    cursor_ = ring_.end();
    size_ = 0;
    last_served_.reset();
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const Lane& l : ring_)
      for (const T& item : l.items) fn(item);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t size(uint64_t client) const {
    auto it = lanes_.find(client);
    return it == lanes_.end() ? 0 : it->second->items.size();
  }

 private:
  Lane& lane(uint64_t client) {
    auto it = lanes_.find(client);
    if (it != lanes_.end()) return *it->second;
    // A new lane joins just before the cursor: it is served last in the current round.
    LaneIt at = ring_.insert(cursor_, Lane{client, {}});
    if (cursor_ == ring_.end()) cursor_ = ring_.begin();
    lanes_.emplace(client, at);
    return *at;
  }

  void drop_lane(typename std::unordered_map<uint64_t, LaneIt>::iterator it) {
    LaneIt l = it->second;
    if (cursor_ == l) cursor_ = std::next(l);
    ring_.erase(l);
    lanes_.erase(it);
    if (cursor_ == ring_.end()) cursor_ = ring_.begin();
  }

  std::list<Lane> ring_;
  std::unordered_map<uint64_t, LaneIt> lanes_;
  LaneIt cursor_;
  size_t size_ = 0;
  std::optional<uint64_t> last_served_;
};

}  // namespace ctn
