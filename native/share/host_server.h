// The host's side of sharing: serves the engine of this process to the other processes of this
// user on the port's socket. It accepts their connections (the kernel vouches for each peer's
// user before a word is read; at the connection cap the oldest silent one makes room), takes each
// peer through HELLO/READY, runs its requests on the local engine under ids of their own, streams
// the answers back within each stream's window and the link's space, and bounds what one peer may
// ask (PeerLimits): a peer that breaks a limit or the protocol loses its link, and only its link.
// Leaving, it stops listening first, then tells its peers (GOAWAY) and lets their requests finish
// within drain_grace_ms.
// It runs on the engine's io thread (Engine::io_context), beside the connections that answer its
// peers' requests: an answer goes from the engine straight onto the peer's link, in the same turn
// of the io loop, with no thread hop and no wake-up of another thread. The hub's thread only starts
// and stops it; what it reports back (drained, warnings) it posts to the hub's thread.
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
#include "share/messages.h"
#include "tls/tls_context.h"

namespace ctn::share {

class HostServer : public mux::LinkHandler {
 public:
  // `on_drained` runs on the hub's thread once the hub stops and the last peer is gone.
  HostServer(HubContext& hub, std::function<void()> on_drained);
  HostServer(const HostServer&) = delete;
  HostServer& operator=(const HostServer&) = delete;

  // The hub's thread, once: serves on `acceptor` (bound by the election to `socket_path`, file
  // `inode`) with `engine`, on the engine's io thread from now on.
  void start(LocalAcceptor acceptor, ino_t inode, Engine& engine, const std::string& socket_path,
             const std::string& lock_path);
  bool started() const { return io_ != nullptr; }
  // Any thread: an event of the engine for a request a peer sent (its id has kRemoteBit). On the
  // engine's io thread (where the engine emits) it is handled at once.
  void engine_event(Event&& event);
  // The hub's thread, after start(). Stops listening (the socket is removed before anyone hears we
  // leave) and tells every peer: graceful, each may finish its requests within drain_grace_ms;
  // otherwise its link closes now. on_drained runs once no peer is left.
  void stop(bool graceful);
  // The hub's thread, after start(): closes every peer's link now (the process is exiting while it
  // drained); on_drained runs once no peer is left.
  void close_all(const std::string& reason);
  // The hub's thread, after start(): the hub is done, no drain deadline any more.
  void finish();
  // Once the engine's io thread has ended, before the engine goes: drops everything this server
  // holds on the engine's io_context (links, timers, the acceptor).
  void release();

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
    explicit Peer(asio::io_context& engine_io) : deadline(engine_io) {}
    std::shared_ptr<mux::Link> link;
    enum class Phase { kHello, kOpen, kDraining } phase = Phase::kHello;
    uint32_t pid = 0;
    uint64_t buffered_body = 0;  // announced bodies of this peer's requests still being gathered
    asio::steady_timer deadline;
    Clock::time_point accepted;
    Clock::time_point last_frame = Clock::now();
    StreamMap streams;
    std::set<uint64_t> clients;             // engine client ids (prefixed) this peer used: forgotten with it
    mux::LinkFingerprint fingerprint_sent;  // the last fingerprint a HEAD sent in full (mux::encode_head)
  };

  // The engine's io thread from here on.
  void serve(LocalAcceptor::native_handle_type fd, const asio::error_code& released);
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

  void stop_serving(bool graceful);
  void close_links(const std::string& reason);
  // The hub stops and no peer is left: tell the hub (on its thread).
  void drained_if_idle();
  void on_engine_event_contained(Event&& e);
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
  asio::io_context* io_ = nullptr;  // the engine's, where everything below lives
  bool serving_ = false;
  bool drained_told_ = false;
  std::unordered_map<mux::Link*, std::shared_ptr<Peer>> peers_;
  std::unordered_map<uint64_t, std::pair<mux::Link*, uint64_t>> remote_index_;  // engine id -> (link, stream)
  uint64_t next_remote_ = 0;
  ProfileResolver resolver_{check_tls_profile};
  std::optional<asio::steady_timer> sweep_timer_, drain_timer_;
};

}  // namespace ctn::share
