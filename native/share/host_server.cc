#include "share/host_server.h"

#include <unistd.h>

#include <algorithm>

#include "share/messages.h"

namespace ctn::share {

namespace {

using mux::Frame;
using mux::FrameType;
using mux::Link;

constexpr size_t kPreHelloMaxPayload = 1024;  // HELLO is tiny
constexpr size_t kHoldHigh = 1u << 20;        // body bytes held for a stream before pausing it
constexpr size_t kHoldLow = 256u << 10;

}  // namespace

HostServer::HostServer(HubContext& hub, std::function<void()> on_drained)
    : hub_(hub), on_drained_(std::move(on_drained)) {}

void HostServer::start(LocalAcceptor acceptor, ino_t inode, Engine& engine, const std::string& socket_path,
                       const std::string& lock_path) {
  bound_inode_ = inode;
  engine_ = &engine;
  io_ = &engine.io_context();
  socket_path_ = socket_path;
  lock_path_ = lock_path;
  // The election bound the socket on the hub's io_context: the same listening socket moves to the
  // engine's, so accepted links live beside the connections serving them.
  asio::error_code ec;
  const LocalAcceptor::native_handle_type fd = acceptor.release(ec);
  // Everything from here on happens on the engine's io thread; what the hub's thread posts later
  // (stop, close_all, finish) runs after this.
  asio::post(*io_, [this, fd, ec] { serve(fd, ec); });
}

void HostServer::serve(LocalAcceptor::native_handle_type fd, const asio::error_code& released) {
  serving_ = true;
  sweep_timer_.emplace(*io_);
  drain_timer_.emplace(*io_);
  if (released) {
    // Not listening: peers find no host here and elect again (this process still serves itself).
    hub_.warn("could not serve other processes on " + socket_path_ + ": " + released.message());
    return;
  }
  acceptor_.emplace(*io_, asio::local::stream_protocol(), fd);
  accept();
  schedule_sweep();
}

void HostServer::release() {
  peers_.clear();
  remote_index_.clear();
  acceptor_.reset();
  sweep_timer_.reset();
  drain_timer_.reset();
}

// ---- accepting peers ----

void HostServer::accept() {
  if (!acceptor_) return;
  acceptor_->async_accept([this](const asio::error_code& ec, LocalSocket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_) return;
    if (!ec) on_accepted(std::move(socket));
    accept();
  });
}

void HostServer::on_accepted(LocalSocket socket) {
  auto peer = std::make_unique<Peer>(*io_);
  peer->link = std::make_shared<Link>(std::move(socket), *this, kPreHelloMaxPayload);
  peer->link->set_max_control_bytes(hub_.options.peer_limits.max_control_bytes);
  Link* key = peer->link.get();
  // The kernel says who connected: another user's process is dropped before it can say a word.
  const uid_t expected = hub_.options.test.expected_peer_uid.value_or(geteuid());
  if (std::string why = foreign_uid(peer->link->native_handle(), expected); !why.empty()) {
    ++hub_.counters.peers_refused;
    hub_.warn("refused a connection on " + socket_path_ + ": " + why);
    peer->link->close("");
    return;
  }
  // Connections are this user's, so none is hostile by design, but one buggy process must not
  // keep the others out: at the cap, the oldest connection that has not said HELLO makes room.
  if (peers_.size() >= hub_.options.peer_limits.max_peers && !evict_silent_peer()) {
    ++hub_.counters.peers_refused;
    hub_.warn("refused a connection on " + socket_path_ + ": " + std::to_string(peers_.size()) +
              " processes are connected already");
    peer->link->close("");
    return;
  }
  peer->deadline.expires_after(ms(std::max<uint64_t>(2000, hub_.options.handshake_timeout_ms * 4)));
  peer->deadline.async_wait([this, key](const asio::error_code& ec) {
    if (ec) return;
    auto it = peers_.find(key);
    if (it != peers_.end() && it->second->phase == Peer::Phase::kHello) {
      refuse(*it->second, "no link handshake within the deadline (half-open or silent connection)");
    }
  });
  Peer& p = *peer;
  p.accepted = Clock::now();
  peers_.emplace(key, std::move(peer));
  p.link->start();
}

bool HostServer::evict_silent_peer() {
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

void HostServer::schedule_sweep() {
  sweep_timer_->expires_after(ms(hub_.options.ping_interval_ms));
  sweep_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec || !serving_) return;
    // A client that stopped pinging (stopped, or its machine froze) is gone: free its streams.
    const auto limit =
        ms(std::max<uint64_t>(hub_.options.ping_timeout_ms * 3, hub_.options.ping_interval_ms * 5));
    std::vector<Link*> dead;
    for (auto& [key, p] : peers_) {
      if (p->phase == Peer::Phase::kOpen && Clock::now() - p->last_frame > limit) dead.push_back(key);
    }
    for (Link* key : dead) {
      auto it = peers_.find(key);
      if (it != peers_.end()) refuse(*it->second, "the client stopped pinging");
    }
    schedule_sweep();
  });
}

// ---- frames from peers ----

void HostServer::on_frame(Link& link, Frame&& frame) {
  const uint64_t stream = frame.stream;
  auto peer = peers_.find(&link);
  if (peer == peers_.end()) return;
  contained(
      [&] {
        if (hub_.options.test.before_frame)
          hub_.options.test.before_frame(true, static_cast<int>(frame.type), stream);
        on_peer_frame(*peer->second, std::move(frame));
      },
      [&](const std::string& why) { on_peer_failed(link, stream, why); });
}

void HostServer::on_peer_frame(Peer& peer, Frame&& f) {
  peer.last_frame = Clock::now();
  if (peer.phase == Peer::Phase::kHello) return on_hello(peer, std::move(f));
  switch (f.type) {
    case FrameType::kRequest:
      return on_request(peer, std::move(f));
    case FrameType::kRequestBody:
      return on_request_body(peer, std::move(f));
    case FrameType::kCancel: {
      auto it = peer.streams.find(f.stream);
      if (it == peer.streams.end()) return;  // settled meanwhile
      if (it->second.submitted) engine_->cancel(it->second.engine_id);
      drop(peer, it);
      return;
    }
    case FrameType::kWindow: {
      uint32_t n = 0;
      if (!mux::decode_u32(f.payload, &n)) return refuse(peer, "malformed WINDOW");
      auto it = peer.streams.find(f.stream);
      if (it == peer.streams.end()) return;
      it->second.credit += n;
      pump(peer, it);
      return;
    }
    case FrameType::kPing: {
      const size_t max_ping = hub_.options.peer_limits.max_ping_payload;
      if (f.payload.size() > max_ping) {
        return refuse(peer, "PING of " + std::to_string(f.payload.size()) + " bytes (at most " +
                                std::to_string(max_ping) + ")");
      }
      peer.link->send_control(FrameType::kPong, 0, 0, f.payload);
      return;
    }
    case FrameType::kClientLimits: {
      mux::ClientLimitsMessage m;
      if (!mux::decode_client_limits(f.payload, &m)) return refuse(peer, "malformed CLIENT_LIMITS");
      const uint64_t id = remote_client_id(peer, f.stream);
      peer.clients.insert(id);
      engine_->set_client_limits(id, ClientLimits{m.max_in_flight, m.max_queued});
      return;
    }
    case FrameType::kGoaway:
      return on_peer_goaway(peer);
    default:
      return refuse(peer, "unexpected " + std::string(mux::frame_type_name(f.type)) + " from a client");
  }
}

void HostServer::on_hello(Peer& peer, Frame&& f) {
  mux::Hello hello;
  if (f.type != FrameType::kHello || f.stream != 0 || !mux::decode_hello(f.payload, &hello)) {
    return refuse(peer, "not a cycletls-native link client (expected HELLO, got " +
                            std::string(mux::frame_type_name(f.type)) + ")");
  }
  if (hello.version != mux::kProtocolVersion) {
    const std::string required = "protocol version " + std::to_string(mux::kProtocolVersion) + " required";
    peer.link->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str(required).take());
    peer.link->close_after_flush("protocol version mismatch");
    return;
  }
  // The kernel vouched for the peer's user at accept; the HELLO only names the protocol.
  peer.pid = hello.pid;
  peer.phase = hub_.stopping ? Peer::Phase::kDraining : Peer::Phase::kOpen;
  peer.deadline.cancel();
  peer.link->set_max_payload(mux::kMaxFramePayload);
  ++hub_.counters.peers_accepted;
  ++hub_.counters.peers_open;
  mux::Ready ready{hub_.options.stream_window, static_cast<uint32_t>(getpid())};
  peer.link->send_control(FrameType::kReady, 0, 0, mux::encode_ready(ready));
  if (hub_.stopping) goaway(peer);
}

