// The engine: one io_context on its own thread owning every socket, DNS lookup and timer of one
// shared instance. Thread-safe entry points post onto the io thread; results go to an EventSink.
// Knows nothing of Node.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/request.h"
#include "core/request_target.h"
#include "pool/pool.h"

namespace asio {
class io_context;
}  // namespace asio

namespace ctn {

// Every limit: 0 = unlimited.
struct EngineOptions {
  size_t max_idle_per_origin = 128;   // idle keep-alive connections kept per connection identity
  uint64_t idle_timeout_ms = 60'000;  // an idle connection is closed after this long
  // Connections (open or being set up) per connection identity (pool key), and in all. A request
  // that would need one more waits in the queue; at the total limit an idle connection of another
  // identity is closed to make room.
  size_t max_connections_per_origin = 0;
  size_t max_connections = 0;
  // Requests one client may have on connections at once (the others wait in its queue), for every
  // client without limits of its own (Engine::set_client_limits).
  size_t max_in_flight_per_client = 0;
  // Requests waiting in the queue, all clients together; past it a request fails ERR_QUEUE_FULL.
  size_t max_queued = 10'000;
  // HTTP/2 sessions per connection identity. With 1 (as browsers do), requests beyond the server's
  // MAX_CONCURRENT_STREAMS wait for a stream on the one session; with more, another session opens
  // once every session is full (within max_connections_per_origin).
  size_t max_h2_sessions_per_origin = 1;
  // HTTP/2 keep-alive: after this long without a byte from the server a PING goes out; no answer
  // within ping_timeout_ms and the session is taken for dead: closed, its unsent requests moved to
  // another connection. 0 = no PINGs.
  uint64_t ping_interval_ms = 30'000;
  uint64_t ping_timeout_ms = 10'000;
  // How often idle connections are checked for a close by the server that went unnoticed.
  uint64_t sweep_interval_ms = 5'000;
  // TLS sessions kept for resumption (one slot per connection identity; profiles without
  // session_tickets never resume). 0 = no resumption.
  size_t max_tls_sessions = 1024;

  // What the pool (pool/) enforces of these.
  PoolLimits pool_limits() const {
    return {max_idle_per_origin, max_connections_per_origin, max_connections, max_h2_sessions_per_origin};
  }
};

// One named identity's share of the engine's work (RequestSpec::identity; the default identity ""
// is the engine's totals alone).
struct IdentityStats {
  std::string identity;
  uint64_t connections_opened = 0;  // TCP connections established (QUIC ones are handshakes only)
  uint64_t tls_handshakes = 0;
  uint64_t tls_resumed = 0;
  uint64_t exchanges = 0;  // requests put on a connection
};

struct EngineStats {
  uint64_t requests_started = 0;
  uint64_t requests_in_flight = 0;  // submitted, no terminal event yet (the queued ones included)
  uint64_t connections_opened = 0;  // TCP connections established
  uint64_t tls_handshakes = 0;      // completed handshakes
  uint64_t connections_reused = 0;  // = exchanges_reused (its older name)
  uint64_t connections_open = 0;    // TCP connected now (active + idle, TLS handshakes included)
  uint64_t connections_idle = 0;    // usable and unused: parked HTTP/1.1, HTTP/2 with no stream
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // Pool and lifecycle.
  uint64_t connections_live = 0;        // not yet closed: being set up, active or idle (what
                                        // max_connections bounds)
  uint64_t connections_connecting = 0;  // resolving, connecting or handshaking now
  uint64_t requests_queued = 0;         // waiting for a connection or a client slot now
  uint64_t tls_resumed = 0;             // handshakes that resumed an earlier session
  // Reuse ratio = exchanges_reused / exchanges: requests (attempts) put on a connection, and those
  // of them on a connection that had carried, or was carrying, another request.
  uint64_t exchanges = 0;
  uint64_t exchanges_reused = 0;
  uint64_t h2_pings_timed_out = 0;  // HTTP/2 sessions closed for an unanswered PING
  uint64_t connections_swept = 0;   // idle connections found closed by the server and dropped
  // Origins whose HTTP/3 alternatives (Alt-Svc) are remembered now. Native only: the JS stats gain
  // it with the http3 option that consults them.
  uint64_t alt_svc_origins = 0;
  std::array<uint64_t, kErrorCodeCount> errors{};  // terminal error events by ErrorCode
  // Named identities with a connection so far, the most recently first seen last (bounded:
  // IdentityCounterTable::kMaxIdentities).
  std::vector<IdentityStats> identities;
};

// One of the two RequestTargets (ClientLimits is declared there), the one that does the work.
class Engine final : public RequestTarget {
 public:
  Engine(EngineOptions options, EventSink& sink);
  ~Engine();  // shuts down and joins if still running; never call on the io thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void submit(RequestSpec&& spec) override;
  // Fails the request with ERR_ABORTED (stage: where it was), wherever it is: queued, connecting,
  // handshaking, waiting for the head or mid-body. HTTP/1.1 closes its connection unless the
  // request never reached it; HTTP/2 resets the stream (CANCEL) and keeps the session.
  void cancel(uint64_t id) override;
  // A piece of the body of a request submitted with body_stream (or bytes for an upgraded
  // connection); `end` after the last. Ignored for other or settled requests. Pieces go out in
  // order; kSent events tell how many bytes have left, so the caller bounds what it has pending.
  void write_body(uint64_t id, std::string chunk, bool end) override;
  // Back-pressure for streamed bodies: a paused exchange stops reading from its socket.
  void set_paused(uint64_t id, bool paused) override;
  // Limits of one client from now on (queued requests are re-examined).
  void set_client_limits(uint64_t client_id, ClientLimits limits) override;
  // Fails every request of the client (queued or on a connection) with ERR_CLIENT_CLOSED and
  // forgets its limits: for a client that exits while others share the engine.
  void cancel_client(uint64_t client_id) override;
  // Graceful shutdown: new submits fail with ERR_CLIENT_CLOSED at once; requests already submitted
  // (queued ones included) go on for up to grace_ms, then the rest fail with ERR_CLIENT_CLOSED;
  // then every socket and timer is closed and the io thread ends. `on_done` runs on the io thread
  // as its very last act (or at once on the caller's thread if it has already ended). Any number of
  // calls, from any threads, at any time: a shorter grace period wins, every callback runs once.
  void drain(uint64_t grace_ms, std::function<void()> on_done);
  // drain(0, on_stopped): every exchange in flight fails with ERR_CLIENT_CLOSED now.
  void shutdown(std::function<void()> on_stopped);
  // RequestTarget's: the same as shutdown(on_stopped), whether graceful or not.
  void shutdown(bool graceful, std::function<void()> on_stopped) override { shutdown(std::move(on_stopped)); }
  // Waits for the io thread to end (after shutdown). Not from the io thread.
  void join() override;
  // The io_context the io thread runs. An owner whose own sockets carry this engine's requests and
  // answers (the share host's links to other processes) runs them here too, so an answer goes from
  // the connection to that socket without a thread hop. Its objects on this context must go before
  // the engine does (after join()); handlers posted once the io thread has ended never run.
  asio::io_context& io_context();
  // Lock-free counters: cheap from any thread.
  EngineStats stats() const;
  EngineStats engine_stats() const override { return stats(); }
  // Per connection identity with any connection now, in key order. Takes a short lock.
  std::vector<OriginStats> origin_stats() const override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctn
