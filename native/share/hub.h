// One engine per port across processes. The hub is what a process's shared instance talks to: it
// elects a host for the port (binding the Unix socket <socket dir>/<port>.sock is the lock; see
// endpoint.h), then either hosts the engine itself — serving its own requests directly and other
// processes' of the same user (the kernel says who: SO_PEERCRED) over links — or
// sends its requests over one link to the process that hosts. When the host goes away, the hub
// settles or re-runs what was in flight, elects again and carries on. Knows nothing of Node.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/request.h"
#include "core/request_target.h"

namespace ctn::share {

// What one peer process may ask of the host. Each breach closes that peer's link (with a warning
// saying which limit), and only its link.
struct PeerLimits {
  uint64_t max_request_body = uint64_t{1} << 30;   // body bytes one REQUEST may announce (1 GiB)
  uint64_t max_buffered_body = uint64_t{1} << 30;  // announced bodies of one peer not yet complete
  size_t max_streams = 65536;                      // requests of one peer in flight at once
  size_t max_ping_payload = 64;                    // our PINGs carry 8 bytes
  size_t max_control_bytes = 4u << 20;             // link-level frames queued for a peer that does not read
  size_t max_peers = 1024;                         // connections at once; silent ones are evicted first
};

// Test-only hooks; empty in production (one branch on an empty std::function per frame).
struct HubTestHooks {
  std::optional<uid_t> expected_peer_uid;  // instead of this process's euid
  // Called before a frame of `type` on `stream` is handled; may throw, as a handler could.
  std::function<void(bool host_side, int type, uint64_t stream)> before_frame;
};

struct HubOptions {
  uint16_t port = 9119;
  std::string socket_dir;                 // empty: default_socket_dir()
  EngineOptions engine;                   // for the engine this process hosts, if it does
  uint64_t handover_timeout_ms = 5000;    // requests wait at most this long for a (new) host
  uint64_t handshake_timeout_ms = 500;    // whoever holds the port must prove itself this fast
  uint64_t ping_interval_ms = 1000;       // a client pings its host this often
  uint64_t ping_timeout_ms = 3000;        // nothing heard from the host for this long: it is gone
  uint64_t link_idle_timeout_ms = 30000;  // a client link with nothing in flight closes after this
  uint64_t drain_grace_ms = 5000;         // a leaving host lets remote requests finish this long
  uint32_t stream_window = 1u << 20;      // response bytes in flight per stream before a WINDOW
  PeerLimits peer_limits;
  HubTestHooks test;
};

struct HubStats {
  const char* role = "electing";   // "electing", "host", "client", "stopped"
  const char* link = "none";       // client: "connecting", "open", "idle"; host: "listening"
  uint64_t streams_in_flight = 0;  // client: requests on its link(s); host: remote requests served now
  uint64_t pending = 0;            // requests waiting for a host
  uint64_t elections = 0;
  uint64_t links_established = 0;  // client links that completed the handshake
  uint64_t reconnects = 0;         // links established after the first one
  uint64_t retried = 0;            // requests run again after their host went away
  uint64_t host_gone = 0;          // requests settled with ERR_HOST_GONE
  uint64_t peers_open = 0;         // host: client processes connected now
  uint64_t peers_accepted = 0;     // host: links of this user that completed the handshake
  uint64_t peers_refused = 0;      // host: connections dropped before or instead of a request
  uint64_t host_pid = 0;           // the process hosting the engine
  EngineStats engine;              // the engine of this process (zero unless it hosts)
};

class Hub final : public RequestTarget {
 public:
  Hub(HubOptions options, EventSink& sink);
  ~Hub();  // stops at once if still running; never call on the hub's thread
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Elects: the sink hears a kNotice "host" or "client" when ready, or "failed" with the error
  // (ERR_PORT_IN_USE, ERR_SHARE_SECRET for an unsafe socket directory or a socket of another user). Later
  // role changes are noticed the same way.
  void start();
  void submit(RequestSpec&& spec) override;
  void cancel(uint64_t id) override;
  void set_paused(uint64_t id, bool paused) override;
  // More of a streamed request body (RequestSpec::body_stream); `end` after the last piece. Goes
  // wherever the request went: this process's engine, or the host's over the link (buffered here
  // while the request waits for a host). kSent events come back from the engine that sends it.
  void write_body(uint64_t id, std::string chunk, bool end) override;
  // One client's limits on whichever engine serves it (this process's, or the host's over the link,
  // sent again to every new host), and its departure.
  void set_client_limits(uint64_t client_id, ClientLimits limits) override;
  void cancel_client(uint64_t client_id) override;
  // graceful: a host hands over (stops listening, tells its clients, lets their requests finish
  // within drain_grace_ms); a client says goodbye. Not graceful: everything closes now (the
  // process is going away). `on_stopped` runs on an internal thread as the very last act.
  void shutdown(bool graceful, std::function<void()> on_stopped) override;
  void join() override;  // after shutdown; not from the hub's thread
  HubStats stats() const;
  EngineStats engine_stats() const override { return stats().engine; }
  // The pool of this process's engine (empty unless it hosts).
  std::vector<OriginStats> origin_stats() const override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctn::share