void HostServer::on_request(Peer& peer, Frame&& f) {
  if (peer.phase == Peer::Phase::kDraining) {
    // Sent before it saw our GOAWAY: refuse it in a way the client re-runs elsewhere.
    peer.link->send_stream(
        FrameType::kError, 0, f.stream,
        mux::encode_error(Error{ErrorCode::kHostGone, Stage::kLink, "the host is handing over"}));
    return;
  }
  if (f.stream == 0 || (f.stream & kRemoteBit) != 0 || peer.streams.count(f.stream)) {
    return refuse(peer, "REQUEST on stream " + std::to_string(f.stream) + " (zero, out of range or in use)");
  }
  const PeerLimits& limits = hub_.options.peer_limits;
  if (peer.streams.size() >= limits.max_streams) {
    return refuse(peer, "more than " + std::to_string(limits.max_streams) + " requests in flight");
  }
  RemoteStream s;
  std::string why;
  if (!mux::decode_request(f.payload, &s.spec, &s.body_expected, &why)) return refuse(peer, why);
  if ((f.flags & mux::kEndStream) && s.body_expected != 0) {
    return refuse(peer, "REQUEST announces a body but ends the stream");
  }
  // The body is gathered here before the request is submitted: what a peer may announce is bounded.
  if (s.body_expected > limits.max_request_body) {
    return refuse(peer, "REQUEST announces a body of " + std::to_string(s.body_expected) +
                            " bytes (at most " + std::to_string(limits.max_request_body) + ")");
  }
  if (peer.buffered_body + s.body_expected > limits.max_buffered_body) {
    return refuse(peer, "REQUEST bodies being gathered would exceed " +
                            std::to_string(limits.max_buffered_body) + " bytes");
  }
  s.engine_id = kRemoteBit | ++next_remote_;
  s.spec.id = s.engine_id;
  s.spec.client_id = remote_client_id(peer, s.spec.client_id);
  peer.clients.insert(s.spec.client_id);
  s.credit = hub_.options.stream_window;
  // The client gathers a whole body itself; streaming it here keeps the host's memory flat.
  s.spec.whole_body = false;
  if (!resolver_.resolve(s.spec.profile, s.spec.fingerprint, &s.spec.custom_profile, &why)) {
    peer.link->send_stream(FrameType::kError, 0, f.stream,
                           mux::encode_error(Error{ErrorCode::kUnsupportedFingerprint, Stage::kQueue, why}));
    return;
  }
  auto [it, _] = peer.streams.emplace(f.stream, std::move(s));
  remote_index_[it->second.engine_id] = {peer.link.get(), f.stream};
  ++hub_.counters.streams;
  it->second.streamed = it->second.spec.body_stream;
  if ((f.flags & mux::kEndStream) || it->second.streamed) {
    submit(it->second);
  } else {
    peer.buffered_body += it->second.body_expected;
  }
}

void HostServer::on_request_body(Peer& peer, Frame&& f) {
  auto it = peer.streams.find(f.stream);
  if (it == peer.streams.end()) return;  // cancelled meanwhile
  RemoteStream& s = it->second;
  if (s.streamed) {
    if (s.upload_ended) return refuse(peer, "REQUEST_BODY after the body ended");
    s.upload_ended = (f.flags & mux::kEndStream) != 0;
    engine_->write_body(s.engine_id, std::move(f.payload), s.upload_ended);
    return;
  }
  if (s.submitted) return refuse(peer, "REQUEST_BODY after the body ended");
  if (s.spec.body.size() + f.payload.size() > s.body_expected) {
    return refuse(peer, "REQUEST_BODY beyond the announced body size");
  }
  s.spec.body.append(f.payload);
  if (f.flags & mux::kEndStream) {
    if (s.spec.body.size() != s.body_expected) return refuse(peer, "request body shorter than announced");
    peer.buffered_body -= s.body_expected;
    submit(s);
  }
}

void HostServer::on_peer_goaway(Peer& peer) {
  // The client process is leaving: whatever it still had running is of no use to anyone.
  forget_streams(peer);
  peer.link->close("");
}

// The last thing its caller does with `s`: an engine that is shutting down answers at once, on
// this thread, and that answer settles and drops the stream.
void HostServer::submit(RemoteStream& s) {
  s.submitted = true;
  RequestSpec spec = std::move(s.spec);
  s.spec = RequestSpec{};
  engine_->submit(std::move(spec));
}

// Clients of different processes must never share a queue or a limit: their ids only mean
// something within their own process, so the host prefixes them with the link's id.
uint64_t HostServer::remote_client_id(const Peer& peer, uint64_t client_id) const {
  return kRemoteBit | (uint64_t{peer.link->id()} << 32) | (client_id & 0xffffffffu);
}

// ---- answers going back ----

void HostServer::engine_event(Event&& event) {
  // The engine emits on its io thread, where this server runs: handled now, and whatever it queues
  // on the link leaves in the write gathered at the end of this turn of the loop. Only an engine
  // that refuses a submit after it stopped answers on another thread.
  if (io_->get_executor().running_in_this_thread()) return on_engine_event_contained(std::move(event));
  asio::post(*io_, [this, e = std::move(event)]() mutable { on_engine_event_contained(std::move(e)); });
}

void HostServer::on_engine_event_contained(Event&& e) {
  const uint64_t id = e.id;
  contained([&] { on_engine_event(std::move(e)); },
            [&](const std::string& why) {
              auto where = remote_index_.find(id);
              if (where != remote_index_.end())
                on_peer_failed(*where->second.first, where->second.second, why);
            });
}

