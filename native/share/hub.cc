#include "share/hub.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include <asio.hpp>

#include "mux/frame.h"
#include "mux/link.h"
#include "profiles/profile_resolver.h"
#include "share/endpoint.h"
#include "share/messages.h"
#include "tls/tls_context.h"

namespace ctn::share {

namespace {

using Clock = std::chrono::steady_clock;
using mux::Frame;
using mux::FrameType;
using mux::Link;

// Requests this process's own clients make carry ids below 2^53 (they come from JS numbers);
// requests served for other processes get ids with this bit, so one engine holds both.
constexpr uint64_t kRemoteBit = uint64_t{1} << 62;
constexpr size_t kPreHelloMaxPayload = 1024;  // HELLO is tiny
constexpr size_t kHoldHigh = 1u << 20;       // host: body bytes held for a stream before pausing it
constexpr size_t kHoldLow = 256u << 10;
constexpr uint64_t kConsumerCredit = 2u << 20;  // as the engine's read-ahead for such consumers
constexpr auto kWarningInterval = std::chrono::seconds(5);

bool idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

Event error_event(uint64_t id, ErrorCode code, Stage stage, std::string message) {
  Event e;
  e.kind = Event::Kind::kError;
  e.id = id;
  e.error = Error{code, stage, std::move(message)};
  return e;
}

Event notice_event(std::string notice, Error error = {}) {
  Event e;
  e.kind = Event::Kind::kNotice;
  e.notice = std::move(notice);
  e.error = std::move(error);
  return e;
}

std::chrono::milliseconds ms(uint64_t v) { return std::chrono::milliseconds(v); }

}  // namespace

class Hub::Impl : public mux::LinkHandler, public EventSink {
 public:
  Impl(HubOptions options, EventSink& sink) : options_(std::move(options)), sink_(sink),
      work_(asio::make_work_guard(io_)), election_timer_(io_), handshake_timer_(io_),
      ping_timer_(io_), idle_timer_(io_), pending_timer_(io_), drain_timer_(io_), sweep_timer_(io_) {
    thread_ = std::thread([this] {
      for (;;) {
        try {
          io_.run();
          break;
        } catch (...) {
          // Every handler that can throw contains it (contained()); this is the last resort that
          // keeps the io thread alive should one ever escape.
        }
      }
      if (auto cb = std::move(on_stopped_)) cb();
    });
  }

  ~Impl() override {
    if (thread_.joinable()) {
      if (!stopping_.exchange(true)) {
        asio::post(io_, [this] { stop(false); });
      }
      thread_.join();
    }
    if (engine_) {
      engine_->join();
      engine_.reset();
    }
  }

  // ---- thread-safe entry points ----

  void start() {
    asio::post(io_, [this] {
      const std::string dir = options_.socket_dir.empty() ? default_socket_dir() : options_.socket_dir;
      socket_dir_ = dir;
      socket_path_ = socket_path(dir, options_.port);
      lock_path_ = dir + "/" + std::to_string(options_.port) + ".lock";
      elect();
    });
  }

  void submit(RequestSpec&& spec) {
    // The common case, a process that hosts, goes straight to its engine: no extra hop.
    if (Engine* engine = host_engine_.load(std::memory_order_acquire)) {
      engine->submit(std::move(spec));
      return;
    }
    // Batched like the engine's events: a burst of requests costs one wake-up of the hub's thread.
    // A cancel or pause posted after a submit still runs after it (the drain was posted first).
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(submit_mu_);
      submit_queue_.push_back(std::move(spec));
      schedule = !submit_scheduled_;
      submit_scheduled_ = true;
    }
    if (schedule) asio::post(io_, [this] { drain_submits(); });
  }

  void drain_submits() {
    std::vector<RequestSpec> batch;
    {
      std::lock_guard<std::mutex> lock(submit_mu_);
      batch.swap(submit_queue_);
      submit_scheduled_ = false;
    }
    for (auto& spec : batch) {
      const uint64_t id = spec.id;
      contained([&] { route(std::move(spec)); }, [&](const std::string& why) { fail_own_request(id, why); });
    }
  }

  void cancel(uint64_t id) {
    asio::post(io_, [this, id] {
      contained([&] { cancel_on_thread(id); }, [&](const std::string& why) { fail_own_request(id, why); });
    });
  }

  void set_paused(uint64_t id, bool paused) {
    asio::post(io_, [this, id, paused] {
      contained([&] { pause_on_thread(id, paused); }, [&](const std::string& why) { fail_own_request(id, why); });
    });
  }

  void write_body(uint64_t id, std::string chunk, bool end) {
    // Through the hub's thread even when hosting: a submit still in the hub's queue must reach the
    // engine before its body does.
    asio::post(io_, [this, id, c = std::move(chunk), end]() mutable {
      contained([&] { write_on_thread(id, std::move(c), end); },
                [&](const std::string& why) { fail_own_request(id, why); });
    });
  }

  void set_client_limits(uint64_t client_id, ClientLimits limits) {
    // A host takes it the way it takes submits (straight to its engine), so the limits are in
    // place before the client's first request; a client sends it down the link ahead of them.
    Engine* engine = host_engine_.load(std::memory_order_acquire);
    if (engine) engine->set_client_limits(client_id, limits);
    asio::post(io_, [this, client_id, limits, direct = engine != nullptr] {
      client_limits_[client_id] = limits;
      if (role_ == Role::kHost) {
        if (!direct) engine_->set_client_limits(client_id, limits);
      } else if (link_ && client_phase_ == ClientPhase::kOpen) {
        send_client_limits(client_id, limits);
      }
    });
  }

  void cancel_client(uint64_t client_id) {
    asio::post(io_, [this, client_id] {
      client_limits_.erase(client_id);
      if (engine_) engine_->cancel_client(client_id);
    });
  }

  std::vector<OriginStats> origin_stats() const {
    if (Engine* engine = host_engine_.load(std::memory_order_acquire)) return engine->origin_stats();
    return {};
  }

  void shutdown(bool graceful, std::function<void()> on_stopped) {
    if (stopping_.exchange(true)) {
      // Already handing over, and now the process is going: stop waiting for remote requests.
      if (!graceful) asio::post(io_, [this] { escalate(); });
      return;
    }
    asio::post(io_, [this, graceful, cb = std::move(on_stopped)]() mutable {
      on_stopped_ = std::move(cb);
      stop(graceful);
    });
  }

  void join() {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    if (engine_) {
      engine_->join();
      engine_.reset();
    }
  }

  HubStats stats() const {
    HubStats s;
    s.role = role_name_.load();
    s.link = link_name_.load();
    s.streams_in_flight = stat_streams_.load();
    s.pending = stat_pending_.load();
    s.elections = stat_elections_.load();
    s.links_established = stat_links_.load();
    s.reconnects = s.links_established > 0 ? s.links_established - 1 : 0;
    s.retried = stat_retried_.load();
    s.host_gone = stat_host_gone_.load();
    s.peers_open = stat_peers_open_.load();
    s.peers_accepted = stat_peers_accepted_.load();
    s.peers_refused = stat_peers_refused_.load();
    s.host_pid = stat_host_pid_.load();
    if (Engine* engine = host_engine_.load(std::memory_order_acquire)) s.engine = engine->stats();
    return s;
  }

  // ---- the hosted engine's events (engine thread) ----

