// Where requests go: this process's engine (core::Engine), or the engine a hub reaches for it
// (share::Hub: the one it hosts, or another process's over a link). The binding holds one of these
// and does not know which; the pool types of engine.h are the vocabulary both speak.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/request.h"

namespace ctn {

// Limits of one client (one initCycleTLS instance sharing the engine); 0 = unlimited.
struct ClientLimits {
  size_t max_in_flight = 0;  // requests on connections at once
  size_t max_queued = 0;     // requests of this client waiting (EngineOptions::max_queued too)
};

struct EngineStats;
struct OriginStats;

class RequestTarget {
 public:
  virtual ~RequestTarget() = default;

  // Every call below is thread-safe and returns at once; results reach the EventSink given to the
  // implementation. See Engine for what each one does to a request.
  virtual void submit(RequestSpec&& spec) = 0;
  virtual void cancel(uint64_t id) = 0;
  virtual void write_body(uint64_t id, std::string chunk, bool end) = 0;
  virtual void set_paused(uint64_t id, bool paused) = 0;
  virtual void set_client_limits(uint64_t client_id, ClientLimits limits) = 0;
  virtual void cancel_client(uint64_t client_id) = 0;
  // Stops; `on_stopped` runs on an internal thread as the very last act. graceful: requests of
  // other processes may finish first (a hub that hosts hands over); an engine of one process has
  // nobody else to wait for and fails what is in flight with ERR_CLIENT_CLOSED either way.
  virtual void shutdown(bool graceful, std::function<void()> on_stopped) = 0;
  // Waits for the internal threads to end (after shutdown); never from one of them.
  virtual void join() = 0;
  // The counters of this process's engine (zero for a hub that does not host one).
  virtual EngineStats engine_stats() const = 0;
  virtual std::vector<OriginStats> origin_stats() const = 0;
};

}  // namespace ctn
