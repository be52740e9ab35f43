// The host's side of sharing: serves the engine of this process to the other processes of this
// user on the port's socket. It accepts their connections (the kernel vouches for each peer's
// user before a word is read; at the connection cap the oldest silent one makes room), takes each
// peer through HELLO/READY, runs its requests on the local engine under ids of their own, streams
// the answers back within each stream's window and the link's space, and bounds what one peer may
// ask (PeerLimits): a peer that breaks a limit or the protocol loses its link, and only its link.
// Leaving, it stops listening first, then tells its peers (GOAWAY) and lets their requests finish
// within drain_grace_ms.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "core/engine.h"
#include "mux/link.h"
#include "profiles/profile_resolver.h"
#include "share/endpoint.h"
#include "share/hub_context.h"
#include "tls/tls_context.h"

namespace ctn::share {

class HostServer : public mux::LinkHandler {
 public:
  // `on_drained` runs once the hub stops and the last peer is gone.
  HostServer(HubContext& hub, std::function<void()> on_drained);
  HostServer(const HostServer&) = delete;
  HostServer& operator=(const HostServer&) = delete;

  // Serves on `acceptor` (bound by the election to `socket_path`, file `inode`) with `engine`.
  void start(LocalAcceptor acceptor, ino_t inode, Engine& engine, const std::string& socket_path,
             const std::string& lock_path);
  // Any thread: an event of the engine for a request a peer sent (its id has kRemoteBit).
  void engine_event(Event&& event);
  // Stops listening (the socket is removed before anyone hears we leave) and tells every peer:
  // graceful, each may finish its requests within drain_grace_ms; otherwise its link closes now.
  void stop(bool graceful);
  // Closes every peer's link now (the process is exiting while it drained).
  void close_all(const std::string& reason);
  // The hub is done: no drain deadline any more.
  void finish() { drain_timer_.cancel(); }
  bool idle() const { return peers_.empty(); }

  void on_frame(mux::Link& link, mux::Frame&& frame) override;
  void on_link_closed(mux::Link& link, const std::string& reason) override;
  void on_link_writable(mux::Link& link) override;

 private:
  // A request a peer sent us, served by our engine.
  struct RemoteStream {
    uint64_t engine_id = 0;
    RequestSpec spec;  // until its body is complete and it is submitted
    uint64_t body_expected = 0;
    bool submitted = false;
    bool streamed = false;  // body_stream: REQUEST_BODY frames go to the engine as they come
    bool upload_ended = false;
    int64_t credit = 0;
    // Body bytes the engine read, waiting for window or link space: each leaves in frames of at
    // most kBodyChunk cut out of the engine's buffer where it is.
    struct Held {
      std::shared_ptr<const std::string> body;
      size_t sent = 0;  // of *body
      size_t next_frame() const { return std::min(mux::kBodyChunk, body->size() - sent); }
    };
    std::deque<Held> held;
    size_t held_bytes = 0;
    bool engine_paused = false;
    bool has_tail = false;  // END or ERROR, sent once the held body is out
    mux::FrameType tail_type = mux::FrameType::kEnd;
    std::string tail_payload;
  };
  using StreamMap = std::unordered_map<uint64_t, RemoteStream>;

  // One connected process of this user.
  struct Peer {
    explicit Peer(asio::io_context& io) : deadline(io) {}
    std::shared_ptr<mux::Link> link;
    enum class Phase { kHello, kOpen, kDraining } phase = Phase::kHello;
    uint32_t pid = 0;
    uint64_t buffered_body = 0;  // announced bodies of this peer's requests still being gathered
    asio::steady_timer deadline;
    Clock::time_point accepted;
    Clock::time_point last_frame = Clock::now();
    StreamMap streams;
    std::set<uint64_t> clients;  // engine client ids (prefixed) this peer used: forgotten with it
  };

  void accept();
  void on_accepted(LocalSocket socket);
  bool evict_silent_peer();
  void schedule_sweep();
  // A peer that breaks the protocol or a limit loses its link (on_link_closed says why).
  void refuse(Peer& peer, const std::string& why) { peer.link->close(why); }

  void on_peer_frame(Peer& peer, mux::Frame&& f);
  void on_hello(Peer& peer, mux::Frame&& f);
  void on_request(Peer& peer, mux::Frame&& f);
  void on_request_body(Peer& peer, mux::Frame&& f);
  void on_peer_goaway(Peer& peer);
  void submit(RemoteStream& s);
  uint64_t remote_client_id(const Peer& peer, uint64_t client_id) const;

  void drain_engine_events();
  void on_engine_event(Event&& e);
  void pump(Peer& peer, StreamMap::iterator it);
  void drop(Peer& peer, StreamMap::iterator it);
  void forget_streams(Peer& peer);
  void goaway(Peer& peer);
  void on_peer_failed(mux::Link& link, uint64_t stream, const std::string& why);

  HubContext& hub_;
  std::function<void()> on_drained_;
  std::string socket_path_, lock_path_;
  std::optional<LocalAcceptor> acceptor_;
  ino_t bound_inode_ = 0;
  Engine* engine_ = nullptr;
  bool serving_ = false;
  std::unordered_map<mux::Link*, std::shared_ptr<Peer>> peers_;
  std::unordered_map<uint64_t, std::pair<mux::Link*, uint64_t>> remote_index_;  // engine id -> (link, stream)
  uint64_t next_remote_ = 0;
  ProfileResolver resolver_{check_tls_profile};
  Handoff<Event> engine_events_;  // the engine's events for peers' requests, on their way to the hub's thread
  asio::steady_timer sweep_timer_, drain_timer_;
};

}  // namespace ctn::share