  void deliver(Event&& event) override {
    if ((event.id & kRemoteBit) == 0) {
      sink_.deliver(std::move(event));
      return;
    }
    // Batched: one wake-up of the hub's thread carries every event queued meanwhile, which is what
    // keeps a body read in many small pieces from costing a thread hop per piece.
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(remote_mu_);
      remote_queue_.push_back(std::move(event));
      schedule = !remote_scheduled_;
      remote_scheduled_ = true;
    }
    if (schedule) asio::post(io_, [this] { drain_remote_events(); });
  }

 private:
  // A request this process sent over a link, until it settles.
  struct ClientStream {
    RequestSpec spec;           // kept whole while it may still be re-run elsewhere
    Link* link = nullptr;
    bool retryable = false;
    bool head_seen = false;
    bool upload_ended = false;  // body_stream: the last REQUEST_BODY went out
    bool paused = false;
    uint64_t owed = 0;          // body bytes consumed but not yet granted back
    uint64_t unacked = 0;       // consumer_credit: bytes delivered since the consumer asked for more
    std::string whole;          // whole_body: the body gathered here, delivered once at the end
  };

  // A request another process sent us, served by our engine.
  struct RemoteStream {
    uint64_t engine_id = 0;
    RequestSpec spec;            // until its body is complete and it is submitted
    uint64_t body_expected = 0;
    bool submitted = false;
    bool streamed = false;       // body_stream: REQUEST_BODY frames go to the engine as they come
    bool upload_ended = false;
    int64_t credit = 0;
    std::deque<std::string> held;  // body chunks waiting for window or link space
    size_t held_bytes = 0;
    bool engine_paused = false;
    bool has_tail = false;       // END or ERROR, sent once the held body is out
    FrameType tail_type = FrameType::kEnd;
    std::string tail_payload;
  };

  struct Peer {
    explicit Peer(asio::io_context& io) : deadline(io) {}
    std::shared_ptr<Link> link;
    enum class Phase { kHello, kOpen, kDraining } phase = Phase::kHello;
    uint32_t pid = 0;
    uint64_t buffered_body = 0;  // announced bodies of this peer's requests still being gathered
    asio::steady_timer deadline;
    Clock::time_point accepted;
    Clock::time_point last_frame = Clock::now();
    std::unordered_map<uint64_t, RemoteStream> streams;
    std::set<uint64_t> clients;  // engine client ids (prefixed) this peer used: forgotten with it
  };

  struct Pending {
    RequestSpec spec;
    Clock::time_point deadline;
  };

  // A streamed body written while its request still waits for a host.
  struct EarlyUpload {
    std::deque<std::string> pieces;
    bool ended = false;
  };

  enum class Role { kElecting, kHost, kClient, kStopped };
  enum class ClientPhase { kNone, kConnecting, kHandshake, kOpen };

  // ---- roles ----

  void set_role(Role role) {
    role_ = role;
    switch (role) {
      case Role::kElecting: role_name_ = "electing"; break;
      case Role::kHost: role_name_ = "host"; link_name_ = "listening"; break;
      case Role::kClient: role_name_ = "client"; break;
      case Role::kStopped: role_name_ = "stopped"; link_name_ = "none"; break;
    }
  }

  void elect() {
    if (electing_ || stopping_now_ || role_ == Role::kHost) return;
    electing_ = true;
    set_role(Role::kElecting);
    ++stat_elections_;
    election_deadline_ = Clock::now() + ms(options_.handover_timeout_ms);
    attempts_ = 0;
    silent_closes_ = 0;
    try_bind();
  }

  void try_bind() {
    if (stopping_now_) return;
    // Checked on every election, not once: a directory opened to others meanwhile is refused.
    std::string why;
    if (!ensure_socket_dir(socket_dir_, &why)) return election_failed(ErrorCode::kShareSecret, why);
    LocalAcceptor acceptor(io_);
    BindResult bound = bind_or_find_host(acceptor, socket_path_, lock_path_);
    switch (bound.outcome) {
      case BindResult::Outcome::kBound:
        bound_inode_ = bound.inode;
        return become_host(std::move(acceptor));
      case BindResult::Outcome::kLive:
        return connect_to_host();
      case BindResult::Outcome::kRefused:
        return election_failed(ErrorCode::kShareSecret, bound.why);
    }
  }

  uid_t expected_uid() const { return options_.test.expected_peer_uid.value_or(geteuid()); }

  // "" when the process on the other end of `link` is this user's; else why not.
  std::string foreign_uid(Link& link) const {
    const std::optional<uid_t> uid = peer_uid(link.native_handle());
    if (!uid) return "the kernel cannot say which user it belongs to";
    if (*uid != expected_uid()) {
      return "it belongs to uid " + std::to_string(*uid) + ", not to this user (uid " + std::to_string(expected_uid()) + ")";
    }
    return "";
  }

  void retry_election(const std::string& why) {
    const auto backoff = ms(std::min<uint64_t>(100, uint64_t{5} << std::min(attempts_, 5)));
    ++attempts_;
    if (Clock::now() + backoff > election_deadline_) {
      election_failed(ErrorCode::kHostGone, "no engine host became available on port " +
                                                std::to_string(options_.port) + " within " +
                                                std::to_string(options_.handover_timeout_ms) + " ms (" + why + ")");
      return;
    }
    election_timer_.expires_after(backoff);
    election_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec && electing_) try_bind();
    });
  }

  void election_failed(ErrorCode code, const std::string& why) {
    electing_ = false;
    close_client_link("");
    set_role(Role::kClient);
    link_name_ = "none";
    fail_pending(code, why);
    if (!announced_) {
      announced_ = true;
      sink_.deliver(notice_event("failed", Error{code, Stage::kLink, why}));
    }
  }

  void announce(const char* role) {
    // The first announcement resolves initCycleTLS; later ones tell of a changed role.
    announced_ = true;
    sink_.deliver(notice_event(role));
  }

  // ---- host ----

  void become_host(LocalAcceptor acceptor) {
    electing_ = false;
    close_client_link("");
    acceptor_.emplace(std::move(acceptor));
    if (!engine_) engine_ = std::make_unique<Engine>(options_.engine, static_cast<EventSink&>(*this));
    for (const auto& [id, limits] : client_limits_) engine_->set_client_limits(id, limits);
    set_role(Role::kHost);
    stat_host_pid_ = static_cast<uint64_t>(getpid());
    // Everything that waited goes to the engine before the fast path opens, so a cancel that
    // takes the fast path can never overtake its request.
    while (!pending_.empty()) {
      engine_->submit(std::move(pending_.front().spec));
      pending_.pop_front();
    }
    stat_pending_ = 0;
    host_engine_.store(engine_.get(), std::memory_order_release);
    accept();
    schedule_sweep();
    announce("host");
  }

  void accept() {
    if (!acceptor_) return;
    acceptor_->async_accept([this](const asio::error_code& ec, LocalSocket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_) return;
      if (!ec) on_accepted(std::move(socket));
      accept();
    });
  }

  void on_accepted(LocalSocket socket) {
    auto peer = std::make_unique<Peer>(io_);
    peer->link = std::make_shared<Link>(std::move(socket), *this, kPreHelloMaxPayload);
    peer->link->set_max_control_bytes(options_.peer_limits.max_control_bytes);
    Link* key = peer->link.get();
    // The kernel says who connected: another user's process is dropped before it can say a word.
    if (std::string why = foreign_uid(*peer->link); !why.empty()) {
      ++stat_peers_refused_;
      warn("refused a connection on " + socket_path_ + ": " + why);
      peer->link->close("");
      return;
    }
    // Connections are this user's, so none is hostile by design, but one buggy process must not
    // keep the others out: at the cap, the oldest connection that has not said HELLO makes room.
    if (peers_.size() >= options_.peer_limits.max_peers && !evict_silent_peer()) {
      ++stat_peers_refused_;
      warn("refused a connection on " + socket_path_ + ": " + std::to_string(peers_.size()) +
           " processes are connected already");
      peer->link->close("");
      return;
    }
    peer->deadline.expires_after(ms(std::max<uint64_t>(2000, options_.handshake_timeout_ms * 4)));
    peer->deadline.async_wait([this, key](const asio::error_code& ec) {
      if (ec) return;
      auto it = peers_.find(key);
      if (it != peers_.end() && it->second->phase != Peer::Phase::kOpen &&
          it->second->phase != Peer::Phase::kDraining) {
        refuse(*it->second, "no link handshake within the deadline (half-open or silent connection)");
      }
    });
    Peer& p = *peer;
    p.accepted = Clock::now();
    peers_.emplace(key, std::move(peer));
    p.link->start();
  }

  bool evict_silent_peer() {
    Link* oldest = nullptr;
    Clock::time_point when = Clock::time_point::max();
    for (const auto& [key, p] : peers_) {
      if (p->phase == Peer::Phase::kHello && p->accepted < when) {
        oldest = key;
        when = p->accepted;
      }
    }
    if (!oldest) return false;
    refuse(*peers_[oldest], "evicted: it said nothing and the host is at its connection limit");
    return true;
  }

  // host_link_closed counts it, warns and erases the peer.
  void refuse(Peer& peer, const std::string& why) { peer.link->close(why); }

  void host_frame(Peer& peer, Frame&& f) {
    peer.last_frame = Clock::now();
    switch (peer.phase) {
      case Peer::Phase::kHello: {
        mux::Hello hello;
        if (f.type != FrameType::kHello || f.stream != 0 || !mux::decode_hello(f.payload, &hello)) {
          refuse(peer, "not a cycletls-native link client (expected HELLO, got " +
                           std::string(mux::frame_type_name(f.type)) + ")");
          return;
        }
        if (hello.version != mux::kProtocolVersion) {
          peer.link->send_control(FrameType::kGoaway, 0, 0,
                                  mux::PayloadWriter().str("protocol version " +
                                                           std::to_string(mux::kProtocolVersion) + " required").take());
          peer.link->close_after_flush("protocol version mismatch");
          return;
        }
        // The kernel vouched for the peer's user at accept; the HELLO only names the protocol.
        peer.pid = hello.pid;
        peer.phase = stopping_ ? Peer::Phase::kDraining : Peer::Phase::kOpen;
        peer.deadline.cancel();
        peer.link->set_max_payload(mux::kMaxFramePayload);
        ++stat_peers_accepted_;
        ++stat_peers_open_;
        mux::Ready ready{options_.stream_window, static_cast<uint32_t>(getpid())};
        peer.link->send_control(FrameType::kReady, 0, 0, mux::encode_ready(ready));
        if (stopping_) goaway_peer(peer);
        return;
      }
      case Peer::Phase::kOpen:
      case Peer::Phase::kDraining:
        break;
    }
    switch (f.type) {
      case FrameType::kRequest: return remote_request(peer, std::move(f));
      case FrameType::kRequestBody: return remote_body(peer, std::move(f));
      case FrameType::kCancel: {
        auto it = peer.streams.find(f.stream);
        if (it == peer.streams.end()) return;  // settled meanwhile
        if (it->second.submitted) engine_->cancel(it->second.engine_id);
        drop_remote(peer, it);
        return;
      }
      case FrameType::kWindow: {
        uint32_t n = 0;
        if (!mux::decode_u32(f.payload, &n)) return protocol_error(peer, "malformed WINDOW");
        auto it = peer.streams.find(f.stream);
        if (it == peer.streams.end()) return;
        it->second.credit += n;
        pump(peer, it);
        return;
      }
      case FrameType::kPing:
        if (f.payload.size() > options_.peer_limits.max_ping_payload) {
          return protocol_error(peer, "PING of " + std::to_string(f.payload.size()) + " bytes (at most " +
                                          std::to_string(options_.peer_limits.max_ping_payload) + ")");
        }
        peer.link->send_control(FrameType::kPong, 0, 0, f.payload);
        return;
      case FrameType::kClientLimits: {
        mux::ClientLimitsMessage m;
        if (!mux::decode_client_limits(f.payload, &m)) return protocol_error(peer, "malformed CLIENT_LIMITS");
        const uint64_t id = remote_client_id(peer, f.stream);
        peer.clients.insert(id);
        engine_->set_client_limits(id, ClientLimits{m.max_in_flight, m.max_queued});
        return;
      }
      case FrameType::kGoaway:
        // The client process is leaving: whatever it still had running is of no use to anyone.
        for (auto& [_, s] : peer.streams) {
          if (s.submitted) engine_->cancel(s.engine_id);
          remote_index_.erase(s.engine_id);
        }
        stat_streams_ -= std::min<uint64_t>(stat_streams_, peer.streams.size());
        peer.streams.clear();
        peer.link->close("");
        return;
      default:
        return protocol_error(peer, "unexpected " + std::string(mux::frame_type_name(f.type)) + " from a client");
    }
  }

  void protocol_error(Peer& peer, const std::string& why) { peer.link->close(why); }

  void remote_request(Peer& peer, Frame&& f) {
    if (peer.phase == Peer::Phase::kDraining) {
      // Sent before it saw our GOAWAY: refuse it in a way the client re-runs elsewhere.
      peer.link->send_stream(FrameType::kError, 0, f.stream,
                             mux::encode_error(Error{ErrorCode::kHostGone, Stage::kLink, "the host is handing over"}));
      return;
    }
    if (f.stream == 0 || (f.stream & kRemoteBit) != 0 || peer.streams.count(f.stream)) {
      return protocol_error(peer, "REQUEST on stream " + std::to_string(f.stream) + " (zero, out of range or in use)");
    }
    const PeerLimits& limits = options_.peer_limits;
    if (peer.streams.size() >= limits.max_streams) {
      return protocol_error(peer, "more than " + std::to_string(limits.max_streams) + " requests in flight");
    }
    RemoteStream s;
    std::string why;
    if (!mux::decode_request(f.payload, &s.spec, &s.body_expected, &why)) return protocol_error(peer, why);
    if ((f.flags & mux::kEndStream) && s.body_expected != 0) {
      return protocol_error(peer, "REQUEST announces a body but ends the stream");
    }
    // The body is gathered here before the request is submitted: what a peer may announce is bounded.
    if (s.body_expected > limits.max_request_body) {
      return protocol_error(peer, "REQUEST announces a body of " + std::to_string(s.body_expected) +
                                      " bytes (at most " + std::to_string(limits.max_request_body) + ")");
    }
    if (peer.buffered_body + s.body_expected > limits.max_buffered_body) {
      return protocol_error(peer, "REQUEST bodies being gathered would exceed " +
                                      std::to_string(limits.max_buffered_body) + " bytes");
    }
    s.engine_id = kRemoteBit | ++next_remote_;
    s.spec.id = s.engine_id;
    s.spec.client_id = remote_client_id(peer, s.spec.client_id);
    peer.clients.insert(s.spec.client_id);
    s.credit = options_.stream_window;
    // The client gathers a whole body itself; streaming it here keeps the host's memory flat.
    s.spec.whole_body = false;
    if (!resolver_.resolve(s.spec.profile, s.spec.fingerprint, &s.spec.custom_profile, &why)) {
      peer.link->send_stream(FrameType::kError, 0, f.stream,
                             mux::encode_error(Error{ErrorCode::kUnsupportedFingerprint, Stage::kQueue, why}));
      return;
    }
    auto [it, _] = peer.streams.emplace(f.stream, std::move(s));
    remote_index_[it->second.engine_id] = {peer.link.get(), f.stream};
    ++stat_streams_;
    it->second.streamed = it->second.spec.body_stream;
    if ((f.flags & mux::kEndStream) || it->second.streamed) {
      submit_remote(it->second);
    } else {
      peer.buffered_body += it->second.body_expected;
    }
  }

  void remote_body(Peer& peer, Frame&& f) {
    auto it = peer.streams.find(f.stream);
    if (it == peer.streams.end()) return;  // cancelled meanwhile
    RemoteStream& s = it->second;
    if (s.streamed) {
      if (s.upload_ended) return protocol_error(peer, "REQUEST_BODY after the body ended");
      s.upload_ended = (f.flags & mux::kEndStream) != 0;
      engine_->write_body(s.engine_id, std::move(f.payload), s.upload_ended);
      return;
    }
    if (s.submitted) return protocol_error(peer, "REQUEST_BODY after the body ended");
    if (s.spec.body.size() + f.payload.size() > s.body_expected) {
      return protocol_error(peer, "REQUEST_BODY beyond the announced body size");
    }
    s.spec.body.append(f.payload);
    if (f.flags & mux::kEndStream) {
      if (s.spec.body.size() != s.body_expected) return protocol_error(peer, "request body shorter than announced");
      peer.buffered_body -= s.body_expected;
      submit_remote(s);
    }
  }

  void submit_remote(RemoteStream& s) {
    s.submitted = true;
    engine_->submit(std::move(s.spec));
    s.spec = RequestSpec{};
  }

  void drain_remote_events() {
    std::vector<Event> batch;
    {
      std::lock_guard<std::mutex> lock(remote_mu_);
      batch.swap(remote_queue_);
      remote_scheduled_ = false;
    }
    for (auto& e : batch) {
      const uint64_t id = e.id;
      contained([&] { remote_event(std::move(e)); },
                [&](const std::string& why) {
                  auto where = remote_index_.find(id);
                  if (where != remote_index_.end()) peer_failed(*where->second.first, where->second.second, why);
                });
    }
  }

  void remote_event(Event&& e) {
    auto where = remote_index_.find(e.id);
    if (where == remote_index_.end()) return;  // cancelled, or its link is gone
    auto peer_it = peers_.find(where->second.first);
    if (peer_it == peers_.end()) return;
    Peer& peer = *peer_it->second;
    auto it = peer.streams.find(where->second.second);
    if (it == peer.streams.end()) return;
    RemoteStream& s = it->second;
    switch (e.kind) {
      case Event::Kind::kHead:
        peer.link->send_stream(FrameType::kHead, 0, it->first, mux::encode_head(e.head, e.connection));
        return;
      case Event::Kind::kBody: {
        s.held_bytes += e.body.size();
        if (e.body.size() <= mux::kBodyChunk) {
          s.held.push_back(std::move(e.body));  // the engine's bytes go out as they are
        } else {
          for (size_t off = 0; off < e.body.size(); off += mux::kBodyChunk) {
            s.held.push_back(e.body.substr(off, mux::kBodyChunk));
          }
        }
        if (!s.engine_paused && s.held_bytes > kHoldHigh) {
          s.engine_paused = true;
          engine_->set_paused(s.engine_id, true);
        }
        pump(peer, it);
        return;
      }
      case Event::Kind::kEnd:
        s.has_tail = true;
        s.tail_type = FrameType::kEnd;
        pump(peer, it);
        return;
      case Event::Kind::kError:
        s.has_tail = true;
        s.tail_type = FrameType::kError;
        s.tail_payload = mux::encode_error(e.error);
        pump(peer, it);
        return;
      case Event::Kind::kSent:
        peer.link->send_control(FrameType::kSent, 0, it->first, mux::encode_u64(e.sent));
        return;
      case Event::Kind::kNotice:
        return;
    }
  }

  // Moves a stream's held body onto the link as far as its window and the link's space allow.
  void pump(Peer& peer, std::unordered_map<uint64_t, RemoteStream>::iterator it) {
    RemoteStream& s = it->second;
    while (!s.held.empty() && peer.link->writable() &&
           s.credit >= static_cast<int64_t>(s.held.front().size())) {
      s.credit -= static_cast<int64_t>(s.held.front().size());
      s.held_bytes -= s.held.front().size();
      peer.link->send_stream(FrameType::kBody, 0, it->first, std::move(s.held.front()));
      s.held.pop_front();
    }
    if (s.engine_paused && s.held_bytes < kHoldLow) {
      s.engine_paused = false;
      engine_->set_paused(s.engine_id, false);
    }
    if (s.held.empty() && s.has_tail) {
      peer.link->send_stream(s.tail_type, 0, it->first, std::move(s.tail_payload));
      drop_remote(peer, it);
    }
  }

  void drop_remote(Peer& peer, std::unordered_map<uint64_t, RemoteStream>::iterator it) {
    if (!it->second.submitted && !it->second.streamed) peer.buffered_body -= it->second.body_expected;
    remote_index_.erase(it->second.engine_id);
    peer.streams.erase(it);
    if (stat_streams_ > 0) --stat_streams_;
    if (peer.phase == Peer::Phase::kDraining && peer.streams.empty()) {
      peer.link->close_after_flush("");
    }
  }

  void goaway_peer(Peer& peer) {
    peer.phase = Peer::Phase::kDraining;
    peer.link->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("the host is leaving").take());
    if (peer.streams.empty()) peer.link->close_after_flush("");
  }

  void host_link_closed(Link& link, const std::string& reason) {
    auto it = peers_.find(&link);
    if (it == peers_.end()) return;
    Peer& peer = *it->second;
    if (peer.phase == Peer::Phase::kOpen || peer.phase == Peer::Phase::kDraining) {
      if (stat_peers_open_ > 0) --stat_peers_open_;
      // A client that breaks the protocol loses its link, and only its link; say why.
      if (!reason.empty() && reason != "the peer closed the link" && !stopping_) {
        warn("closed the link from process " + std::to_string(peer.pid) + ": " + reason);
      }
    } else if (!stopping_now_) {
      // Never said HELLO: whatever it was, it got nothing. One that connected and left without a
      // byte is most likely an election probing whether this host is alive: not worth a warning.
      ++stat_peers_refused_;
      if (!(link.peer_silent() && reason == "the peer closed the link")) {
        warn("refused a connection on " + socket_path_ + ": " +
             (reason.empty() ? std::string("closed before saying HELLO") : reason));
      }
    }
    for (auto& [_, s] : peer.streams) {
      if (s.submitted && engine_) engine_->cancel(s.engine_id);
      remote_index_.erase(s.engine_id);
    }
    if (engine_) {
      for (uint64_t client : peer.clients) engine_->cancel_client(client);
    }
    stat_streams_ -= std::min<uint64_t>(stat_streams_, peer.streams.size());
    peer.deadline.cancel();
    // The peer may be referenced by the caller's stack (a frame handler): free it afterwards.
    std::shared_ptr<Peer> doomed(std::move(it->second));
    peers_.erase(it);
    asio::post(io_, [doomed] {});
    if (stopping_ && peers_.empty()) finish_stop();
  }

  void schedule_sweep() {
    sweep_timer_.expires_after(ms(options_.ping_interval_ms));
    sweep_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || role_ != Role::kHost) return;
      // A client that stopped pinging (stopped, or its machine froze) is gone: free its streams.
      const auto limit = ms(std::max<uint64_t>(options_.ping_timeout_ms * 3, options_.ping_interval_ms * 5));
      std::vector<Link*> dead;
      for (auto& [key, p] : peers_) {
        if (p->phase == Peer::Phase::kOpen && Clock::now() - p->last_frame > limit) dead.push_back(key);
      }
      for (Link* key : dead) {
        auto it = peers_.find(key);
        if (it != peers_.end()) protocol_error(*it->second, "the client stopped pinging");
      }
      schedule_sweep();
    });
  }

  // ---- client ----

  void connect_to_host() {
    client_phase_ = ClientPhase::kConnecting;
    link_name_ = "connecting";
    auto socket = std::make_shared<LocalSocket>(io_);
    const asio::local::stream_protocol::endpoint endpoint(socket_path_);
    const uint64_t attempt = ++connect_attempt_;
    handshake_timer_.expires_after(ms(options_.handshake_timeout_ms));
    handshake_timer_.async_wait([this, attempt, socket](const asio::error_code& ec) {
      if (ec || attempt != connect_attempt_) return;
      if (client_phase_ == ClientPhase::kConnecting) {
        asio::error_code ignored;
        socket->close(ignored);
        return;  // the connect handler reports it
      }
      if (client_phase_ == ClientPhase::kHandshake) {
        foreign("it did not answer the link handshake within " + std::to_string(options_.handshake_timeout_ms) + " ms");
      }
    });
    socket->async_connect(endpoint, [this, attempt, socket](const asio::error_code& ec) {
      if (attempt != connect_attempt_ || !electing_) return;
      if (ec == asio::error::operation_aborted) {
        foreign("connecting to it took longer than " + std::to_string(options_.handshake_timeout_ms) + " ms");
        return;
      }
      if (ec) {
        // Refused: the host left between our bind and connect. Try to become the host.
        client_phase_ = ClientPhase::kNone;
        retry_election("connect: " + ec.message());
        return;
      }
      link_ = std::make_shared<Link>(std::move(*socket), *this, mux::kMaxFramePayload);
      client_phase_ = ClientPhase::kHandshake;
      // The host must be this user's too, or our requests (cookies, credentials) would go to
      // whoever put a socket there: checked before a single byte is sent.
      if (std::string why = foreign_uid(*link_); !why.empty()) {
        handshake_timer_.cancel();
        ++connect_attempt_;
        close_client_link("");
        return election_failed(ErrorCode::kShareSecret, "refusing the engine host on " + socket_path_ + ": " + why);
      }
      link_->start();
      mux::Hello hello;
      hello.version = mux::kProtocolVersion;
      hello.pid = static_cast<uint32_t>(getpid());
      link_->send_control(FrameType::kHello, 0, 0, mux::encode_hello(hello));
    });
  }

  // Whoever holds the port is not an engine of ours: say so at once rather than time out later.
  // At start-up that is the answer (ERR_PORT_IN_USE, fast); during a handover it may be a host
  // still starting or already leaving, so it is tried again until the handover deadline.
  void foreign(const std::string& why) {
    handshake_timer_.cancel();
    ++connect_attempt_;
    close_client_link("");
    const std::string message = "port " + std::to_string(options_.port) + " (" + socket_path_ +
                                ") is held by something that is not a cycletls-native engine of this user: " + why;
    if (!announced_) {
      election_failed(ErrorCode::kPortInUse, message);
    } else {
      retry_election(message);
    }
  }

  void client_handshake_frame(Frame&& f) {
    if (f.type == FrameType::kReady) {
      mux::Ready ready;
      if (!mux::decode_ready(f.payload, &ready)) return foreign("malformed READY");
      stream_window_ = ready.stream_window;
      stat_host_pid_ = ready.host_pid;
      handshake_timer_.cancel();
      client_phase_ = ClientPhase::kOpen;
      electing_ = false;
      link_name_ = "open";
      set_role(Role::kClient);
      ++stat_links_;
      last_heard_ = Clock::now();
      schedule_ping();
      // What waited for a host goes out now, in the order it came.
      auto waiting = std::move(pending_);
      pending_.clear();
      stat_pending_ = 0;
      // A new host knows nothing of our clients' limits yet.
      for (const auto& [id, limits] : client_limits_) send_client_limits(id, limits);
      for (auto& p : waiting) send_request(std::move(p.spec));
      arm_idle();
      announce("client");
      return;
    }
    if (f.type == FrameType::kGoaway) {
      // A host that is leaving, or refuses our protocol version.
      mux::PayloadReader r(f.payload);
      std::string reason;
      r.str(&reason);
      if (reason.rfind("protocol version", 0) == 0) return foreign("it requires " + reason);
      close_client_link("");
      retry_election("the host is leaving");
      return;
    }
    foreign("it sent " + std::string(mux::frame_type_name(f.type)) + " during the handshake");
  }

  void client_frame(Link& link, Frame&& f) {
    if (&link == link_.get()) last_heard_ = Clock::now();
    if (&link == link_.get() && client_phase_ == ClientPhase::kHandshake) return client_handshake_frame(std::move(f));
    switch (f.type) {
      case FrameType::kHead: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end() || it->second.head_seen) return;
        Event e;
        e.kind = Event::Kind::kHead;
        e.id = f.stream;
        if (!mux::decode_head(f.payload, &e.head, &e.connection)) return host_broke(link, "malformed HEAD");
        it->second.head_seen = true;
        if (it->second.spec.whole_body && !it->second.spec.decompress) {
          // Gathering a whole body: one allocation of the announced size instead of doubling.
          if (const Header* cl = find_header(e.head.headers, "content-length")) {
            char* end = nullptr;
            const unsigned long long n = std::strtoull(cl->value.c_str(), &end, 10);
            const uint64_t limit = it->second.spec.max_response_bytes;
            if (end && *end == '\0' && n > 0 && n <= (uint64_t{1} << 30) && (limit == 0 || n <= limit)) {
              it->second.whole.reserve(n);
            }
          }
        }
        sink_.deliver(std::move(e));
        return;
      }
      case FrameType::kBody: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) return;
        ClientStream& s = it->second;
        s.owed += f.payload.size();
        if (s.spec.whole_body) {
          // The engine's maxResponseBytes check, for a body the host streamed to us.
          if (s.spec.max_response_bytes != 0 && s.whole.size() + f.payload.size() > s.spec.max_response_bytes) {
            if (s.link && s.link->open()) s.link->send_control(FrameType::kCancel, 0, f.stream, {});
            sink_.deliver(error_event(f.stream, ErrorCode::kBodyTooLarge, Stage::kBody,
                                      body_too_large_message(s.spec.max_response_bytes)));
            settle(it);
            return;
          }
          if (s.whole.capacity() == 0) s.whole = std::move(f.payload); else s.whole.append(f.payload);
        } else {
          Event e;
          e.kind = Event::Kind::kBody;
          e.id = f.stream;
          e.body = std::move(f.payload);
          sink_.deliver(std::move(e));
        }
        if (s.spec.consumer_credit && !s.spec.whole_body) s.unacked += f.payload.size();
        // A consumer that has not asked for more gets no more window: the host stops after it.
        const bool starved = s.spec.consumer_credit && !s.spec.whole_body && s.unacked >= kConsumerCredit;
        if (!s.paused && !starved && s.owed >= stream_window_ / 2) grant(it->first, s);
        return;
      }
      case FrameType::kEnd: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) return;
        if (it->second.spec.whole_body && !it->second.whole.empty()) {
          Event body;
          body.kind = Event::Kind::kBody;
          body.id = f.stream;
          body.body = std::move(it->second.whole);
          sink_.deliver(std::move(body));
        }
        Event e;
        e.kind = Event::Kind::kEnd;
        e.id = f.stream;
        sink_.deliver(std::move(e));
        settle(it);
        return;
      }
      case FrameType::kError: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) return;
        Error error;
        if (!mux::decode_error(f.payload, &error)) return host_broke(link, "malformed ERROR");
        // Refused by a host that is handing over: it never ran, so it runs on the next host.
        if (error.code == ErrorCode::kHostGone && !it->second.head_seen) {
          RequestSpec spec = std::move(it->second.spec);
          settle(it);
          ++stat_retried_;
          route(std::move(spec));
          return;
        }
        sink_.deliver(error_event(f.stream, error.code, error.stage, std::move(error.message)));
        settle(it);
        return;
      }
      case FrameType::kSent: {
        auto it = streams_.find(f.stream);
        uint64_t n = 0;
        if (!mux::decode_u64(f.payload, &n)) return host_broke(link, "malformed SENT");
        if (it == streams_.end()) return;
        Event e;
        e.kind = Event::Kind::kSent;
        e.id = f.stream;
        e.sent = n;
        sink_.deliver(std::move(e));
        return;
      }
      case FrameType::kPong:
        return;
      case FrameType::kGoaway: {
        // The host is leaving: what runs there finishes there; new requests wait for the next host.
        if (&link == link_.get()) {
          draining_.push_back(link_);
          link_.reset();
          client_phase_ = ClientPhase::kNone;
          link_name_ = "none";
          ping_timer_.cancel();
          idle_timer_.cancel();
          close_drained();
          elect();
        }
        return;
      }
      default:
        return host_broke(link, "unexpected " + std::string(mux::frame_type_name(f.type)) + " from the host");
    }
  }

  void host_broke(Link& link, const std::string& why) { link.close(why); }

  void send_client_limits(uint64_t client_id, const ClientLimits& limits) {
    mux::ClientLimitsMessage m;
    m.max_in_flight = static_cast<uint32_t>(std::min<size_t>(limits.max_in_flight, UINT32_MAX));
    m.max_queued = static_cast<uint32_t>(std::min<size_t>(limits.max_queued, UINT32_MAX));
    link_->send_control(FrameType::kClientLimits, 0, client_id, mux::encode_client_limits(m));
  }

  // Clients of different processes must never share a queue or a limit: their ids only mean
  // something within their own process, so the host prefixes them with the link's id.
  static uint64_t remote_client_id(const Peer& peer, uint64_t client_id) {
    return kRemoteBit | (uint64_t{peer.link->id()} << 32) | (client_id & 0xffffffffu);
  }

  void grant(uint64_t stream, ClientStream& s) {
    if (s.owed == 0 || !s.link || !s.link->open()) return;
    s.link->send_control(FrameType::kWindow, 0, stream, mux::encode_u32(static_cast<uint32_t>(s.owed)));
    s.owed = 0;
  }

  void settle(std::unordered_map<uint64_t, ClientStream>::iterator it) {
    streams_.erase(it);
    stat_streams_ = streams_.size();
    close_drained();
    arm_idle();
  }

  void send_request(RequestSpec&& spec) {
    const uint64_t id = spec.id;
    if (spec.upgrade) spec.body_stream = true;  // as the engine will take it
    const bool has_body = !spec.body.empty() || spec.body_stream || spec.upgrade;
    link_->send_stream(FrameType::kRequest, has_body ? 0 : mux::kEndStream, id, mux::encode_request(spec));
    for (size_t off = 0; off < spec.body.size(); off += mux::kBodyChunk) {
      const bool last = off + mux::kBodyChunk >= spec.body.size();
      link_->send_stream(FrameType::kRequestBody, last ? mux::kEndStream : 0, id,
                         spec.body.substr(off, mux::kBodyChunk));
    }
    ClientStream s;
    // A streamed body cannot be sent twice: what left is gone.
    s.retryable = spec.retry_on_host_gone && idempotent(spec.method) && !spec.body_stream && !spec.upgrade;
    // A request that will never run again does not need its body kept.
    if (!s.retryable) {
      spec.body.clear();
      spec.body.shrink_to_fit();
    }
    s.spec = std::move(spec);
    s.link = link_.get();
    auto& placed = streams_[id] = std::move(s);
    stat_streams_ = streams_.size();
    idle_timer_.cancel();
    replay_early_upload(id, [&](std::string&& piece, bool end) { send_upload(id, placed, std::move(piece), end); });
  }

  // Hands the pieces written while request `id` waited for a host to `write(piece, end)`, in order,
  // the end with the last one (or alone when there were none).
  template <class Write>
  void replay_early_upload(uint64_t id, Write&& write) {
    auto early = early_uploads_.find(id);
    if (early == early_uploads_.end()) return;
    EarlyUpload upload = std::move(early->second);
    early_uploads_.erase(early);
    for (size_t i = 0; i < upload.pieces.size(); ++i) {
      write(std::move(upload.pieces[i]), upload.ended && i + 1 == upload.pieces.size());
    }
    if (upload.ended && upload.pieces.empty()) write(std::string(), true);
  }

  void send_upload(uint64_t id, ClientStream& s, std::string&& piece, bool end) {
    if (s.upload_ended || !s.link || !s.link->open()) return;
    s.upload_ended = end;
    if (piece.size() <= mux::kBodyChunk) {
      s.link->send_stream(FrameType::kRequestBody, end ? mux::kEndStream : 0, id, std::move(piece));
      return;
    }
    for (size_t off = 0; off < piece.size(); off += mux::kBodyChunk) {
      const bool last = off + mux::kBodyChunk >= piece.size();
      s.link->send_stream(FrameType::kRequestBody, end && last ? mux::kEndStream : 0, id,
                          piece.substr(off, mux::kBodyChunk));
    }
  }

  void write_on_thread(uint64_t id, std::string&& piece, bool end) {
    if (auto it = streams_.find(id); it != streams_.end()) {
      if (it->second.spec.body_stream) send_upload(id, it->second, std::move(piece), end);
      return;
    }
    for (const auto& p : pending_) {
      if (p.spec.id != id) continue;
      EarlyUpload& early = early_uploads_[id];
      if (early.ended) return;
      if (!piece.empty()) early.pieces.push_back(std::move(piece));
      early.ended = end;
      return;
    }
    if (engine_) engine_->write_body(id, std::move(piece), end);
  }

  void route(RequestSpec&& spec) {
    if (stopping_) {
      sink_.deliver(error_event(spec.id, ErrorCode::kClientClosed, Stage::kQueue, "the client was closed"));
      return;
    }
    if (role_ == Role::kHost) {
      const uint64_t id = spec.id;
      engine_->submit(std::move(spec));
      replay_early_upload(id, [&](std::string&& piece, bool end) { engine_->write_body(id, std::move(piece), end); });
      return;
    }
    if (client_phase_ == ClientPhase::kOpen && link_ && link_->open()) {
      send_request(std::move(spec));
      return;
    }
    pending_.push_back(Pending{std::move(spec), Clock::now() + ms(options_.handover_timeout_ms)});
    stat_pending_ = pending_.size();
    arm_pending_timer();
    elect();
  }

  void arm_pending_timer() {
    if (pending_.empty()) return;
    pending_timer_.expires_at(pending_.front().deadline);
    pending_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      const auto now = Clock::now();
      while (!pending_.empty() && pending_.front().deadline <= now) {
        ++stat_host_gone_;
        early_uploads_.erase(pending_.front().spec.id);
        sink_.deliver(error_event(pending_.front().spec.id, ErrorCode::kHostGone, Stage::kLink,
                                  "no engine host became available on port " + std::to_string(options_.port) +
                                      " within " + std::to_string(options_.handover_timeout_ms) + " ms"));
        pending_.pop_front();
      }
      stat_pending_ = pending_.size();
      arm_pending_timer();
    });
  }

  void fail_pending(ErrorCode code, const std::string& why) {
    for (auto& p : pending_) {
      early_uploads_.erase(p.spec.id);
      if (code == ErrorCode::kHostGone) ++stat_host_gone_;
      sink_.deliver(error_event(p.spec.id, code, Stage::kLink, why));
    }
    pending_.clear();
    stat_pending_ = 0;
  }

  void schedule_ping() {
    ping_timer_.expires_after(ms(options_.ping_interval_ms));
    ping_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || !link_ || client_phase_ != ClientPhase::kOpen) return;
      if (Clock::now() - last_heard_ > ms(options_.ping_timeout_ms)) {
        link_->close("the host stopped answering (nothing heard for " + std::to_string(options_.ping_timeout_ms) + " ms)");
        return;
      }
      link_->send_control(FrameType::kPing, 0, 0, mux::encode_u64(++ping_seq_));
      schedule_ping();
    });
  }

  void arm_idle() {
    if (!link_ || client_phase_ != ClientPhase::kOpen || streams_on(link_.get()) || !pending_.empty()) return;
    idle_timer_.expires_after(ms(options_.link_idle_timeout_ms));
    idle_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || !link_ || client_phase_ != ClientPhase::kOpen || streams_on(link_.get())) return;
      // Nothing in flight for a while: let the link go; the next request elects again (and may
      // find this process should host by then).
      link_->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("idle").take());
      auto link = std::move(link_);
      client_phase_ = ClientPhase::kNone;
      link_name_ = "idle";
      ping_timer_.cancel();
      idle_close_ = link.get();
      link->close_after_flush("");
    });
  }

  bool streams_on(const Link* link) const {
    for (const auto& [_, s] : streams_) {
      if (s.link == link) return true;
    }
    return false;
  }

  void close_drained() {
    // Closing may call back into client_link_closed, which edits draining_: pick first, then close.
    std::vector<std::shared_ptr<Link>> done;
    for (auto it = draining_.begin(); it != draining_.end();) {
      if (!streams_on(it->get())) {
        done.push_back(std::move(*it));
        it = draining_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& link : done) link->close_after_flush("");
  }

  void close_client_link(const std::string& reason) {
    if (!link_) {
      client_phase_ = ClientPhase::kNone;
      return;
    }
    auto link = std::move(link_);
    client_phase_ = ClientPhase::kNone;
    ping_timer_.cancel();
    idle_timer_.cancel();
    quiet_close_ = link.get();
    link->close(reason);
    quiet_close_ = nullptr;
  }

  void client_link_closed(Link& link, const std::string& reason) {
    const bool handshaking = &link == link_.get() && client_phase_ == ClientPhase::kHandshake;
    if (handshaking) {
      link_.reset();
      client_phase_ = ClientPhase::kNone;
      // A host on its way out may close before saying anything: try again (a few times).
      handshake_timer_.cancel();
      if (link.peer_silent() && ++silent_closes_ <= 3) {
        retry_election("the port's owner closed without a word");
      } else {
        foreign(reason.empty() ? "it closed the connection during the handshake" : reason);
      }
      return;
    }
    if (&link == quiet_close_ || &link == idle_close_) {
      if (&link == idle_close_) idle_close_ = nullptr;
      return;
    }
    const bool current = &link == link_.get();
    if (current) {
      link_.reset();
      client_phase_ = ClientPhase::kNone;
      link_name_ = "none";
      ping_timer_.cancel();
      idle_timer_.cancel();
    }
    draining_.erase(std::remove_if(draining_.begin(), draining_.end(),
                                   [&](const std::shared_ptr<Link>& l) { return l.get() == &link; }),
                    draining_.end());
    // Everything that was running there: run again where allowed and not yet answered, else settle.
    const std::string why = "the process hosting the engine on port " + std::to_string(options_.port) + " went away (" +
                            (reason.empty() ? std::string("link closed") : reason) + ")";
    std::vector<RequestSpec> rerun;
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second.link != &link) {
        ++it;
        continue;
      }
      if (it->second.retryable && !it->second.head_seen) {
        rerun.push_back(std::move(it->second.spec));
      } else {
        ++stat_host_gone_;
        sink_.deliver(error_event(it->first, ErrorCode::kHostGone, Stage::kLink, why));
      }
      it = streams_.erase(it);
    }
    stat_streams_ = streams_.size();
    stat_retried_ += rerun.size();
    for (auto& spec : rerun) route(std::move(spec));
    // The host is gone: one of the processes left takes the port now, whether or not it has work.
    if (current && !stopping_) elect();
  }

  // ---- cancel / pause ----

  void cancel_on_thread(uint64_t id) {
    auto it = streams_.find(id);
    if (it != streams_.end()) {
      if (it->second.link && it->second.link->open()) it->second.link->send_control(FrameType::kCancel, 0, id, {});
      sink_.deliver(error_event(id, ErrorCode::kAborted, Stage::kEngine, "the request was aborted"));
      settle(it);
      return;
    }
    for (auto p = pending_.begin(); p != pending_.end(); ++p) {
      if (p->spec.id == id) {
        early_uploads_.erase(id);
        sink_.deliver(error_event(id, ErrorCode::kAborted, Stage::kQueue, "the request was aborted"));
        pending_.erase(p);
        stat_pending_ = pending_.size();
        return;
      }
    }
    if (engine_) engine_->cancel(id);
  }

  void pause_on_thread(uint64_t id, bool paused) {
    auto it = streams_.find(id);
    if (it != streams_.end()) {
      it->second.paused = paused;
      if (!paused) {
        it->second.unacked = 0;
        grant(id, it->second);
      }
      return;
    }
    if (engine_) engine_->set_paused(id, paused);
  }

  // ---- link events ----

  void on_frame(Link& link, Frame&& frame) override {
    const int type = static_cast<int>(frame.type);
    const uint64_t stream = frame.stream;
    const bool host_side = peers_.count(&link) != 0;
    contained(
        [&] {
          if (options_.test.before_frame) options_.test.before_frame(host_side, type, stream);
          if (host_side) return host_frame(*peers_.at(&link), std::move(frame));
          client_frame(link, std::move(frame));
        },
        [&](const std::string& why) {
          if (host_side) return peer_failed(link, stream, why);
          client_link_failed(link, why);
        });
  }

  // ---- faults ----
  // A handler that throws (std::bad_alloc decoding a frame, anything from an engine call) may have
  // left its stream half-updated. Containment is by whole link: everything that link carried fails
  // with ERR_INTERNAL, its state is dropped as on any close, and the other links carry on.

  template <class Work, class OnFailure>
  static void contained(Work&& work, OnFailure&& on_failure) {
    try {
      work();
    } catch (const std::exception& e) {
      on_failure(std::string("internal error: ") + e.what());
    } catch (...) {
      on_failure("internal error: unknown exception");
    }
  }

  // Host side: the peer's requests fail with ERR_INTERNAL (the frames go out before the link
  // closes), its engine requests are cancelled, and its link closes.
  void peer_failed(Link& link, uint64_t stream, const std::string& why) {
    auto it = peers_.find(&link);
    if (it == peers_.end()) return;  // the handler closed it already
    Peer& peer = *it->second;
    std::set<uint64_t> failed;
    for (auto& [id, s] : peer.streams) {
      failed.insert(id);
      if (s.submitted && engine_) engine_->cancel(s.engine_id);
      remote_index_.erase(s.engine_id);
    }
    if (stream != 0 && (stream & kRemoteBit) == 0) failed.insert(stream);
    stat_streams_ -= std::min<uint64_t>(stat_streams_, peer.streams.size());
    peer.streams.clear();
    peer.buffered_body = 0;
    const std::string payload = mux::encode_error(Error{ErrorCode::kInternal, Stage::kLink, why});
    for (uint64_t id : failed) peer.link->send_control(FrameType::kError, 0, id, payload);
    if (peer.phase == Peer::Phase::kOpen) peer.phase = Peer::Phase::kDraining;
    warn("closed the link from process " + std::to_string(peer.pid) + ": " + why);
    peer.link->close_after_flush("");
  }

  // Client side: every request on the link fails with ERR_INTERNAL and the link closes; requests
  // still waiting for a host elect again.
  void client_link_failed(Link& link, const std::string& why) {
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second.link != &link) {
        ++it;
        continue;
      }
      if (link.open()) link.send_control(FrameType::kCancel, 0, it->first, {});
      sink_.deliver(error_event(it->first, ErrorCode::kInternal, Stage::kLink, why));
      it = streams_.erase(it);
    }
    stat_streams_ = streams_.size();
    if (&link == link_.get()) {
      close_client_link("");
      link_name_ = "none";
      if (electing_) retry_election(why);  // it failed during the handshake
    } else {
      auto held = std::find_if(draining_.begin(), draining_.end(),
                               [&](const std::shared_ptr<Link>& l) { return l.get() == &link; });
      if (held != draining_.end()) {
        auto doomed = std::move(*held);
        draining_.erase(held);
        quiet_close_ = doomed.get();
        doomed->close("");
        quiet_close_ = nullptr;
      }
    }
    if (!pending_.empty()) elect();
  }

  // One of this process's own requests hit a fault on its way (routing, writing its body).
  void fail_own_request(uint64_t id, const std::string& why) {
    early_uploads_.erase(id);
    if (auto it = streams_.find(id); it != streams_.end()) {
      if (it->second.link && it->second.link->open()) it->second.link->send_control(FrameType::kCancel, 0, id, {});
      streams_.erase(it);
      stat_streams_ = streams_.size();
    }
    for (auto p = pending_.begin(); p != pending_.end(); ++p) {
      if (p->spec.id == id) {
        pending_.erase(p);
        stat_pending_ = pending_.size();
        break;
      }
    }
    if (engine_) engine_->cancel(id);
    sink_.deliver(error_event(id, ErrorCode::kInternal, Stage::kEngine, why));
  }

  void on_link_closed(Link& link, const std::string& reason) override {
    if (peers_.count(&link)) return host_link_closed(link, reason);
    client_link_closed(link, reason);
  }

  void on_link_writable(Link& link) override {
    auto peer = peers_.find(&link);
    if (peer == peers_.end()) return;
    Peer& p = *peer->second;
    std::vector<uint64_t> ids;
    for (auto& [id, s] : p.streams) {
      if (!s.held.empty() || s.has_tail) ids.push_back(id);
    }
    for (uint64_t id : ids) {
      auto it = p.streams.find(id);
      if (it != p.streams.end() && p.link->writable()) pump(p, it);
    }
  }

  // ---- leaving ----

  void stop(bool graceful) {
    stopping_now_ = !graceful;
    election_timer_.cancel();
    handshake_timer_.cancel();
    pending_timer_.cancel();
    electing_ = false;
    fail_pending(ErrorCode::kClientClosed, "the client was closed");
    for (auto& [id, s] : streams_) {
      if (s.link && s.link->open()) s.link->send_control(FrameType::kCancel, 0, id, {});
      sink_.deliver(error_event(id, ErrorCode::kClientClosed, Stage::kEngine, "the client was closed"));
    }
    streams_.clear();
    stat_streams_ = 0;
    if (link_) {
      link_->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("the client is leaving").take());
      auto link = std::move(link_);
      quiet_close_ = link.get();
      if (graceful) link->close_after_flush(""); else link->close("");
    }
    close_all(std::move(draining_));
    ping_timer_.cancel();
    idle_timer_.cancel();
    if (acceptor_) {
      // Stop listening first: the port is free for the next host before anyone hears we leave.
      release_socket(*acceptor_, socket_path_, lock_path_, bound_inode_);
      acceptor_.reset();
    }
    sweep_timer_.cancel();
    std::vector<Link*> keys;
    for (auto& [key, _] : peers_) keys.push_back(key);
    for (Link* key : keys) {
      auto it = peers_.find(key);
      if (it == peers_.end()) continue;
      Peer& p = *it->second;
      if (graceful && (p.phase == Peer::Phase::kOpen || p.phase == Peer::Phase::kDraining)) {
        goaway_peer(p);
      } else {
        p.link->close("");
      }
    }
    if (graceful && !peers_.empty()) {
      drain_timer_.expires_after(ms(options_.drain_grace_ms));
      drain_timer_.async_wait([this](const asio::error_code& ec) {
        if (ec) return;
        std::vector<Link*> left;
        for (auto& [key, _] : peers_) left.push_back(key);
        for (Link* key : left) {
          auto it = peers_.find(key);
          if (it != peers_.end()) it->second->link->close("the drain grace period ended");
        }
      });
    }
    if (peers_.empty()) finish_stop();
  }

  void close_all(std::vector<std::shared_ptr<Link>> links) {
    draining_.clear();
    for (auto& l : links) l->close("");
  }

  void escalate() {
    stopping_now_ = true;
    std::vector<Link*> left;
    for (auto& [key, _] : peers_) left.push_back(key);
    for (Link* key : left) {
      auto it = peers_.find(key);
      if (it != peers_.end()) it->second->link->close("the host process is exiting");
    }
    close_all(std::move(draining_));
    if (peers_.empty()) finish_stop();
  }

  void finish_stop() {
    if (finished_) return;
    finished_ = true;
    drain_timer_.cancel();
    host_engine_.store(nullptr, std::memory_order_release);
    set_role(Role::kStopped);
    auto done = [this] {
      work_.reset();
      io_.stop();
    };
    if (engine_) {
      engine_->shutdown([this, done] { asio::post(io_, done); });
    } else {
      done();
    }
  }

  void warn(const std::string& message) {
    // Someone probing the port must not flood the user's stderr: one warning per interval.
    const auto now = Clock::now();
    if (now - last_warning_ < kWarningInterval) {
      ++suppressed_warnings_;
      return;
    }
    std::string text = message;
    if (suppressed_warnings_ > 0) {
      text += " (and " + std::to_string(suppressed_warnings_) + " similar since the last warning)";
    }
    suppressed_warnings_ = 0;
    last_warning_ = now;
    sink_.deliver(notice_event("warning", Error{ErrorCode::kProtocol, Stage::kLink, text}));
  }

  HubOptions options_;
  EventSink& sink_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::function<void()> on_stopped_;
  std::atomic<bool> stopping_{false};
  bool stopping_now_ = false;
  bool finished_ = false;

  std::string socket_dir_, socket_path_, lock_path_;
  Role role_ = Role::kElecting;
  bool electing_ = false;
  bool announced_ = false;
  int attempts_ = 0;
  int silent_closes_ = 0;
  Clock::time_point election_deadline_;
  asio::steady_timer election_timer_;

  // Host.
  std::optional<LocalAcceptor> acceptor_;
  ino_t bound_inode_ = 0;
  std::unique_ptr<Engine> engine_;
  std::atomic<Engine*> host_engine_{nullptr};
  std::unordered_map<Link*, std::shared_ptr<Peer>> peers_;
  std::unordered_map<uint64_t, std::pair<Link*, uint64_t>> remote_index_;  // engine id -> (link, stream)
  uint64_t next_remote_ = 0;
  ProfileResolver resolver_{check_tls_profile};
  std::mutex submit_mu_;               // this process's requests on their way to the hub's thread
  std::vector<RequestSpec> submit_queue_;
  bool submit_scheduled_ = false;
  std::mutex remote_mu_;               // the engine's events for other processes' requests
  std::vector<Event> remote_queue_;
  bool remote_scheduled_ = false;

  // Client.
  std::shared_ptr<Link> link_;
  std::vector<std::shared_ptr<Link>> draining_;  // hosts that said GOAWAY, finishing our requests
  ClientPhase client_phase_ = ClientPhase::kNone;
  uint64_t connect_attempt_ = 0;
  uint32_t stream_window_ = 1u << 20;
  uint64_t ping_seq_ = 0;
  Clock::time_point last_heard_;
  const Link* quiet_close_ = nullptr;  // closed by us on purpose: no failover
  const Link* idle_close_ = nullptr;
  std::unordered_map<uint64_t, ClientStream> streams_;
  std::deque<Pending> pending_;
  std::unordered_map<uint64_t, EarlyUpload> early_uploads_;
  std::map<uint64_t, ClientLimits> client_limits_;  // our clients' limits, for every new host
  asio::steady_timer handshake_timer_, ping_timer_, idle_timer_, pending_timer_, drain_timer_, sweep_timer_;

  Clock::time_point last_warning_{};
  uint64_t suppressed_warnings_ = 0;

  std::atomic<const char*> role_name_{"electing"};
  std::atomic<const char*> link_name_{"none"};
  std::atomic<uint64_t> stat_streams_{0}, stat_pending_{0}, stat_elections_{0}, stat_links_{0},
      stat_retried_{0}, stat_host_gone_{0}, stat_peers_open_{0}, stat_peers_accepted_{0},
      stat_peers_refused_{0}, stat_host_pid_{0};
};

Hub::Hub(HubOptions options, EventSink& sink) : impl_(std::make_unique<Impl>(std::move(options), sink)) {}
Hub::~Hub() = default;
void Hub::start() { impl_->start(); }
void Hub::submit(RequestSpec&& spec) { impl_->submit(std::move(spec)); }
void Hub::cancel(uint64_t id) { impl_->cancel(id); }
void Hub::set_paused(uint64_t id, bool paused) { impl_->set_paused(id, paused); }
void Hub::write_body(uint64_t id, std::string chunk, bool end) { impl_->write_body(id, std::move(chunk), end); }
void Hub::shutdown(bool graceful, std::function<void()> on_stopped) {
  impl_->shutdown(graceful, std::move(on_stopped));
}
void Hub::set_client_limits(uint64_t client_id, ClientLimits limits) { impl_->set_client_limits(client_id, limits); }
void Hub::cancel_client(uint64_t client_id) { impl_->cancel_client(client_id); }
std::vector<OriginStats> Hub::origin_stats() const { return impl_->origin_stats(); }
void Hub::join() { impl_->join(); }
HubStats Hub::stats() const { return impl_->stats(); }

}  // namespace ctn::share
