// Which request goes next: each client's limits (requests on connections at once, requests
// waiting) and the queue of the requests that wait, served round-robin between clients (FairQueue).
// It knows nothing of connections: the engine asks the pool whether a request can be placed.
// io thread only; the engine's stats read the queued count through `queued_gauge`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/engine.h"
#include "core/exchange.h"

namespace ctn {

class Admission {
 public:
  Admission(const EngineOptions& options, std::atomic<uint64_t>& queued_gauge)
      : options_(options), queued_gauge_(queued_gauge) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // The client may put one more request on a connection (its max_in_flight).
  bool has_room(uint64_t client_id);
  // `ex` counts in its client's requests in flight from now on (once).
  void admit(Exchange& ex);
  // Why one more request of `client_id` may not wait ("this client's max_queued (2)",
  // "max_queued (10000)"), or nothing when it may.
  std::optional<std::string> queue_full(uint64_t client_id);

  // `ex` waits: behind its client's other requests, or before them (`front`: it had started
  // already: a retry, a refused stream, a waiter handed back).
  void enqueue(const std::shared_ptr<Exchange>& ex, bool front);
  // The next waiting request that `eligible` accepts, clients in turn; out of the queue.
  template <class Eligible>
  std::shared_ptr<Exchange> take(Eligible&& eligible) {
    auto next = queue_.take(std::forward<Eligible>(eligible));
    if (!next) return nullptr;
    std::shared_ptr<Exchange> ex = std::move(*next);
    ex->queued.reset();
    queued_gauge_--;
    return ex;
  }
  bool nobody_waiting() const { return queue_.empty(); }
  // `client_id` went to a connection without waiting: it goes last in the next round.
  void served(uint64_t client_id) { queue_.served(client_id); }

  // `ex` is settled: out of the queue and out of its client's requests in flight. True when that
  // freed a client slot (waiting requests may go on).
  bool release(Exchange& ex);

  void set_limits(uint64_t client_id, ClientLimits limits);
  // The client closed: its own limits go (and its entry, once nothing of it is left).
  void drop_limits(uint64_t client_id);
  // Forgets every waiting request (the engine is going away).
  void clear() { queue_.clear(); }

 private:
  struct Client {
    ClientLimits limits;
    bool own_limits = false;  // set_limits was called
    size_t in_flight = 0;     // admitted and not settled
  };

  Client& client(uint64_t id);
  void forget_if_unused(uint64_t id);

  const EngineOptions& options_;
  std::atomic<uint64_t>& queued_gauge_;
  ExchangeQueue queue_;
  std::unordered_map<uint64_t, Client> clients_;
};

}  // namespace ctn
