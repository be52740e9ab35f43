#include "share/client_link.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "share/endpoint.h"
#include "share/failover.h"
#include "share/messages.h"

namespace ctn::share {

namespace {

using mux::Frame;
using mux::FrameType;
using mux::Link;

}  // namespace

ClientLink::ClientLink(HubContext& hub, Owner& owner)
    : hub_(hub), owner_(owner), handshake_timer_(hub.io), ping_timer_(hub.io), idle_timer_(hub.io) {}

// ---- connecting and the handshake ----

void ClientLink::connect(const std::string& socket_path) {
  socket_path_ = socket_path;
  phase_ = Phase::kConnecting;
  hub_.counters.link = "connecting";
  auto socket = std::make_shared<LocalSocket>(hub_.io);
  const asio::local::stream_protocol::endpoint endpoint(socket_path_);
  const uint64_t attempt = ++connect_attempt_;
  const uint64_t timeout = hub_.options.handshake_timeout_ms;
  handshake_timer_.expires_after(ms(timeout));
  handshake_timer_.async_wait([this, attempt, socket, timeout](const asio::error_code& ec) {
    if (ec || attempt != connect_attempt_) return;
    if (phase_ == Phase::kConnecting) {
      asio::error_code ignored;
      socket->close(ignored);
      return;  // the connect handler reports it
    }
    if (phase_ == Phase::kHandshake) {
      owner_.host_not_ours("it did not answer the link handshake within " + std::to_string(timeout) + " ms");
    }
  });
  socket->async_connect(endpoint, [this, attempt, socket](const asio::error_code& ec) {
    if (attempt != connect_attempt_ || !owner_.electing()) return;
    on_connected(ec, socket);
  });
}

void ClientLink::on_connected(const asio::error_code& ec, const std::shared_ptr<Link::Socket>& socket) {
  if (ec == asio::error::operation_aborted) {
    owner_.host_not_ours("connecting to it took longer than " +
                         std::to_string(hub_.options.handshake_timeout_ms) + " ms");
    return;
  }
  if (ec) {
    // Refused: the host left between our bind and connect. Try to become the host.
    phase_ = Phase::kNone;
    owner_.host_unavailable("connect: " + ec.message());
    return;
  }
  link_ = std::make_shared<Link>(std::move(*socket), *this, mux::kMaxFramePayload);
  phase_ = Phase::kHandshake;
  // The host must be this user's too, or our requests (cookies, credentials) would go to
  // whoever put a socket there: checked before a single byte is sent.
  const uid_t expected = hub_.options.test.expected_peer_uid.value_or(geteuid());
  if (std::string why = foreign_uid(link_->native_handle(), expected); !why.empty()) {
    abandon();
    return owner_.host_refused("refusing the engine host on " + socket_path_ + ": " + why);
  }
  link_->start();
  mux::Hello hello;
  hello.version = mux::kProtocolVersion;
  hello.pid = static_cast<uint32_t>(getpid());
  link_->send_control(FrameType::kHello, 0, 0, mux::encode_hello(hello));
}

void ClientLink::abandon() {
  handshake_timer_.cancel();
  ++connect_attempt_;
  close();
}

void ClientLink::close() {
  if (!link_) {
    phase_ = Phase::kNone;
    return;
  }
  auto link = std::move(link_);
  phase_ = Phase::kNone;
  ping_timer_.cancel();
  idle_timer_.cancel();
  quiet_close_ = link.get();
  link->close("");
  quiet_close_ = nullptr;
}

void ClientLink::on_handshake_frame(Frame&& f) {
  if (f.type == FrameType::kReady) {
    mux::Ready ready;
    if (!mux::decode_ready(f.payload, &ready)) return owner_.host_not_ours("malformed READY");
    stream_window_ = ready.stream_window;
    hub_.counters.host_pid = ready.host_pid;
    handshake_timer_.cancel();
    phase_ = Phase::kOpen;
    hub_.counters.link = "open";
    ++hub_.counters.links;
    last_heard_ = Clock::now();
    schedule_ping();
    owner_.link_ready();
    return;
  }
  if (f.type == FrameType::kGoaway) {
    // A host that is leaving, or refuses our protocol version.
    mux::PayloadReader r(f.payload);
    std::string reason;
    r.str(&reason);
    if (reason.rfind("protocol version", 0) == 0) return owner_.host_not_ours("it requires " + reason);
    close();
    owner_.host_unavailable("the host is leaving");
    return;
  }
  owner_.host_not_ours("it sent " + std::string(mux::frame_type_name(f.type)) + " during the handshake");
}

// ---- requests going out ----

void ClientLink::send_request(RequestSpec&& spec) {
  const uint64_t id = spec.id;
  if (spec.upgrade) spec.body_stream = true;  // as the engine will take it
  const bool has_body = !spec.body.empty() || spec.body_stream || spec.upgrade;
  link_->send_stream(FrameType::kRequest, has_body ? 0 : mux::kEndStream, id, mux::encode_request(spec));
  for (size_t off = 0; off < spec.body.size(); off += mux::kBodyChunk) {
    const bool last = off + mux::kBodyChunk >= spec.body.size();
    link_->send_stream(FrameType::kRequestBody, last ? mux::kEndStream : 0, id,
                       spec.body.substr(off, mux::kBodyChunk));
  }
  Stream s;
  s.retryable = may_run_again(spec);
  // A request that will never run again does not need its body kept.
  if (!s.retryable) {
    spec.body.clear();
    spec.body.shrink_to_fit();
  }
  s.spec = std::move(spec);
  s.link = link_.get();
  streams_[id] = std::move(s);
  hub_.counters.streams = streams_.size();
  idle_timer_.cancel();
}

void ClientLink::send_client_limits(uint64_t client_id, const ClientLimits& limits) {
  mux::ClientLimitsMessage m;
  m.max_in_flight = static_cast<uint32_t>(std::min<size_t>(limits.max_in_flight, UINT32_MAX));
  m.max_queued = static_cast<uint32_t>(std::min<size_t>(limits.max_queued, UINT32_MAX));
  link_->send_control(FrameType::kClientLimits, 0, client_id, mux::encode_client_limits(m));
}

bool ClientLink::write_body(uint64_t id, std::string&& piece, bool end) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  if (it->second.spec.body_stream) send_upload(id, it->second, std::move(piece), end);
  return true;
}

void ClientLink::send_early_upload(uint64_t id, std::string&& piece, bool end) {
  if (auto it = streams_.find(id); it != streams_.end()) send_upload(id, it->second, std::move(piece), end);
}

void ClientLink::send_upload(uint64_t id, Stream& s, std::string&& piece, bool end) {
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

bool ClientLink::cancel(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  if (it->second.link && it->second.link->open())
    it->second.link->send_control(FrameType::kCancel, 0, id, {});
  hub_.sink.deliver(error_event(id, ErrorCode::kAborted, Stage::kEngine, "the request was aborted"));
  settle(it);
  return true;
}

bool ClientLink::set_paused(uint64_t id, bool paused) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  it->second.paused = paused;
  if (!paused) {
    it->second.unacked = 0;
    grant(id, it->second);
  }
  return true;
}

void ClientLink::forget(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second.link && it->second.link->open())
    it->second.link->send_control(FrameType::kCancel, 0, id, {});
  streams_.erase(it);
  hub_.counters.streams = streams_.size();
}

// ---- frames from the host ----

void ClientLink::on_frame(Link& link, Frame&& frame) {
  const uint64_t stream = frame.stream;
  contained(
      [&] {
        if (hub_.options.test.before_frame)
          hub_.options.test.before_frame(false, static_cast<int>(frame.type), stream);
        if (&link == link_.get()) last_heard_ = Clock::now();
        if (&link == link_.get() && phase_ == Phase::kHandshake) return on_handshake_frame(std::move(frame));
        on_stream_frame(link, std::move(frame));
      },
      [&](const std::string& why) { on_link_failed(link, why); });
}

void ClientLink::on_stream_frame(Link& link, Frame&& f) {
  switch (f.type) {
    case FrameType::kHead:
      return on_head(link, std::move(f));
    case FrameType::kBody:
      return on_body(std::move(f));
    case FrameType::kEnd:
      return on_end(std::move(f));
    case FrameType::kError:
      return on_error(link, std::move(f));
    case FrameType::kSent: {
      auto it = streams_.find(f.stream);
      uint64_t n = 0;
      if (!mux::decode_u64(f.payload, &n)) return host_broke(link, "malformed SENT");
      if (it == streams_.end()) return;
      Event e;
      e.kind = Event::Kind::kSent;
      e.id = f.stream;
      e.sent = n;
      hub_.sink.deliver(std::move(e));
      return;
    }
    case FrameType::kPong:
      return;
    case FrameType::kGoaway:
      return on_goaway(link);
    default:
      return host_broke(link, "unexpected " + std::string(mux::frame_type_name(f.type)) + " from the host");
  }
}

void ClientLink::on_head(Link& link, Frame&& f) {
  auto it = streams_.find(f.stream);
  if (it == streams_.end() || it->second.head_seen) return;
  Event e;
  e.kind = Event::Kind::kHead;
  e.id = f.stream;
  if (!mux::decode_head(f.payload, &e.head, &e.connection, &fingerprints_received_[&link])) {
    return host_broke(link, "malformed HEAD");
  }
  it->second.head_seen = true;
  const RequestSpec& spec = it->second.spec;
  // A body the host decodes may grow past its content-length; one it passes on as it came may not.
  const bool decoded = spec.decompress && find_header(e.head.headers, "content-encoding");
  if (spec.whole_body && !decoded) {
    // Gathering a whole body: one allocation of the announced size instead of doubling.
    if (const Header* cl = find_header(e.head.headers, "content-length")) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(cl->value.c_str(), &end, 10);
      const uint64_t limit = spec.max_response_bytes;
      if (end && *end == '\0' && n > 0 && n <= (uint64_t{1} << 30) && (limit == 0 || n <= limit)) {
        it->second.whole.reserve(n);
      }
    }
  }
  hub_.sink.deliver(std::move(e));
}

std::string ClientLink::claim_payload(FrameType type, uint64_t stream, size_t payload_size) {
  if (type != FrameType::kBody) return {};
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.spec.whole_body) return {};
  Stream& s = it->second;
  // Over the limit: left to on_body, which refuses it before a byte is stored.
  const uint64_t limit = s.spec.max_response_bytes;
  if (limit != 0 && s.whole.size() + payload_size > limit) return {};
  // The first frame lands in the buffer on_head sized from content-length (payload_start 0: on_body
  // takes it as the body); later ones after what came before (payload_start > 0).
  return std::move(s.whole);
}

void ClientLink::on_body(Frame&& f) {
  auto it = streams_.find(f.stream);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  s.owed += f.payload_size();
  if (f.payload_start > 0) {
    // The frame was read onto the body gathered so far (claim_payload): it comes back whole.
    s.whole = std::move(f.payload);
  } else if (s.spec.whole_body) {
    // The engine's maxResponseBytes check, for a body the host streamed to us.
    if (s.spec.max_response_bytes != 0 && s.whole.size() + f.payload.size() > s.spec.max_response_bytes) {
      if (s.link && s.link->open()) s.link->send_control(FrameType::kCancel, 0, f.stream, {});
      hub_.sink.deliver(error_event(f.stream, ErrorCode::kBodyTooLarge, Stage::kBody,
                                    body_too_large_message(s.spec.max_response_bytes)));
      settle(it);
      return;
    }
    // The first piece: in the buffer on_head sized, lent to the decoder and back (claim_payload).
    if (s.whole.empty())
      s.whole = std::move(f.payload);
    else
      s.whole.append(f.payload);
  } else {
    Event e;
    e.kind = Event::Kind::kBody;
    e.id = f.stream;
    e.body = std::move(f.payload);
    hub_.sink.deliver(std::move(e));
  }
  if (s.spec.consumer_credit && !s.spec.whole_body) s.unacked += f.payload_size();
  // A consumer that has not asked for more gets no more window: the host stops after it.
  const bool starved = s.spec.consumer_credit && !s.spec.whole_body && s.unacked >= kConsumerCreditBytes;
  if (!s.paused && !starved && s.owed >= stream_window_ / 2) grant(it->first, s);
}

void ClientLink::on_end(Frame&& f) {
  auto it = streams_.find(f.stream);
  if (it == streams_.end()) return;
  if (it->second.spec.whole_body && !it->second.whole.empty()) {
    Event body;
    body.kind = Event::Kind::kBody;
    body.id = f.stream;
    body.body = std::move(it->second.whole);
    hub_.sink.deliver(std::move(body));
  }
  Event e;
  e.kind = Event::Kind::kEnd;
  e.id = f.stream;
  hub_.sink.deliver(std::move(e));
  settle(it);
}

void ClientLink::on_error(Link& link, Frame&& f) {
  auto it = streams_.find(f.stream);
  if (it == streams_.end()) return;
  Error error;
  if (!mux::decode_error(f.payload, &error)) return host_broke(link, "malformed ERROR");
  // Refused by a host that is handing over: it never ran, so it runs on the next host.
  if (error.code == ErrorCode::kHostGone && !it->second.head_seen) {
    RequestSpec spec = std::move(it->second.spec);
    settle(it);
    owner_.rerun(std::move(spec));
    return;
  }
  hub_.sink.deliver(error_event(f.stream, error.code, error.stage, std::move(error.message)));
  settle(it);
}

void ClientLink::on_goaway(Link& link) {
  // The host is leaving: what runs there finishes there; new requests wait for the next host.
  if (&link != link_.get()) return;
  draining_.push_back(link_);
  link_.reset();
  phase_ = Phase::kNone;
  hub_.counters.link = "none";
  ping_timer_.cancel();
  idle_timer_.cancel();
  close_drained();
  owner_.host_leaving();
}

// ---- flow control, liveness, idleness ----

void ClientLink::grant(uint64_t stream, Stream& s) {
  if (s.owed == 0 || !s.link || !s.link->open()) return;
  s.link->send_control(FrameType::kWindow, 0, stream, mux::encode_u32(static_cast<uint32_t>(s.owed)));
  s.owed = 0;
}

void ClientLink::settle(StreamMap::iterator it) {
  streams_.erase(it);
  hub_.counters.streams = streams_.size();
  close_drained();
  arm_idle();
}

void ClientLink::schedule_ping() {
  ping_timer_.expires_after(ms(hub_.options.ping_interval_ms));
  ping_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || !link_ || phase_ != Phase::kOpen) return;
    const uint64_t timeout = hub_.options.ping_timeout_ms;
    if (Clock::now() - last_heard_ > ms(timeout)) {
      link_->close("the host stopped answering (nothing heard for " + std::to_string(timeout) + " ms)");
      return;
    }
    link_->send_control(FrameType::kPing, 0, 0, mux::encode_u64(++ping_seq_));
    schedule_ping();
  });
}

void ClientLink::arm_idle() {
  if (!link_ || phase_ != Phase::kOpen || streams_on(link_.get()) || owner_.requests_waiting()) return;
  idle_timer_.expires_after(ms(hub_.options.link_idle_timeout_ms));
  idle_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || !link_ || phase_ != Phase::kOpen || streams_on(link_.get())) return;
    // Nothing in flight for a while: let the link go; the next request elects again (and may
    // find this process should host by then).
    link_->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("idle").take());
    auto link = std::move(link_);
    phase_ = Phase::kNone;
    hub_.counters.link = "idle";
    ping_timer_.cancel();
    idle_close_ = link.get();
    link->close_after_flush("");
  });
}

bool ClientLink::streams_on(const Link* link) const {
  for (const auto& [_, s] : streams_) {
    if (s.link == link) return true;
  }
  return false;
}

void ClientLink::close_drained() {
  // Closing may call back into on_link_closed, which edits draining_: pick first, then close.
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

void ClientLink::close_draining() {
  auto links = std::move(draining_);
  draining_.clear();
  for (auto& l : links) l->close("");
}

// ---- links closing ----

void ClientLink::on_link_closed(Link& link, const std::string& reason) {
  fingerprints_received_.erase(&link);
  if (&link == link_.get() && phase_ == Phase::kHandshake) {
    // A host on its way out may close before saying anything: the owner decides how often.
    link_.reset();
    phase_ = Phase::kNone;
    handshake_timer_.cancel();
    return owner_.host_closed_in_handshake(link.peer_silent(), reason);
  }
  if (&link == quiet_close_ || &link == idle_close_) {
    if (&link == idle_close_) idle_close_ = nullptr;
    return;
  }
  const bool current = &link == link_.get();
  if (current) {
    link_.reset();
    phase_ = Phase::kNone;
    hub_.counters.link = "none";
    ping_timer_.cancel();
    idle_timer_.cancel();
  }
  draining_.erase(std::remove_if(draining_.begin(), draining_.end(),
                                 [&](const std::shared_ptr<Link>& l) { return l.get() == &link; }),
                  draining_.end());
  // Everything that was running there: run again where allowed and not yet answered, else settle.
  const std::string why = "the process hosting the engine on port " + std::to_string(hub_.options.port) +
                          " went away (" + (reason.empty() ? std::string("link closed") : reason) + ")";
  std::vector<RequestSpec> rerun;
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->second.link != &link) {
      ++it;
      continue;
    }
    if (it->second.retryable && !it->second.head_seen) {
      rerun.push_back(std::move(it->second.spec));
    } else {
      ++hub_.counters.host_gone;
      hub_.sink.deliver(error_event(it->first, ErrorCode::kHostGone, Stage::kLink, why));
    }
    it = streams_.erase(it);
  }
  hub_.counters.streams = streams_.size();
  for (auto& spec : rerun) owner_.rerun(std::move(spec));
  // The host is gone: one of the processes left takes the port now, whether or not it has work.
  if (current) owner_.host_lost();
}

// A handler threw: every request on the link fails with ERR_INTERNAL and the link closes.
void ClientLink::on_link_failed(Link& link, const std::string& why) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->second.link != &link) {
      ++it;
      continue;
    }
    if (link.open()) link.send_control(FrameType::kCancel, 0, it->first, {});
    hub_.sink.deliver(error_event(it->first, ErrorCode::kInternal, Stage::kLink, why));
    it = streams_.erase(it);
  }
  hub_.counters.streams = streams_.size();
  const bool current = &link == link_.get();
  if (current) {
    close();
    hub_.counters.link = "none";
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
  owner_.link_failed(current, why);
}

void ClientLink::leave(bool graceful) {
  handshake_timer_.cancel();
  for (auto& [id, s] : streams_) {
    if (s.link && s.link->open()) s.link->send_control(FrameType::kCancel, 0, id, {});
    hub_.sink.deliver(error_event(id, ErrorCode::kClientClosed, Stage::kEngine, "the client was closed"));
  }
  streams_.clear();
  hub_.counters.streams = 0;
  if (link_) {
    link_->send_control(FrameType::kGoaway, 0, 0, mux::PayloadWriter().str("the client is leaving").take());
    auto link = std::move(link_);
    quiet_close_ = link.get();
    if (graceful)
      link->close_after_flush("");
    else
      link->close("");
  }
  close_draining();
  ping_timer_.cancel();
  idle_timer_.cancel();
}

}  // namespace ctn::share
