// The engine: one io_context on its own thread owning every socket, DNS lookup and timer of one
// shared instance. Thread-safe entry points post onto the io thread; results go to an EventSink.
// Knows nothing of Node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "core/request.h"

namespace ctn {

struct EngineOptions {
  size_t max_idle_per_origin = 128;    // idle keep-alive connections kept per connection identity
  uint64_t idle_timeout_ms = 60'000;   // an idle connection is closed after this long
};

struct EngineStats {
  uint64_t requests_started = 0;
  uint64_t requests_in_flight = 0;
  uint64_t connections_opened = 0;   // TCP connections established
  uint64_t tls_handshakes = 0;       // completed handshakes
  uint64_t connections_reused = 0;   // exchanges served by an idle connection
  uint64_t connections_open = 0;     // currently open (active + idle)
  uint64_t connections_idle = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

class Engine {
 public:
  Engine(EngineOptions options, EventSink& sink);
  ~Engine();  // shuts down and joins if still running; never call on the io thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void submit(RequestSpec&& spec);
  void cancel(uint64_t id);
  // Back-pressure for streamed bodies: a paused exchange stops reading from its socket.
  void set_paused(uint64_t id, bool paused);
  // Stops new work, fails every exchange in flight with ERR_CLIENT_CLOSED, closes every socket and
  // stops the io thread; `on_stopped` runs on the io thread as its very last act.
  void shutdown(std::function<void()> on_stopped);
  // Waits for the io thread to end (after shutdown). Not from the io thread.
  void join();
  EngineStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctn
