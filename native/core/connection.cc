#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "core/engine_impl.h"
#include "http1/request_writer.h"

namespace ctn {

namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
// Body bytes are handed to JS in bursts: everything readable right now, up to this much. One event
// per TLS record (16 KiB) would cost an allocation, a JS object and a later concat each.
constexpr size_t kBodyFlushBytes = 1024 * 1024;
// A whole body is reserved up front from its Content-Length, up to this much (it grows past it).
constexpr int64_t kWholeBodyReserveBytes = 64 * 1024 * 1024;
// HTTP/2 output is written in slices of about this size, so one large upload does not hold up
// every other stream's frames for long.
constexpr size_t kHttp2WriteSlice = 256 * 1024;

bool idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

bool is_eof(const asio::error_code& ec) {
  // A peer that closes without close_notify is common on the web; the HTTP framing decides whether
  // anything was lost.
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::connection_reset;
}

Event body_event(uint64_t id, std::string&& bytes) {
  Event e;
  e.kind = Event::Kind::kBody;
  e.id = id;
  e.body = std::move(bytes);
  return e;
}

Event sent_event(uint64_t id, uint64_t bytes) {
  Event e;
  e.kind = Event::Kind::kSent;
  e.id = id;
  e.sent = bytes;
  return e;
}

bool chunked_transfer(const HeaderList& headers) {
  const Header* te = find_header(headers, "transfer-encoding");
  if (!te) return false;
  std::string v = te->value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v.find("chunked") != std::string::npos;
}

// Why a response body was given up (Exchange::decode_error): undecodable, or too large.
Error body_failure(const Exchange& ex) {
  return Error{ex.body_too_large ? ErrorCode::kBodyTooLarge : ErrorCode::kProtocol, Stage::kBody, ex.decode_error};
}

// Pieces taken per streamed-body write: enough to fill a TLS record run, few enough to stay cheap.
constexpr size_t kUploadPiecesPerWrite = 64;

}  // namespace

Connection::Connection(Engine::Impl& engine, PoolKey key, uint64_t id)
    : engine_(engine),
      key_(std::move(key)),
      id_(id),
      resolver_(engine.io),
      socket_(engine.io),
      idle_timer_(engine.io),
      ping_timer_(engine.io),
      parser_(*this),
      read_buffer_(kReadBufferSize) {
  if (!key_.proxy.empty()) {
    // The engine parsed it before it became a pool key: it parses again.
    proxy::ProxyConfig config;
    std::string why;
    if (proxy::parse_proxy_url(key_.proxy, &config, &why)) proxy_ = std::move(config);
  }
}

Connection::~Connection() {
  asio::error_code ignored;
  socket_.close(ignored);
}

void Connection::account() {
  const bool open = tcp_open_ && !closed_;
  const bool connecting = !established_ && !closed_;
  const bool idle = established_ && !closed_ &&
                    (mode_ == Mode::kHttp2 ? streams_.empty() && accepts_streams() : parked_);
  const size_t streams = closed_ ? 0 : streams_.size();
  if (idle && !counted_idle_) idle_since_ = SteadyClock::now();
  engine_.adjust_counts(counters_.get(), int64_t{open} - int64_t{counted_open_},
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
  account();
  engine_.enter_stage(exchange_, Stage::kDns);
  if (proxy_ && proxy::resolves_locally(proxy_->scheme)) {
    // socks4 and socks5 send the target's address: the name is looked up here (socks5h and
    // socks4a leave that to the proxy).
    asio::error_code not_literal;
    asio::ip::make_address(key_.host, not_literal);
    if (not_literal) {
      resolver_.async_resolve(key_.host, std::to_string(key_.port),
                              [self = shared_from_this()](const asio::error_code& ec,
                                                          asio::ip::tcp::resolver::results_type r) {
                                self->on_resolve_target(ec, std::move(r));
                              });
      return;
    }
    target_address_ = key_.host;
  }
  resolve_dial_host();
}

void Connection::on_resolve_target(const asio::error_code& ec,
                                   asio::ip::tcp::resolver::results_type results) {
  if (closed_ || !exchange_) return;
  const bool v4_only = proxy_->scheme == proxy::Scheme::kSocks4;
  for (const auto& entry : results) {
    if (ec) break;
    const asio::ip::address a = entry.endpoint().address();
    if (v4_only && !a.is_v4()) continue;
    target_address_ = a.to_string();
    break;
  }
  if (target_address_.empty()) {
    fail(Error{ErrorCode::kDns, Stage::kDns,
               "DNS lookup of " + key_.host + " failed: " +
                   (ec ? ec.message() : "no IPv4 address (SOCKS4 carries IPv4 addresses only)")},
         false);
    return;
  }
  resolve_dial_host();
}

void Connection::resolve_dial_host() {
  resolver_.async_resolve(dial_host(), std::to_string(dial_port()),
                          [self = shared_from_this()](const asio::error_code& ec,
                                                      asio::ip::tcp::resolver::results_type r) {
                            self->on_resolve(ec, std::move(r));
                          });
}

void Connection::add_waiter(std::shared_ptr<Exchange> exchange) {
  exchange->connection = shared_from_this();
  engine_.enter_stage(exchange, exchange_ ? exchange_->stage : Stage::kConnect);
  waiters_.push_back(std::move(exchange));
}

void Connection::on_resolve(const asio::error_code& ec,
                            asio::ip::tcp::resolver::results_type results) {
  if (closed_ || !exchange_) return;
  if (ec) {
    if (proxy_) {
      fail_proxy(Stage::kDns, "DNS lookup of the proxy host " + proxy_->host + " failed: " + ec.message());
    } else {
      fail(Error{ErrorCode::kDns, Stage::kDns, "DNS lookup of " + key_.host + " failed: " + ec.message()},
           false);
    }
    return;
  }
  enter_stage_all(Stage::kConnect);
  first_dialed_.clear();
  // The condition runs before each attempt, while the operation (and its handler's `self`) lives.
  auto note_attempt = [this](const asio::error_code&, const asio::ip::tcp::endpoint& next) {
    if (first_dialed_.empty()) {
      const std::string address = next.address().to_string();
      const std::string host = next.address().is_v6() ? "[" + address + "]" : address;
      first_dialed_ = host + ":" + std::to_string(next.port());
    }
    return true;
  };
  asio::async_connect(socket_, results, note_attempt,
                      [self = shared_from_this()](const asio::error_code& ec,
                                                  const asio::ip::tcp::endpoint&) {
                        self->on_connect(ec);
                      });
}

void Connection::on_connect(const asio::error_code& ec) {
  if (closed_ || !exchange_) return;
  if (ec) {
    // A host name is followed by the address tried: "connect to localhost:8443 (127.0.0.1:8443)".
    const std::string named = dial_host() + ":" + std::to_string(dial_port());
    const bool literal = first_dialed_.empty() || first_dialed_ == named ||
                         first_dialed_ == "[" + dial_host() + "]:" + std::to_string(dial_port());
    const std::string what = "connect to " + std::string(proxy_ ? "the proxy " : "") + named +
                             (literal ? "" : " (" + first_dialed_ + ")") + " failed: " + ec.message();
    if (proxy_) {
      fail_proxy(Stage::kConnect, what);
      return;
    }
    const bool refused = ec == asio::error::connection_refused;
    fail(Error{refused ? ErrorCode::kConnectRefused : ErrorCode::kConnect, Stage::kConnect, what}, false);
    return;
  }
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  tcp_open_ = true;
  engine_.connection_established(false, false);
  if (proxy_) {
    start_proxy();
    return;
  }
  start_target();
}

// ---- through a proxy ----

void Connection::fail_proxy(Stage stage, const std::string& why) {
  fail(Error{ErrorCode::kProxy, stage, why + " (proxy " + proxy::redacted_url(*proxy_) + ")"}, false);
}

void Connection::start_proxy() {
  account();
  enter_stage_all(Stage::kProxy);
  if (proxy_->scheme != proxy::Scheme::kHttps) {
    start_tunnel();
    return;
  }
  // TLS to the proxy itself: verified as any server is (unless insecureSkipVerify), HTTP/1.1 only.
  Error error;
  const TlsOptions options{key_.verify, true};
  proxy_tls_context_ = engine_.tls_contexts().get(*exchange_->profile, options, &error);
  if (!proxy_tls_context_) {
    fail(std::move(error), false);
    return;
  }
  proxy_tls_ = std::make_unique<TlsStream>(socket_, *proxy_tls_context_);
  if (!prepare_connection(proxy_tls_->native_handle(), *exchange_->profile, options, proxy_->host,
                          &error)) {
    fail(std::move(error), false);
    return;
  }
  proxy_tls_->async_handshake(asio::ssl::stream_base::client,
                              [self = shared_from_this()](const asio::error_code& ec) {
                                self->on_proxy_tls(ec);
                              });
}

void Connection::on_proxy_tls(const asio::error_code& ec) {
  if (closed_ || !exchange_) return;
  if (ec) {
    const bool from_tls = ec.category() == asio::error::get_ssl_category();
    const Error why = classify_handshake_failure(
        proxy_tls_->native_handle(), from_tls ? static_cast<uint32_t>(ec.value()) : 0, ec.message());
    fail_proxy(Stage::kProxy, "the TLS handshake with the proxy failed: " + why.message);
    return;
  }
  start_tunnel();
}

void Connection::start_tunnel() {
  if (proxy::is_http_proxy(proxy_->scheme) && !key_.tls && !(exchange_ && exchange_->spec.upgrade)) {
    // Plain HTTP through an HTTP proxy: absolute-form requests, no tunnel (write_request). An
    // upgrade needs the bytes after it to reach the target untouched: it goes through CONNECT.
    absolute_form_ = true;
    start_target();
    return;
  }
  tunnel_ = std::make_unique<proxy::Handshake>(
      *proxy_, target_address_.empty() ? key_.host : target_address_, key_.port);
  drive_tunnel();
}

void Connection::drive_tunnel() {
  switch (tunnel_->status()) {
    case proxy::Handshake::Status::kSend:
      with_stream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(tunnel_->output()),
                          [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                            self->engine_.count_io(0, n);
                            self->on_tunnel_write(ec);
                          });
      });
      return;
    case proxy::Handshake::Status::kReceive:
      with_stream([&](auto& stream) {
        stream.async_read_some(asio::buffer(read_buffer_),
                               [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                                 self->on_tunnel_read(ec, n);
                               });
      });
      return;
    case proxy::Handshake::Status::kDone:
      tunnel_.reset();
      start_target();
      return;
    case proxy::Handshake::Status::kFailed:
      fail_proxy(Stage::kProxy, tunnel_->error());
      return;
  }
}

void Connection::on_tunnel_write(const asio::error_code& ec) {
  if (closed_ || !exchange_) return;
  if (ec) {
    fail_proxy(Stage::kProxy, "sending the tunnel request to the proxy failed: " + ec.message());
    return;
  }
  tunnel_->sent();
  drive_tunnel();
}

void Connection::on_tunnel_read(const asio::error_code& ec, size_t bytes) {
  if (closed_ || !exchange_) return;
  if (ec) {
    fail_proxy(Stage::kProxy, std::string(is_eof(ec) ? "the proxy closed the connection" : ec.message()) +
                                  " before the tunnel was open");
    return;
  }
  engine_.count_io(bytes, 0);
  const size_t used = tunnel_->feed(std::string_view(read_buffer_.data(), bytes));
  if (used < bytes && tunnel_->status() != proxy::Handshake::Status::kFailed) {
    // The target speaks only after our first bytes (TLS ClientHello, HTTP request): anything
    // here came from the proxy, which is not following the protocol.
    fail_proxy(Stage::kProxy, "the proxy sent more than its reply");
    return;
  }
  drive_tunnel();
}

void Connection::start_target() {
  if (!key_.tls) {
    established_ = true;
    mode_ = Mode::kHttp1;
    account();
    hand_back_waiters(nullptr);
    write_request();
    return;
  }
  account();
  Error error;
  const TlsOptions options{key_.verify, key_.http1_only, key_.http1_retry};
  tls_context_ = engine_.tls_contexts().get(*exchange_->profile, options, &error);
  if (!tls_context_) {
    fail(std::move(error), false);
    return;
  }
  // The fingerprinted handshake runs end to end with the target, inside the tunnel when there is
  // one (the proxy relays its bytes; an https:// proxy's TLS carries them).
  if (proxy_tls_) {
    tunnel_tls_ = std::make_unique<TunnelTlsStream>(*proxy_tls_, *tls_context_);
  } else {
    tls_ = std::make_unique<TlsStream>(socket_, *tls_context_);
  }
  SSL* ssl = target_ssl();
  if (!prepare_connection(ssl, *exchange_->profile, options, key_.server_name, &error)) {
    fail(std::move(error), false);
    return;
  }
  if (TlsSessionCache* sessions = engine_.tls_sessions()) {
    tls_session_slot_ = TlsSessionCache::Slot{sessions, tls_session_key(key_)};
    sessions->attach(ssl, &tls_session_slot_);
  }
  enter_stage_all(Stage::kTls);
  auto on_done = [self = shared_from_this()](const asio::error_code& ec) { self->on_handshake(ec); };
  if (tunnel_tls_) {
    tunnel_tls_->async_handshake(asio::ssl::stream_base::client, std::move(on_done));
  } else {
    tls_->async_handshake(asio::ssl::stream_base::client, std::move(on_done));
  }
}

SSL* Connection::target_ssl() const {
  if (tunnel_tls_) return tunnel_tls_->native_handle();
  return tls_ ? tls_->native_handle() : nullptr;
}

void Connection::on_handshake(const asio::error_code& ec) {
  if (closed_ || !exchange_) return;
  if (ec) {
    const bool from_tls = ec.category() == asio::error::get_ssl_category();
    fail(classify_handshake_failure(target_ssl(), from_tls ? static_cast<uint32_t>(ec.value()) : 0,
                                    ec.message()),
         false);
    return;
  }
  tls_resumed_ = SSL_session_reused(target_ssl()) != 0;
  engine_.connection_established(true, tls_resumed_);
  established_ = true;
  if (negotiated_alpn(target_ssl()) == "h2") {
    start_http2();
    return;
  }
  mode_ = Mode::kHttp1;
  account();
  hand_back_waiters(nullptr);
  write_request();
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
  exchange_ = std::move(exchange);
  exchange_->connection = shared_from_this();
  exchange_->reused_connection = true;
  reused_ = true;
  parked_ = false;
  account();
  // The idle watch read may already hold bytes (Asio reads speculatively): they predate this
  // request, so it must never see them. Cancel it; a fresh read starts after the request is sent.
  ++read_generation_;
  reading_ = false;
  asio::error_code ignored;
  socket_.cancel(ignored);
  write_request();
}

void Connection::write_request() {
  Exchange& ex = *exchange_;
  engine_.enter_stage(exchange_, Stage::kWrite);
  ex.reset_response();
  parser_.reset(ex.spec.method == "HEAD");
  response_started_ = false;
  response_complete_ = false;
  request_head_.clear();
  std::string why;
  // Plain HTTP through an HTTP proxy: the request line names the whole URL (absolute-form).
  const bool absolute_form = absolute_form_;
  std::string absolute_target;
  if (absolute_form) {
    const bool v6 = key_.host.find(':') != std::string::npos;
    absolute_target = "http://" + (v6 ? "[" + key_.host + "]" : key_.host) + ":" +
                      std::to_string(key_.port) + ex.spec.target;
  }
  http1::RequestHeadSpec head{ex.spec.method, absolute_form ? absolute_target : ex.spec.target,
                              &ex.spec.headers};
  if (ex.spec.preset_headers) {
    head.preset_http2 = &ex.profile->headers;
    head.preset_http1 =
        &profile_headers(*ex.profile, ex.spec.tls ? HeaderSet::kHttp1 : HeaderSet::kHttp1Plain);
  }
  if (!http1::write_request_head(head, request_head_, &why)) {
    fail(Error{ErrorCode::kInvalidOption, Stage::kWrite, "invalid request: " + why}, false);
    return;
  }
  if (absolute_form && proxy_->has_credentials && !find_header(ex.spec.headers, "proxy-authorization")) {
    // Last, before the blank line that ends the head.
    request_head_.insert(request_head_.size() - 2,
                         "Proxy-Authorization: " + proxy::basic_credentials(*proxy_) + "\r\n");
  }
  engine_.count_exchange(ex.reused_connection);
  pipe_ = false;
  upload_head_written_ = false;
  upload_done_ = !ex.spec.body_stream;
  if (ex.spec.body_stream) {
    // The head goes alone; the body follows piece by piece as the caller writes it (pump_upload).
    upload_chunked_ = !ex.spec.upgrade && chunked_transfer(ex.spec.headers);
    h1_writing_ = true;
    with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(request_head_),
                        [self = shared_from_this(), keep = exchange_](const asio::error_code& ec, size_t n) {
                          self->on_upload_write(ec, n, 0);
                        });
    });
    return;
  }
  std::array<asio::const_buffer, 2> buffers{asio::buffer(request_head_), asio::buffer(ex.spec.body)};
  h1_writing_ = true;
  with_stream([&](auto& stream) {
    // The handler holds the exchange: the body it writes from lives until the write is over, even
    // if the server answers (and the exchange completes) before it is all sent.
    asio::async_write(stream, buffers,
                      [self = shared_from_this(), keep = exchange_](const asio::error_code& ec, size_t n) {
                        self->on_write(ec, n);
                      });
  });
}

void Connection::on_write(const asio::error_code& ec, size_t bytes) {
  h1_writing_ = false;
  if (closed_ || !exchange_) return;
  engine_.count_io(0, bytes);
  if (ec) {
    fail(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
               "the connection failed while sending the request: " + ec.message()},
         true);
    return;
  }
  engine_.enter_stage(exchange_, Stage::kHeaders);
  read_more();
}

void Connection::pump_upload() {
  if (closed_ || h1_writing_ || !exchange_ || !upload_head_written_) return;
  if (upload_done_ && !pipe_) return;
  Exchange& ex = *exchange_;
  upload_pieces_.clear();
  uint64_t payload = 0;
  while (!ex.upload.empty() && upload_pieces_.size() < kUploadPiecesPerWrite) {
    payload += ex.upload.front().size();
    upload_pieces_.push_back(std::move(ex.upload.front()));
    ex.upload.pop_front();
  }
  ex.upload_taken += payload;
  // An upgraded connection has no end of body: the caller's end closes the connection once what it
  // wrote has gone out (its protocol said goodbye), and the exchange ends as if by the server.
  if (pipe_ && payload == 0) {
    if (ex.upload_ended && ex.upload.empty()) end_pipe();
    return;
  }
  const bool last = !pipe_ && ex.upload_ended && ex.upload.empty();
  if (payload == 0 && !last) return;
  upload_frame_.clear();
  upload_tail_.clear();
  if (upload_chunked_ && payload > 0) {
    char line[24];
    const int n = std::snprintf(line, sizeof line, "%llx\r\n", static_cast<unsigned long long>(payload));
    upload_frame_.assign(line, static_cast<size_t>(n));
    upload_tail_ = "\r\n";
  }
  if (upload_chunked_ && last) upload_tail_ += "0\r\n\r\n";
  if (last) upload_done_ = true;
  if (upload_frame_.empty() && upload_pieces_.empty() && upload_tail_.empty()) {
    // The end of a body whose length the caller gave: nothing more to write.
    if (ex.stage == Stage::kWrite) engine_.enter_stage(exchange_, Stage::kHeaders);
    return;
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(upload_pieces_.size() + 2);
  if (!upload_frame_.empty()) buffers.push_back(asio::buffer(upload_frame_));
  for (const auto& piece : upload_pieces_) buffers.push_back(asio::buffer(piece));
  if (!upload_tail_.empty()) buffers.push_back(asio::buffer(upload_tail_));
  h1_writing_ = true;
  with_stream([&](auto& stream) {
    asio::async_write(stream, buffers,
                      [self = shared_from_this(), keep = exchange_, payload](const asio::error_code& ec, size_t n) {
                        self->on_upload_write(ec, n, payload);
                      });
  });
}

void Connection::on_upload_write(const asio::error_code& ec, size_t bytes, uint64_t payload) {
  h1_writing_ = false;
  if (closed_) return;
  engine_.count_io(0, bytes);
  // The response ended (and took the exchange) while this was being written: the connection is
  // mid-request and was not kept (finish_exchange looked at h1_writing_ and upload_done_).
  if (!exchange_) return;
  if (ec) {
    fail(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
               "the connection failed while sending the request: " + ec.message()},
         !response_started_);
    return;
  }
  upload_pieces_.clear();
  if (payload > 0) engine_.emit(sent_event(exchange_->spec.id, payload));
  if (!upload_head_written_) {
    // The server may answer before the body is complete (an early error, a 101): read from now on.
    upload_head_written_ = true;
    read_more();
  }
  if (closed_ || !exchange_) return;
  if (upload_done_ && !pipe_) {
    if (exchange_->stage == Stage::kWrite) engine_.enter_stage(exchange_, Stage::kHeaders);
    return;
  }
  pump_upload();
}

// The server agreed to the upgrade: from here on the connection carries the other protocol's bytes
// both ways, unframed. Deadlines were for the handshake.
void Connection::begin_pipe(Exchange& ex, std::string_view leftover) {
  pipe_ = true;
  response_complete_ = false;
  ex.deadline.cancel();
  ex.phase_timer.cancel();
  ex.phase = Phase::kNone;
  if (!leftover.empty()) {
    append_body(ex, leftover);
    flush_body(ex);
  }
  pump_upload();
  read_more();
}

void Connection::end_pipe() {
  if (!exchange_) return;
  flush_body(*exchange_);
  auto done = std::move(exchange_);
  exchange_.reset();
  done->connection.reset();
  engine_.exchange_succeeded(done);
  close();
}

void Connection::on_read_pipe(const asio::error_code& ec, size_t bytes) {
  if (!exchange_) {
    close();
    return;
  }
  Exchange& ex = *exchange_;
  if (ec) {
    if (is_eof(ec)) {
      end_pipe();
      return;
    }
    flush_body(ex);
    fail(Error{ErrorCode::kConnectionClosed, Stage::kBody, "the upgraded connection failed: " + ec.message()},
         false);
    return;
  }
  engine_.count_io(bytes, 0);
  append_body(ex, std::string_view(read_buffer_.data(), bytes));
  if (ex.pending_body.size() < kBodyFlushBytes && more_readable_now()) {
    read_more();
    return;
  }
  flush_body(ex);
  read_more();
}

void Connection::upload_available(const std::shared_ptr<Exchange>& ex) {
  if (closed_) return;
  if (mode_ == Mode::kHttp2) {
    if (ex->stream_id != 0 && streams_.count(ex->stream_id)) {
      feed_http2_upload(*ex);
      flush_http2();
    }
    return;
  }
  if (exchange_ == ex) pump_upload();
}

void Connection::read_more() {
  if (closed_ || reading_) return;
  if (mode_ != Mode::kHttp2 && exchange_ && exchange_->paused) return;
  reading_ = true;
  with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(read_buffer_),
                           [self = shared_from_this(), gen = read_generation_](
                               const asio::error_code& ec, size_t n) { self->on_read(ec, n, gen); });
  });
}

void Connection::on_read(const asio::error_code& ec, size_t bytes, uint64_t generation) {
  if (generation != read_generation_) {
    // The watch read of the idle period: anything it got (bytes nobody asked for, or EOF) means
    // the server gave up on this connection before the current request reached it.
    if (!closed_ && ec != asio::error::operation_aborted && exchange_) {
      fail(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
                 "the kept-alive connection was no longer usable (the server had sent " +
                     std::string(ec ? "EOF" : "unsolicited bytes") + ")"},
           true);
    }
    return;
  }
  reading_ = false;
  if (closed_) return;
  if (mode_ == Mode::kHttp2) {
    on_read_http2(ec, bytes);
    return;
  }
  if (pipe_) {
    on_read_pipe(ec, bytes);
    return;
  }
  if (!exchange_) {
    // Parked: the server closed the idle connection, or sent bytes nobody asked for.
    close();
    return;
  }
  Exchange& ex = *exchange_;
  if (ec) {
    if (is_eof(ec) && parser_.finish_eof()) {
      // Close-delimited body: on_complete has run.
      if (!ex.decode_error.empty()) {
        fail(body_failure(ex), false);
        return;
      }
      flush_body(ex);
      finish_exchange();
      return;
    }
    const bool nothing = !response_started_;
    std::string what = is_eof(ec) ? "the server closed the connection" : ec.message();
    if (nothing) {
      fail(Error{ErrorCode::kConnectionClosed, ex.stage, what + " before sending a response"}, true);
    } else if (parser_.started() && ex.stage == Stage::kBody) {
      fail(Error{ErrorCode::kBodyTruncated, Stage::kBody, what + " before the body was complete"},
           false);
    } else {
      fail(Error{ErrorCode::kConnectionClosed, ex.stage,
                 what + " before the response head was complete"},
           false);
    }
    return;
  }
  engine_.count_io(bytes, 0);
  if (bytes > 0) response_started_ = true;
  const size_t used = parser_.feed(std::string_view(read_buffer_.data(), bytes));
  if (parser_.status() == http1::ResponseParser::Status::kError) {
    fail(Error{ErrorCode::kProtocol, ex.stage, "invalid HTTP response: " + parser_.error()}, false);
    return;
  }
  if (ex.upgraded && !pipe_) {
    begin_pipe(ex, std::string_view(read_buffer_.data() + used, bytes - used));
    return;
  }
  if (!ex.decode_error.empty()) {
    fail(body_failure(ex), false);
    return;
  }
  if (!response_complete_ && ex.spec.whole_body) {
    read_more();
    return;
  }
  if (!response_complete_ && ex.pending_body.size() < kBodyFlushBytes && more_readable_now()) {
    read_more();
    return;
  }
  flush_body(ex);
  if (response_complete_) {
    // Bytes after the response on a connection we did not pipeline: do not reuse it.
    if (used < bytes) trailing_garbage_ = true;
    finish_exchange();
    return;
  }
  read_more();
}

void Connection::finish_exchange() {
  auto ex = std::move(exchange_);
  exchange_.reset();
  ex->connection.reset();
  // A response that finished while the request was still being sent (an early 413, say) leaves
  // the connection mid-request: it cannot carry another one.
  const bool reuse = parser_.keep_alive() && !trailing_garbage_ && !h1_writing_ && upload_done_;
  engine_.exchange_succeeded(ex);
  if (reuse && !closed_) {
    engine_.connection_reusable(shared_from_this());
  } else {
    close();
  }
}

bool Connection::more_readable_now() {
  if (SSL* ssl = target_ssl(); ssl && SSL_pending(ssl) > 0) return true;
  if (proxy_tls_ && SSL_pending(proxy_tls_->native_handle()) > 0) return true;
  asio::error_code ec;
  return socket_.available(ec) > 0 && !ec;
}

void Connection::park(uint64_t idle_timeout_ms) {
  parked_ = true;
  account();
  idle_timer_.expires_after(std::chrono::milliseconds(idle_timeout_ms));
  idle_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    self->on_idle_timeout(ec);
  });
  read_more();
}

void Connection::on_idle_timeout(const asio::error_code& ec) {
  if (ec || closed_ || exchange_ || !streams_.empty()) return;
  retire();
}

void Connection::retire() {
  if (closed_) return;
  if (h2_) {
    // GOAWAY goes out if the socket takes it at once; closing does not wait for it.
    h2_->terminate();
    flush_http2();
  }
  close();
}

bool Connection::idle() const {
  if (exchange_ || !established_ || closed_ || mode_ != Mode::kHttp1) return false;
  // The watch read may not have run yet for a FIN that already arrived: ask the kernel.
  char probe;
  const ssize_t n = ::recv(const_cast<asio::ip::tcp::socket&>(socket_).native_handle(), &probe, 1,
                           MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool Connection::session_idle() const {
  return established_ && !closed_ && mode_ == Mode::kHttp2 && streams_.empty() && awaiting_settings_.empty() &&
         accepts_streams();
}

bool Connection::peer_closed() const {
  if (closed_) return true;
  // Bytes waiting are no verdict (HTTP/2 servers send PINGs, SETTINGS, GOAWAY: the read handler
  // deals with those); only an end of stream or an error is.
  char probe;
  const ssize_t n = ::recv(const_cast<asio::ip::tcp::socket&>(socket_).native_handle(), &probe, 1,
                           MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// ---- HTTP/2 ----

void Connection::start_http2() {
  mode_ = Mode::kHttp2;
  http2::ClientSession::Options options;
  options.manual_flow_control = true;  // back-pressure: windows reopen as JS takes the bytes
  http2::SessionListener& listener = *this;  // a private base: converted here, where it is accessible
  h2_ = std::make_unique<http2::ClientSession>(exchange_->profile->http2, listener, options);
  std::string why;
  if (!h2_->start(&why)) {
    fail(Error{ErrorCode::kUnsupportedFingerprint, Stage::kTls, "HTTP/2 profile: " + why}, false);
    return;
  }
  auto first = std::move(exchange_);
  exchange_.reset();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  engine_.http2_ready(shared_from_this());
  last_read_at_ = SteadyClock::now();
  if (engine_.options.ping_interval_ms > 0) {
    arm_ping(std::chrono::milliseconds(engine_.options.ping_interval_ms));
  }
  submit_stream(std::move(first));
  for (auto& w : waiters) {
    if (w->done) continue;
    w->reused_connection = true;  // it waited for this connection's handshake instead of its own
    submit_stream(std::move(w));
  }
  account();
  read_more();
}

bool Connection::can_take_stream() const {
  return mode_ == Mode::kHttp2 && !closed_ && h2_ && h2_->can_submit();
}

bool Connection::accepts_streams() const {
  return mode_ == Mode::kHttp2 && !closed_ && h2_ && !h2_->failed() && !h2_->goaway_received();
}

void Connection::submit_stream(std::shared_ptr<Exchange> ex) {
  if (ex->spec.upgrade) {
    place_websocket(std::move(ex));
    return;
  }
  const RequestSpec& s = ex->spec;
  open_stream(std::move(ex), s.method, s.headers, s.body, {});
}

void Connection::open_stream(std::shared_ptr<Exchange> ex, std::string_view method, const HeaderList& headers,
                             std::string body, std::string_view extended_protocol) {
  idle_timer_.cancel();
  ex->connection = shared_from_this();
  ex->reset_response();
  engine_.enter_stage(ex, Stage::kWrite);
  const RequestSpec& s = ex->spec;
  const Header* host = find_header(s.headers, "host");
  const std::string authority = host ? host->value : key_.host;
  std::string why;
  const int32_t id = h2_->submit_request(method, key_.tls ? "https" : "http", authority, s.target, headers,
                                         std::move(body), &why, s.body_stream, extended_protocol);
  if (id < 0) {
    ex->connection.reset();
    engine_.exchange_failed(ex, Error{ErrorCode::kInvalidOption, Stage::kWrite, "invalid request: " + why},
                            false);
    return;
  }
  ex->stream_id = id;
  if (streams_started_++ > 0 && !ex->reused_connection) ex->reused_connection = true;
  engine_.count_exchange(ex->reused_connection);
  // HTTP/2 sends the request as soon as a stream slot allows: its head is awaited from now on, or
  // once a streamed body is complete (on_request_body_sent): the upload is no wait for the head.
  // An extended CONNECT stays open both ways: its 200 is awaited at once.
  if (!s.body_stream || !extended_protocol.empty()) engine_.enter_stage(ex, Stage::kHeaders);
  Exchange& placed = *ex;
  streams_[id] = std::move(ex);
  feed_http2_upload(placed);
  account();
  flush_http2();
}

// Firefox decides on the server's first SETTINGS: RFC 8441 allowed -> a stream of this connection;
// not allowed -> a connection of its own with HTTP/1.1. Until they arrive the exchange waits here,
// under its headers deadline (and timeout_ms).
void Connection::place_websocket(std::shared_ptr<Exchange> ex) {
  idle_timer_.cancel();
  ex->connection = shared_from_this();
  if (!h2_->remote_settings_received()) {
    engine_.enter_stage(ex, Stage::kHeaders);
    awaiting_settings_.push_back(std::move(ex));
    return;
  }
  if (h2_->remote_allows_extended_connect()) {
    submit_extended_connect(std::move(ex));
    return;
  }
  ex->connection.reset();
  engine_.retry_websocket_over_http1(ex);
  if (streams_started_ == 0 && awaiting_settings_.empty()) {
    // Firefox drops the connection it opened for its WebSocket when that cannot carry it; so do
    // we, unless it has carried other streams since. Not from inside a session call: after the
    // current handler.
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->streams_started_ == 0 && self->awaiting_settings_.empty()) self->retire();
    });
  }
}

void Connection::on_first_settings() {
  auto waiting = std::move(awaiting_settings_);
  awaiting_settings_.clear();
  for (auto& ex : waiting) {
    if (ex->done) continue;
    place_websocket(std::move(ex));
  }
}

// RFC 8441 §4/§5: CONNECT with :protocol websocket, no Sec-WebSocket-Key (nor Host, Connection,
// Upgrade: the session drops those); the rest of the list as Firefox orders it. A 200 opens it.
void Connection::submit_extended_connect(std::shared_ptr<Exchange> ex) {
  HeaderList headers;
  headers.reserve(ex->spec.headers.size());
  for (const Header& h : ex->spec.headers) {
    if (!iequals(h.name, "sec-websocket-key")) headers.push_back(h);
  }
  open_stream(std::move(ex), "CONNECT", headers, {}, "websocket");
}

void Connection::fail_awaiting_settings(const Error& error) {
  auto waiting = std::move(awaiting_settings_);
  awaiting_settings_.clear();
  for (auto& ex : waiting) {
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
}

void Connection::feed_http2_upload(Exchange& ex) {
  if (!h2_ || !ex.spec.body_stream || ex.upload_end_given) return;
  while (!ex.upload.empty()) {
    std::string piece = std::move(ex.upload.front());
    ex.upload.pop_front();
    ex.upload_taken += piece.size();
    const bool end = ex.upload_ended && ex.upload.empty();
    h2_->append_request_body(ex.stream_id, piece, end);
    if (end) ex.upload_end_given = true;
  }
  if (ex.upload_ended && !ex.upload_end_given) {
    h2_->append_request_body(ex.stream_id, {}, true);
    ex.upload_end_given = true;
  }
}

void Connection::on_request_body_sent(int32_t stream, size_t bytes, bool last) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  it->second->upload_sent_unreported += bytes;
  if (bytes > 0) http2_sent_pending_ = true;
  if (last && it->second->stage == Stage::kWrite) engine_.enter_stage(it->second, Stage::kHeaders);
}

void Connection::report_http2_sent() {
  http2_sent_pending_ = false;
  for (auto& [id, ex] : streams_) {
    if (ex->upload_sent_unreported == 0) continue;
    engine_.emit(sent_event(ex->spec.id, ex->upload_sent_unreported));
    ex->upload_sent_unreported = 0;
  }
}

void Connection::flush_http2() {
  if (closed_ || writing_ || in_session_ > 0 || !h2_) return;
  write_buffer_.clear();
  ++in_session_;
  const bool any = h2_->produce(write_buffer_, kHttp2WriteSlice);
  --in_session_;
  if (http2_sent_pending_) report_http2_sent();
  if (!any) {
    if (h2_->failed() || (!h2_->want_read() && !h2_->want_write())) {
      close(h2_->failed() ? "the HTTP/2 session failed" : "the HTTP/2 session ended");
    }
    return;
  }
  writing_ = true;
  with_stream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(write_buffer_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                        self->on_write_http2(ec, n);
                      });
  });
}

void Connection::on_write_http2(const asio::error_code& ec, size_t bytes) {
  writing_ = false;
  if (closed_) return;
  engine_.count_io(0, bytes);
  if (ec) {
    fail_streams(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
                       "the connection failed while sending: " + ec.message()});
    close();
    return;
  }
  flush_http2();
}

void Connection::on_read_http2(const asio::error_code& ec, size_t bytes) {
  if (ec) {
    const std::string what = is_eof(ec) ? "the server closed the connection" : ec.message();
    fail_streams(Error{ErrorCode::kConnectionClosed, Stage::kHeaders, what});
    close();
    return;
  }
  engine_.count_io(bytes, 0);
  // Any byte from the server shows the session is alive; the next PING is due an interval on.
  last_read_at_ = SteadyClock::now();
  if (ping_outstanding_) {
    ping_outstanding_ = false;
    arm_ping(std::chrono::milliseconds(engine_.options.ping_interval_ms));
  }
  std::string why;
  ++in_session_;
  auto self = shared_from_this();  // callbacks may drop the engine's references
  const bool ok = h2_->receive(std::string_view(read_buffer_.data(), bytes), &why);
  --in_session_;
  if (!ok) {
    fail_streams(Error{ErrorCode::kProtocol, Stage::kHeaders, "HTTP/2: " + why});
    close();
    return;
  }
  // Bursts of body bytes, per stream, once per read.
  for (auto& [id, ex] : streams_) {
    if (!ex->decode_error.empty()) {
      h2_->reset_stream(id);
      continue;
    }
    if (!ex->spec.whole_body) flush_body(*ex);
  }
  if (!awaiting_settings_.empty() && h2_->remote_settings_received()) on_first_settings();
  flush_http2();
  if (!closed_) read_more();
}

// The connection is lost: every stream fails with `error`, except that those the server never saw
// (as the session knows) are retried elsewhere.
void Connection::fail_streams(const Error& error) {
  if (!h2_) return;
  engine_.http2_unusable(this);
  // The session reports each open stream closed, with which of them never reached the server
  // (those may be retried elsewhere).
  fail_awaiting_settings(error);
  connection_error_ = &error;
  ++in_session_;
  h2_->close_all_streams(http2::kInternalError);
  --in_session_;
  connection_error_ = nullptr;
  // Anything the session did not report (it should report all) fails here.
  auto left = std::move(streams_);
  streams_.clear();
  for (auto& [id, ex] : left) {
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
  account();
}

void Connection::arm_http2_idle() {
  account();
  if (closed_ || !streams_.empty()) return;
  idle_timer_.expires_after(std::chrono::milliseconds(engine_.options.idle_timeout_ms));
  idle_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    self->on_idle_timeout(ec);
  });
}

// Keep-alive: a PING after ping_interval_ms without a byte from the server; no byte (the ACK or
// anything else) within ping_timeout_ms and the session is dead. One timer serves both waits.
void Connection::arm_ping(SteadyClock::duration after) {
  ping_timer_.expires_after(after);
  ping_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    self->on_ping_timer(ec);
  });
}

void Connection::on_ping_timer(const asio::error_code& ec) {
  if (ec || closed_ || !h2_) return;
  const auto now = SteadyClock::now();
  const auto interval = std::chrono::milliseconds(engine_.options.ping_interval_ms);
  const auto timeout =
      std::chrono::milliseconds(std::max<uint64_t>(engine_.options.ping_timeout_ms, 1));
  if (ping_outstanding_) {
    if (now - ping_sent_at_ < timeout) {
      arm_ping(timeout - (now - ping_sent_at_));
      return;
    }
    // Dead: requests it never sent go elsewhere (refused, retryable); the others fail.
    engine_.count_ping_timeout();
    auto self = shared_from_this();  // failing the streams may drop the engine's references
    fail_streams(Error{ErrorCode::kConnectionClosed, Stage::kHeaders,
                       "the HTTP/2 connection did not answer a PING within " +
                           std::to_string(engine_.options.ping_timeout_ms) + " ms"});
    close("the HTTP/2 connection did not answer a PING");
    return;
  }
  const auto quiet = now - last_read_at_;
  if (quiet < interval) {
    arm_ping(interval - quiet);
    return;
  }
  h2_->submit_ping();
  ping_outstanding_ = true;
  ping_sent_at_ = now;
  flush_http2();
  if (!closed_) arm_ping(timeout);
}

void Connection::on_head(int32_t stream, ResponseHead&& head) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  Exchange& ex = *it->second;
  const bool opened = ex.spec.upgrade && head.status == 200;
  begin_response(ex, std::move(head));
  if (opened) {
    // The extended CONNECT succeeded: the stream is the WebSocket's byte pipe now (as after a
    // 101 on HTTP/1.1); the deadlines were for the handshake.
    ex.upgraded = true;
    ex.deadline.cancel();
    ex.phase_timer.cancel();
    ex.phase = Phase::kNone;
  }
}

void Connection::on_data(int32_t stream, std::string_view bytes) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    h2_->consume(stream, bytes.size());  // a stream we gave up on: keep the connection window open
    return;
  }
  Exchange& ex = *it->second;
  append_body(ex, bytes);
  if (ex.paused) {
    ex.held_bytes += bytes.size();
  } else {
    h2_->consume(stream, bytes.size());
  }
}

void Connection::on_stream_closed(int32_t stream, const http2::StreamClose& close) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  auto ex = std::move(it->second);
  streams_.erase(it);
  ex->connection.reset();
  if (!close.reset_reason.empty()) {
    // We reset the stream: the server passed a limit (header list, interim responses).
    engine_.exchange_failed(ex, Error{ErrorCode::kProtocol, ex->stage, "HTTP/2: " + close.reset_reason}, false);
  } else if (close.response_complete && ex->head_seen) {
    if (ex->decoder && ex->decode_error.empty()) ex->decoder->finish(&ex->decode_error);
    if (!ex->decode_error.empty()) {
      engine_.exchange_failed(ex, body_failure(*ex), false);
    } else {
      flush_body(*ex);
      engine_.exchange_succeeded(ex);
    }
  } else if (!ex->decode_error.empty()) {
    engine_.exchange_failed(ex, body_failure(*ex), false);
  } else if (connection_error_) {
    Error error = *connection_error_;
    if (ex->head_seen) error.code = ErrorCode::kBodyTruncated;
    error.stage = ex->stage;
    if (close.retryable && !ex->head_seen) {
      engine_.exchange_refused(ex, std::move(error));
    } else {
      // As for HTTP/1.1: a request on a connection that had served before, lost before any of
      // its answer arrived, may have met a connection the server was already closing. Once more,
      // elsewhere (this session is out of the pool already), when the method allows it.
      if (!ex->head_seen && ex->reused_connection && idempotent(ex->spec.method)) {
        engine_.exchange_lost(ex, std::move(error));
      } else {
        engine_.exchange_failed(ex, std::move(error), false);
      }
    }
  } else if (close.retryable) {
    engine_.exchange_refused(ex, Error{ErrorCode::kConnectionClosed, ex->stage,
                                      "the server did not process the request (HTTP/2 code " +
                                          std::to_string(close.error_code) + ")"});
  } else {
    const ErrorCode code = ex->head_seen ? ErrorCode::kBodyTruncated : ErrorCode::kProtocol;
    engine_.exchange_failed(ex, Error{code, ex->stage,
                                      "the server reset the stream (HTTP/2 code " +
                                          std::to_string(close.error_code) + ")"},
                            false);
  }
  if (streams_.empty()) {
    arm_http2_idle();
  } else {
    account();
  }
}

// An extended CONNECT WebSocket whose server ended its side: as the server's FIN on an upgraded
// HTTP/1.1 connection (RFC 8441 §5: END_STREAM stands for the TCP close), it is over. Our side ends
// after what the caller already wrote; later writes are dropped (write_body after the end).
void Connection::on_remote_end(int32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  Exchange& ex = *it->second;
  if (!ex.upgraded || ex.upload_ended) return;
  ex.upload_ended = true;
  feed_http2_upload(ex);
}

void Connection::on_goaway(int32_t, uint32_t, std::string_view) {
  // No new streams here; those in flight finish or come back retryable.
  engine_.http2_unusable(this);
  account();
}

// ---- shared by both protocols ----

void Connection::resume(const std::shared_ptr<Exchange>& ex) {
  if (mode_ == Mode::kHttp2) {
    if (ex->held_bytes && h2_) {
      h2_->consume(ex->stream_id, ex->held_bytes);
      ex->held_bytes = 0;
      flush_http2();
    }
    return;
  }
  // Before the request is sent there is nothing to read yet (on_write starts reading).
  if (established_ && exchange_ == ex && ex->stage >= Stage::kHeaders) read_more();
}

void Connection::abandon(const std::shared_ptr<Exchange>& ex) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (*it == ex) {
      waiters_.erase(it);
      return;
    }
  }
  for (auto it = awaiting_settings_.begin(); it != awaiting_settings_.end(); ++it) {
    if (*it == ex) {
      awaiting_settings_.erase(it);
      if (streams_.empty() && awaiting_settings_.empty()) arm_http2_idle();
      return;
    }
  }
  if (mode_ == Mode::kHttp2 && ex->stream_id != 0) {
    if (streams_.erase(ex->stream_id)) {
      h2_->reset_stream(ex->stream_id);
      // Bytes held back for this stream still count against the connection window.
      if (ex->held_bytes) h2_->consume(ex->stream_id, ex->held_bytes);
      ex->held_bytes = 0;
      flush_http2();
      if (streams_.empty()) {
        arm_http2_idle();
      } else {
        account();
      }
    }
    return;
  }
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

void Connection::begin_response(Exchange& ex, ResponseHead&& head) {
  engine_.enter_stage(ex.shared_from_this(), Stage::kBody);
  ex.head_seen = true;
  if (ex.spec.decompress) {
    if (const Header* ce = find_header(head.headers, "content-encoding")) {
      // A body read whole stops at the smaller cap as it is decoded, not after a chunk's output.
      uint64_t cap = ex.spec.max_decoded_bytes;
      const uint64_t whole_cap = ex.spec.whole_body ? ex.spec.max_response_bytes : 0;
      ex.decoder_capped_by_response = whole_cap != 0 && (cap == 0 || whole_cap < cap);
      if (ex.decoder_capped_by_response) cap = whole_cap;
      ex.decoder = BodyDecoder::for_encoding(ce->value, cap);
    }
  }
  Event e;
  e.kind = Event::Kind::kHead;
  e.id = ex.spec.id;
  e.head = std::move(head);
  e.connection = info(ex);
  engine_.emit(std::move(e));
}

void Connection::append_body(Exchange& ex, std::string_view bytes) {
  ex.last_body_at = SteadyClock::now();  // body_idle_timeout_ms counts from the last byte
  if (!ex.decode_error.empty()) return;   // given up: the rest is read only to be dropped
  if (ex.decoder) {
    if (!ex.decoder->decode(bytes, ex.pending_body, &ex.decode_error)) {
      if (ex.decoder_capped_by_response && ex.decoder->cap_exceeded()) {
        ex.body_too_large = true;
        ex.decode_error = body_too_large_message(ex.spec.max_response_bytes);
      } else if (ex.decode_error.empty()) {
        ex.decode_error = "the body could not be decoded";
      }
      std::string().swap(ex.pending_body);
    }
    return;
  }
  // A body read whole lands in memory: it may not pass max_response_bytes (streams are not
  // limited: their consumer bounds what is read ahead). Checked before the bytes are copied.
  if (ex.spec.whole_body && ex.spec.max_response_bytes != 0 &&
      ex.body_bytes + bytes.size() > ex.spec.max_response_bytes) {
    ex.body_too_large = true;
    ex.decode_error = body_too_large_message(ex.spec.max_response_bytes);
    std::string().swap(ex.pending_body);
    return;
  }
  ex.body_bytes += bytes.size();
  if (ex.pending_body.empty()) {
    // Size the burst buffer once, from what the response says is left (bounded).
    const int64_t length = mode_ == Mode::kHttp1 ? parser_.content_length() : -1;
    const int64_t cap = ex.spec.whole_body ? kWholeBodyReserveBytes : static_cast<int64_t>(kBodyFlushBytes);
    const size_t want = length > 0 ? static_cast<size_t>(std::min<int64_t>(length, cap)) : bytes.size();
    ex.pending_body.reserve(std::max(want, bytes.size()));
  }
  ex.pending_body.append(bytes);
}

void Connection::flush_body(Exchange& ex) {
  if (ex.pending_body.empty()) return;
  if (ex.spec.consumer_credit && !ex.spec.whole_body) {
    ex.unacked += ex.pending_body.size();
    if (ex.unacked >= kConsumerCreditBytes) ex.paused = true;  // until the consumer asks for more
  }
  engine_.emit(body_event(ex.spec.id, std::move(ex.pending_body)));
  ex.pending_body.clear();
}

void Connection::fail(Error error, bool nothing_received) {
  auto ex = std::move(exchange_);
  exchange_.reset();
  hand_back_waiters(&error);
  close();
  if (!ex) return;
  ex->connection.reset();
  const bool retryable = reused_ && nothing_received && idempotent(ex->spec.method);
  engine_.exchange_failed(ex, std::move(error), retryable);
}

void Connection::close(const char* why) {
  if (closed_) return;
  closed_ = true;
  asio::error_code ignored;
  resolver_.cancel();
  idle_timer_.cancel();
  ping_timer_.cancel();
  socket_.close(ignored);
  auto self = shared_from_this();
  account();
  engine_.connection_closed(this);
  const Error error{ErrorCode::kConnectionClosed, Stage::kEngine, why};
  if (auto ex = std::move(exchange_)) {
    exchange_.reset();
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
  hand_back_waiters(&error);
  fail_awaiting_settings(error);
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, ex] : streams) {
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
  account();
}

ConnectionInfo Connection::info(const Exchange& ex) const {
  ConnectionInfo i;
  i.connection_id = id_;
  i.reused = ex.reused_connection;
  if (SSL* ssl = target_ssl()) {
    i.alpn = negotiated_alpn(ssl);
    i.tls_version = negotiated_version(ssl);
    i.cipher = negotiated_cipher(ssl);
    i.tls_resumed = tls_resumed_;
  }
  return i;
}

// http1::ResponseListener

void Connection::on_head(ResponseHead&& head) {
  if (exchange_->spec.upgrade && head.status == 101) exchange_->upgraded = true;
  begin_response(*exchange_, std::move(head));
}

void Connection::on_body(std::string_view bytes) { append_body(*exchange_, bytes); }

void Connection::on_complete() {
  response_complete_ = true;
  Exchange& ex = *exchange_;
  if (ex.decoder && ex.decode_error.empty()) ex.decoder->finish(&ex.decode_error);
}

}  // namespace ctn
