#include "core/connection.h"

#include <algorithm>

#include "core/connection_fingerprint.h"
#include "core/engine_impl.h"
#include "core/http1_channel.h"
#include "core/http2_channel.h"
#include "core/http3_channel.h"

namespace ctn {

Connection::Connection(Engine::Impl& engine, PoolKey key, uint64_t id)
    : engine_(engine),
      key_(std::move(key)),
      id_(id),
      transport_(engine.io),
      dialler_(engine.io, key_, transport_, engine.tls_contexts(), engine.tls_sessions(), engine.resolver,
               *this),
      sink_(engine),
      idle_timer_(engine.io) {
  if (!key_.identity.empty()) identity_counters_ = engine.counters.identities.find_or_add(key_.identity);
}

bool Connection::worn_out() const {
  if (key_.max_requests != 0 && requests_placed_ >= key_.max_requests) return true;
  return key_.max_age_ms != 0 &&
         SteadyClock::now() - opened_at_ >= std::chrono::milliseconds(key_.max_age_ms);
}

void Connection::placed() {
  ++requests_placed_;
  if (identity_counters_) identity_counters_->exchanges++;
}

void Connection::arm_idle_timer(uint64_t idle_timeout_ms) {
  auto wait = std::chrono::milliseconds(idle_timeout_ms);
  if (key_.max_age_ms != 0) {
    const auto age_left = std::chrono::duration_cast<std::chrono::milliseconds>(
        opened_at_ + std::chrono::milliseconds(key_.max_age_ms) - SteadyClock::now());
    wait = std::max(std::chrono::milliseconds(0), std::min(wait, age_left));
  }
  idle_timer_.expires_after(wait);
  idle_timer_.async_wait(
      [self = shared_from_this()](const asio::error_code& ec) { self->on_idle_timeout(ec); });
}

Connection::~Connection() = default;

size_t Connection::open_streams() const { return h2_ ? h2_->open_streams() : h3_ ? h3_->open_streams() : 0; }

void Connection::account() {
  const bool open = tcp_open_ && !closed_;
  const bool connecting = !established_ && !closed_;
  const bool idle = established_ && !closed_ &&
                    (h2_   ? h2_->open_streams() == 0 && h2_->accepts_streams()
                     : h3_ ? h3_->open_streams() == 0
                           : parked_);
  const size_t streams = closed_ ? 0 : open_streams();
  if (idle && !counted_idle_) idle_since_ = SteadyClock::now();
  engine_.counters.adjust(counters_.get(), int64_t{open} - int64_t{counted_open_},
                          int64_t{idle} - int64_t{counted_idle_},
                          int64_t{connecting} - int64_t{counted_connecting_},
                          static_cast<int64_t>(streams) - static_cast<int64_t>(counted_streams_));
  counted_open_ = open;
  counted_idle_ = idle;
  counted_connecting_ = connecting;
  counted_streams_ = streams;
}

void Connection::enter_stage_all(Stage stage) {
  if (exchange_) engine_.enter_stage(exchange_, stage);
  for (auto& w : waiters_) engine_.enter_stage(w, stage);
}

// ---- connecting ----

void Connection::open(std::shared_ptr<Exchange> exchange) {
  exchange_ = std::move(exchange);
  exchange_->connection = shared_from_this();
  exchange_->reused_connection = false;
  placed();
  account();
  engine_.enter_stage(exchange_, Stage::kDns);
  if (key_.http3()) {
    // QUIC: no TCP, no dialler; the channel resolves and handshakes, and takes every exchange at once.
    ChannelHost& host = *this;
    h3_ = std::make_unique<Http3Channel>(host);
    tcp_open_ = true;  // a UDP socket from now on (what the open count means for this connection)
    auto first = std::move(exchange_);
    exchange_.reset();
    h3_->open(std::move(first));
    account();
    return;
  }
  dialler_.start(weak_from_this());
}

EchStatus Connection::ech_status() const {
  if (h3_) return h3_->tls() && SSL_ech_accepted(h3_->tls()) ? EchStatus::kReal : EchStatus::kGrease;
  return dialler_.ech_status();
}

const Exchange* Connection::dial_for() const { return closed_ ? nullptr : exchange_.get(); }

void Connection::dial_stage(Stage stage) { enter_stage_all(stage); }

void Connection::dial_tcp_connected() {
  tcp_open_ = true;
  engine_.counters.connection_established(false, false, identity_counters_.get());
  account();
}

void Connection::dial_io(uint64_t in, uint64_t out) { engine_.counters.count_io(in, out); }

void Connection::dial_failed(Error error) { fail(std::move(error)); }

void Connection::dialled(bool http2) {
  if (key_.tls)
    engine_.counters.connection_established(true, dialler_.tls_resumed(), identity_counters_.get());
  established_ = true;
  engine_.pool.note_protocol(key_, http2);
  engine_.learn_alternatives(key_, dialler_.dns_answer());
  if (http2) {
    ChannelHost& host = *this;  // a private base: converted here, where it is accessible
    h2_ = std::make_unique<Http2Channel>(host);
    Error error;
    if (!h2_->start(*exchange_->profile, &error)) {
      fail(std::move(error));
      return;
    }
    auto first = std::move(exchange_);
    exchange_.reset();
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (size_t i = 0; i < waiters.size(); ++i) placed();
    engine_.http2_ready(shared_from_this());
    h2_->begin(std::move(first), std::move(waiters));
    return;
  }
  ChannelHost& host = *this;
  h1_ = std::make_unique<Http1Channel>(host, dialler_.absolute_form() ? dialler_.proxy() : nullptr);
  account();
  auto first = std::move(exchange_);
  exchange_.reset();
  // The exchange is on the channel before the waiters go back (this connection is not idle).
  hand_back_waiters(nullptr);
  h1_->start(std::move(first));
}

void Connection::add_waiter(std::shared_ptr<Exchange> exchange) {
  exchange->connection = shared_from_this();
  if (h3_) {  // QUIC queues it until the handshake is done
    placed();
    exchange->reused_connection = true;
    h3_->submit(std::move(exchange));
    return;
  }
  engine_.enter_stage(exchange, exchange_ ? exchange_->stage : Stage::kConnect);
  waiters_.push_back(std::move(exchange));
}

// Waiters hoped for HTTP/2. With an error they share the connection's fate; otherwise they go back
// to the engine to find (or open) a connection of their own.
void Connection::hand_back_waiters(const Error* error) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) {
    w->connection.reset();
    if (error) {
      engine_.exchange_failed(w, *error, false);
    } else {
      engine_.redispatch(w);
    }
  }
}

// ---- HTTP/1.1 ----

void Connection::run(std::shared_ptr<Exchange> exchange) {
  idle_timer_.cancel();
  parked_ = false;
  placed();
  h1_->run(std::move(exchange));
}

void Connection::upload_available(const std::shared_ptr<Exchange>& ex) {
  if (closed_) return;
  if (h2_) {
    h2_->upload_available(*ex);
  } else if (h3_) {
    h3_->upload_available(*ex);
  } else if (h1_) {
    h1_->upload_available(ex);
  }
}

void Connection::park(uint64_t idle_timeout_ms) {
  parked_ = true;
  account();
  arm_idle_timer(idle_timeout_ms);
  h1_->watch();
}

void Connection::on_idle_timeout(const asio::error_code& ec) {
  if (ec || closed_ || exchange_ || (h1_ && h1_->busy()) || open_streams() > 0) return;
  retire();
}

void Connection::retire() {
  if (closed_) return;
  if (h2_) {
    // GOAWAY goes out if the socket takes it at once; closing does not wait for it.
    h2_->terminate();
  }
  close();
}

bool Connection::idle() const {
  if (!h1_ || h1_->busy() || closed_ || worn_out()) return false;
  // The watch read may not have run yet for a FIN that already arrived: ask the kernel.
  return transport_.quiet();
}

bool Connection::session_idle() const {
  if (h3_) return established_ && !closed_ && h3_->open_streams() == 0;
  return h2_ && established_ && !closed_ && h2_->unused() && h2_->accepts_streams();
}

bool Connection::peer_closed() const {
  if (closed_) return true;
  if (h3_) return !h3_->usable();  // no TCP socket to ask: the QUIC connection reports its end
  // Bytes waiting are no verdict (HTTP/2 servers send PINGs, SETTINGS, GOAWAY: the read handler
  // deals with those); only an end of stream or an error is.
  return transport_.peer_closed();
}

// ---- HTTP/2 ----

// HTTP/3: QUIC queues streams beyond the server's limit, as HTTP/2 sessions do.
bool Connection::can_take_stream() const {
  if (worn_out()) return false;
  if (h3_) return established_ && !closed_ && h3_->usable();
  return h2_ && !closed_ && h2_->can_take_stream();
}

bool Connection::accepts_streams() const {
  if (worn_out()) return false;
  if (h3_) return !closed_ && h3_->usable();
  return h2_ && !closed_ && h2_->accepts_streams();
}

void Connection::submit_stream(std::shared_ptr<Exchange> ex) {
  placed();
  if (h3_) {
    h3_->submit(std::move(ex));
    return;
  }
  h2_->submit(std::move(ex));
}

void Connection::http3_established() {
  established_ = true;
  account();
  // Finished its handshake after its only request fell back to TCP (see became_idle): it goes now.
  if (worn_out() && open_streams() == 0) became_idle();
}

// ---- ChannelHost ----

void Connection::became_idle() {
  account();
  if (closed_ || open_streams() > 0) return;
  // A QUIC connection whose alt-svc exchange fell back to TCP before the handshake is let finish it
  // (the idle timer still bounds it), as Chrome lets a losing QUIC job run: its outcome confirms
  // the alternative or marks it broken, so later requests stop paying for the race.
  if (worn_out() && !(h3_ && h3_->racing())) {
    // Its last request is done and it takes no more: closed, but not from inside the session's
    // callback that reported the stream's end (the session is still reading).
    asio::post(engine_.io, [self = shared_from_this()] {
      if (!self->closed_ && self->open_streams() == 0) self->retire();
    });
    return;
  }
  arm_idle_timer(engine_.options.idle_timeout_ms);
}

void Connection::became_busy() { idle_timer_.cancel(); }

void Connection::unusable() { engine_.http2_unusable(this); }

// ---- shared by both protocols ----

void Connection::resume(const std::shared_ptr<Exchange>& ex) {
  if (h2_) {
    h2_->resume(*ex);
    return;
  }
  if (h3_) {
    h3_->resume(*ex);
    return;
  }
  if (h1_) h1_->resume(ex);
}

void Connection::abandon(const std::shared_ptr<Exchange>& ex) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (*it == ex) {
      waiters_.erase(it);
      return;
    }
  }
  if (h2_ && h2_->abandon(ex)) return;
  if (h3_ && h3_->abandon(ex)) return;
  if (h1_ && h1_->abandon(ex)) return;
  if (exchange_ == ex) {
    exchange_.reset();  // the engine reports this exchange's failure itself
    if (!established_ && !closed_ && !waiters_.empty()) {
      // Cancelled or timed out while the connection was being set up for others too: the first
      // waiter takes its place and the handshake goes on.
      exchange_ = std::move(waiters_.front());
      waiters_.erase(waiters_.begin());
      exchange_->reused_connection = false;
      return;
    }
    close();
  }
}

void Connection::fail(Error error) {
  auto ex = std::move(exchange_);
  exchange_.reset();
  hand_back_waiters(&error);
  close();
  if (!ex) return;
  ex->connection.reset();
  engine_.exchange_failed(ex, std::move(error), false);
}

void Connection::close(const char* why) {
  if (closed_) return;
  closed_ = true;
  dialler_.cancel();
  idle_timer_.cancel();
  if (h2_) h2_->cancel_timers();
  transport_.close();
  auto self = shared_from_this();
  account();
  engine_.connection_closed(this);
  const Error error{ErrorCode::kConnectionClosed, Stage::kEngine, why};
  if (auto ex = std::move(exchange_)) {
    exchange_.reset();
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
  if (h1_) h1_->fail_all(error);
  hand_back_waiters(&error);
  if (h2_) h2_->fail_all(error);
  if (h3_) h3_->close(error);
  account();
}

void Connection::begin_response(Exchange& ex, ResponseHead&& head) {
  engine_.learn_alternatives(key_, head.headers);
  engine_.enter_stage(ex.shared_from_this(), Stage::kBody);
  sink_.begin(ex, std::move(head), info(ex));
}

void Connection::complete_fingerprint() {
  if (fingerprint_complete_) return;
  if (h3_) {
    fingerprint_ = fingerprint_connection(h3_->tls(), fingerprint::Transport::kQuic);
    fingerprint_complete_ = true;
    return;
  }
  const fingerprint::H2FirstFlight* flight = h2_ ? h2_->first_flight() : nullptr;
  if (!fingerprint_) {
    auto made = fingerprint_connection(transport_.target_ssl(), fingerprint::Transport::kTcp);
    // The usual way: the HTTP/2 part goes into the one object before anything shares it.
    if (made && flight && flight->headers_sent) made->akamai = fingerprint::akamai(*flight);
    fingerprint_ = std::move(made);
    if (!fingerprint_ || !flight || flight->headers_sent) {
      fingerprint_complete_ = true;
      return;
    }
  }
  if (!flight) {
    fingerprint_complete_ = true;
    return;
  }
  // A response before our first HEADERS left cannot happen; should one, the next response finishes.
  if (!flight->headers_sent) return;
  fingerprint_ = with_http2(*fingerprint_, *flight);
  fingerprint_complete_ = true;
}

ConnectionInfo Connection::info(const Exchange& ex) {
  complete_fingerprint();
  ConnectionInfo i;
  i.fingerprint = fingerprint_;
  i.connection_id = id_;
  i.reused = ex.reused_connection;
  if (h3_) {
    i.alpn = "h3";
    if (const SSL* ssl = h3_->tls()) {
      i.tls_version = negotiated_version(ssl);
      i.cipher = negotiated_cipher(ssl);
    }
    return i;
  }
  if (SSL* ssl = transport_.target_ssl()) {
    i.alpn = negotiated_alpn(ssl);
    i.tls_version = negotiated_version(ssl);
    i.cipher = negotiated_cipher(ssl);
    i.tls_resumed = dialler_.tls_resumed();
  }
  return i;
}

}  // namespace ctn