void HostServer::on_engine_event(Event&& e) {
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
      peer.link->send_stream(FrameType::kHead, 0, it->first,
                             mux::encode_head(e.head, e.connection, &peer.fingerprint_sent));
      return;
    case Event::Kind::kBody: {
      if (e.body.empty()) return;
      s.held_bytes += e.body.size();
      s.held.push_back({std::make_shared<const std::string>(std::move(e.body))});  // never copied here
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
void HostServer::pump(Peer& peer, StreamMap::iterator it) {
  RemoteStream& s = it->second;
  while (!s.held.empty() && peer.link->writable() &&
         s.credit >= static_cast<int64_t>(s.held.front().next_frame())) {
    RemoteStream::Held& front = s.held.front();
    const size_t n = front.next_frame();
    s.credit -= static_cast<int64_t>(n);
    s.held_bytes -= n;
    peer.link->send_stream_slice(FrameType::kBody, 0, it->first, front.body, front.sent, n);
    front.sent += n;
    if (front.sent == front.body->size()) s.held.pop_front();
  }
  if (s.engine_paused && s.held_bytes < kHoldLow) {
    s.engine_paused = false;
    engine_->set_paused(s.engine_id, false);
  }
  if (s.held.empty() && s.has_tail) {
    peer.link->send_stream(s.tail_type, 0, it->first, std::move(s.tail_payload));
    drop(peer, it);
  }
}

void HostServer::on_link_writable(Link& link) {
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

void HostServer::drop(Peer& peer, StreamMap::iterator it) {
  if (!it->second.submitted && !it->second.streamed) peer.buffered_body -= it->second.body_expected;
  remote_index_.erase(it->second.engine_id);
  peer.streams.erase(it);
  if (hub_.counters.streams > 0) --hub_.counters.streams;
  if (peer.phase == Peer::Phase::kDraining && peer.streams.empty()) peer.link->close_after_flush("");
}

// Cancels the peer's requests on the engine and forgets them.
void HostServer::forget_streams(Peer& peer) {
  for (auto& [_, s] : peer.streams) {
    if (s.submitted && engine_) engine_->cancel(s.engine_id);
    remote_index_.erase(s.engine_id);
  }
  hub_.counters.streams -= std::min<uint64_t>(hub_.counters.streams, peer.streams.size());
  peer.streams.clear();
}

// ---- peers leaving ----

void HostServer::goaway(Peer& peer) {
  peer.phase = Peer::Phase::kDraining;
  peer.link->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("the host is leaving").take());
  if (peer.streams.empty()) peer.link->close_after_flush("");
}

void HostServer::on_link_closed(Link& link, const std::string& reason) {
  auto it = peers_.find(&link);
  if (it == peers_.end()) return;
  Peer& peer = *it->second;
  if (peer.phase == Peer::Phase::kOpen || peer.phase == Peer::Phase::kDraining) {
    if (hub_.counters.peers_open > 0) --hub_.counters.peers_open;
    // A client that breaks the protocol loses its link, and only its link; say why.
    if (!reason.empty() && reason != "the peer closed the link" && !hub_.stopping) {
      hub_.warn("closed the link from process " + std::to_string(peer.pid) + ": " + reason);
    }
  } else if (!hub_.stopping_now) {
    // Never said HELLO: whatever it was, it got nothing. One that connected and left without a
    // byte is most likely an election probing whether this host is alive: not worth a warning.
    ++hub_.counters.peers_refused;
    if (!(link.peer_silent() && reason == "the peer closed the link")) {
      hub_.warn("refused a connection on " + socket_path_ + ": " +
                (reason.empty() ? std::string("closed before saying HELLO") : reason));
    }
  }
  forget_streams(peer);
  if (engine_) {
    for (uint64_t client : peer.clients) engine_->cancel_client(client);
  }
  peer.deadline.cancel();
  // The peer may be referenced by the caller's stack (a frame handler): free it afterwards.
  std::shared_ptr<Peer> doomed(std::move(it->second));
  peers_.erase(it);
  asio::post(*io_, [doomed] {});
  drained_if_idle();
}

void HostServer::drained_if_idle() {
  if (!hub_.stopping || !peers_.empty() || drained_told_) return;
  drained_told_ = true;
  asio::post(hub_.io, on_drained_);
}

// A handler threw: the peer's requests fail with ERR_INTERNAL (the frames go out before the link
// closes), its engine requests are cancelled, and its link closes.
void HostServer::on_peer_failed(Link& link, uint64_t stream, const std::string& why) {
  auto it = peers_.find(&link);
  if (it == peers_.end()) return;  // the handler closed it already
  Peer& peer = *it->second;
  std::set<uint64_t> failed;
  for (auto& [id, _] : peer.streams) failed.insert(id);
  if (stream != 0 && (stream & kRemoteBit) == 0) failed.insert(stream);
  forget_streams(peer);
  peer.buffered_body = 0;
  const std::string payload = mux::encode_error(Error{ErrorCode::kInternal, Stage::kLink, why});
  for (uint64_t id : failed) peer.link->send_control(FrameType::kError, 0, id, payload);
  if (peer.phase == Peer::Phase::kOpen) peer.phase = Peer::Phase::kDraining;
  hub_.warn("closed the link from process " + std::to_string(peer.pid) + ": " + why);
  peer.link->close_after_flush("");
}

void HostServer::stop(bool graceful) {
  asio::post(*io_, [this, graceful] { stop_serving(graceful); });
}

void HostServer::close_all(const std::string& reason) {
  asio::post(*io_, [this, reason] { close_links(reason); });
}

void HostServer::finish() {
  asio::post(*io_, [this] {
    if (drain_timer_) drain_timer_->cancel();
  });
}

void HostServer::stop_serving(bool graceful) {
  serving_ = false;
  if (acceptor_) {
    // Stop listening first: the port is free for the next host before anyone hears we leave.
    release_socket(*acceptor_, socket_path_, lock_path_, bound_inode_);
    acceptor_.reset();
  }
  if (sweep_timer_) sweep_timer_->cancel();
  std::vector<Link*> keys;
  for (auto& [key, _] : peers_) keys.push_back(key);
  for (Link* key : keys) {
    auto it = peers_.find(key);
    if (it == peers_.end()) continue;
    Peer& p = *it->second;
    if (graceful && p.phase != Peer::Phase::kHello) {
      goaway(p);
    } else {
      p.link->close("");
    }
  }
  if (graceful && !peers_.empty() && drain_timer_) {
    drain_timer_->expires_after(ms(hub_.options.drain_grace_ms));
    drain_timer_->async_wait([this](const asio::error_code& ec) {
      if (!ec) close_links("the drain grace period ended");
    });
  }
  drained_if_idle();
}

void HostServer::close_links(const std::string& reason) {
  std::vector<Link*> left;
  for (auto& [key, _] : peers_) left.push_back(key);
  for (Link* key : left) {
    auto it = peers_.find(key);
    if (it != peers_.end()) it->second->link->close(reason);
  }
  drained_if_idle();
}

}  // namespace ctn::share
