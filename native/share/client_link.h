// This process's link to the process hosting its port's engine. It connects to the socket the
// election found, makes sure the host is this user's (the kernel says so) and speaks our protocol
// (HELLO, READY within handshake_timeout_ms), then carries this process's requests as streams:
// sends each request and its body, turns the host's frames back into events, grants window as the
// consumer reads, pings the host, and lets the link go when nothing is in flight for a while.
// A host that says GOAWAY keeps its link (draining) until the requests on it settle. When a link
// closes under its requests, those that may run again (failover.h) go back to the owner to run on
// the next host; the others settle with ERR_HOST_GONE. What to elect, and when, is the owner's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "core/request.h"
#include "mux/link.h"
#include "share/hub_context.h"
#include "share/messages.h"

namespace ctn::share {

class ClientLink : public mux::LinkHandler {
 public:
  // What the link tells the hub, which decides about elections and where requests go.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual bool electing() const = 0;
    // The handshake is done: the link carries requests from now on.
    virtual void link_ready() = 0;
    // Whoever holds the port is not an engine of ours (it is silent, slow, or speaks otherwise).
    virtual void host_not_ours(const std::string& why) = 0;
    // The host belongs to another user: nothing may be sent to it (ERR_SHARE_SECRET).
    virtual void host_refused(const std::string& why) = 0;
    // The host left before or during the handshake: try the election again.
    virtual void host_unavailable(const std::string& why) = 0;
    // The host closed during the handshake; `silent`: without a byte.
    virtual void host_closed_in_handshake(bool silent, const std::string& reason) = 0;
    // The host said GOAWAY (requests on it finish there), or its link closed under us.
    virtual void host_leaving() = 0;
    virtual void host_lost() = 0;
    // A handler threw on `current` (the link in use) or a draining link; its requests failed.
    virtual void link_failed(bool current, const std::string& why) = 0;
    // A request whose host went away before answering, to run on the next one.
    virtual void rerun(RequestSpec&& spec) = 0;
    // Requests wait for a host: the link is not idle.
    virtual bool requests_waiting() const = 0;
  };

  ClientLink(HubContext& hub, Owner& owner);
  ClientLink(const ClientLink&) = delete;
  ClientLink& operator=(const ClientLink&) = delete;

  // Connects to the host listening on `socket_path` and says HELLO.
  void connect(const std::string& socket_path);
  // Drops the connection being made or in use, quietly (no failover for it), and any attempt
  // still in flight.
  void abandon();
  void close();
  // The handshake is done and the link takes requests.
  bool ready() const { return link_ && phase_ == Phase::kOpen; }
  bool open() const { return ready() && link_->open(); }

  void send_request(RequestSpec&& spec);
  void send_client_limits(uint64_t client_id, const ClientLimits& limits);
  // More of a streamed body; false when request `id` is not on a link.
  bool write_body(uint64_t id, std::string&& piece, bool end);
  // A piece written while the request waited for a host, sent now that it is on the link.
  void send_early_upload(uint64_t id, std::string&& piece, bool end);
  // Each false when request `id` is not on a link.
  bool cancel(uint64_t id);
  bool set_paused(uint64_t id, bool paused);
  // Drops request `id` (telling the host), without a word to the sink (the caller settles it).
  void forget(uint64_t id);
  // Arms the idle timer when nothing is in flight on the link in use.
  void arm_idle();
  // The hub stops: every request settles with ERR_CLIENT_CLOSED and the host hears GOAWAY;
  // graceful: after what is queued has been written.
  void leave(bool graceful);
  // Closes the links of hosts that said GOAWAY, now.
  void close_draining();

  void on_frame(mux::Link& link, mux::Frame&& frame) override;
  void on_link_closed(mux::Link& link, const std::string& reason) override;
  void on_link_writable(mux::Link&) override {}
  // A body gathered whole: each BODY frame is read straight onto the end of it.
  std::string claim_payload(mux::FrameType type, uint64_t stream, size_t payload_size) override;

 private:
  // A request this process sent over a link, until it settles.
  struct Stream {
    RequestSpec spec;  // kept whole while it may still be re-run elsewhere
    mux::Link* link = nullptr;
    bool retryable = false;
    bool head_seen = false;
    bool upload_ended = false;  // body_stream: the last REQUEST_BODY went out
    bool paused = false;
    uint64_t owed = 0;     // body bytes consumed but not yet granted back
    uint64_t unacked = 0;  // consumer_credit: bytes delivered since the consumer asked for more
    std::string whole;     // whole_body: the body gathered here, delivered once at the end
                           // (lent to the link's decoder while a BODY frame is read onto it)
  };
  using StreamMap = std::unordered_map<uint64_t, Stream>;
  enum class Phase { kNone, kConnecting, kHandshake, kOpen };

  void on_connected(const asio::error_code& ec, const std::shared_ptr<mux::Link::Socket>& socket);
  void on_handshake_frame(mux::Frame&& f);
  void on_stream_frame(mux::Link& link, mux::Frame&& f);
  void on_head(mux::Link& link, mux::Frame&& f);
  void on_body(mux::Frame&& f);
  void on_end(mux::Frame&& f);
  void on_error(mux::Link& link, mux::Frame&& f);
  void on_goaway(mux::Link& link);
  void on_link_failed(mux::Link& link, const std::string& why);
  void host_broke(mux::Link& link, const std::string& why) { link.close(why); }
  void send_upload(uint64_t id, Stream& s, std::string&& piece, bool end);
  void grant(uint64_t stream, Stream& s);
  void settle(StreamMap::iterator it);
  void schedule_ping();
  bool streams_on(const mux::Link* link) const;
  void close_drained();

  HubContext& hub_;
  Owner& owner_;
  std::string socket_path_;
  std::shared_ptr<mux::Link> link_;
  std::vector<std::shared_ptr<mux::Link>> draining_;  // hosts that said GOAWAY, finishing our requests
  Phase phase_ = Phase::kNone;
  uint64_t connect_attempt_ = 0;
  uint32_t stream_window_ = 1u << 20;
  uint64_t ping_seq_ = 0;
  Clock::time_point last_heard_;
  const mux::Link* quiet_close_ = nullptr;  // closed by us on purpose: no failover
  const mux::Link* idle_close_ = nullptr;
  StreamMap streams_;
  // Per link, the last fingerprint a HEAD carried in full (mux::decode_head); forgotten with the link.
  std::map<const mux::Link*, mux::LinkFingerprint> fingerprints_received_;
  asio::steady_timer handshake_timer_, ping_timer_, idle_timer_;
};

}  // namespace ctn::share
