#include <sys/socket.h>

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

}  // namespace

Connection::Connection(Engine::Impl& engine, PoolKey key, uint64_t id)
    : engine_(engine),
      key_(std::move(key)),
      id_(id),
      resolver_(engine.io),
      socket_(engine.io),
      idle_timer_(engine.io),
      parser_(*this),
      read_buffer_(kReadBufferSize) {}

Connection::~Connection() {
  asio::error_code ignored;
  socket_.close(ignored);
}

void Connection::open(std::shared_ptr<Exchange> exchange) {
  exchange_ = std::move(exchange);
  exchange_->connection = shared_from_this();
  exchange_->stage = Stage::kDns;
  resolver_.async_resolve(key_.host, std::to_string(key_.port),
                          [self = shared_from_this()](const asio::error_code& ec,
                                                      asio::ip::tcp::resolver::results_type r) {
                            self->on_resolve(ec, std::move(r));
                          });
}

void Connection::on_resolve(const asio::error_code& ec,
                            asio::ip::tcp::resolver::results_type results) {
  if (closed_ || !exchange_) return;
  if (ec) {
    fail(Error{ErrorCode::kDns, Stage::kDns,
               "DNS lookup of " + key_.host + " failed: " + ec.message()},
         false);
    return;
  }
  exchange_->stage = Stage::kConnect;
  asio::async_connect(socket_, results,
                      [self = shared_from_this()](const asio::error_code& ec,
                                                  const asio::ip::tcp::endpoint&) {
                        self->on_connect(ec);
                      });
}

void Connection::on_connect(const asio::error_code& ec) {
  if (closed_ || !exchange_) return;
  if (ec) {
    const bool refused = ec == asio::error::connection_refused;
    fail(Error{refused ? ErrorCode::kConnectRefused : ErrorCode::kConnect, Stage::kConnect,
               "connect to " + key_.host + ":" + std::to_string(key_.port) +
                   " failed: " + ec.message()},
         false);
    return;
  }
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  tcp_open_ = true;
  engine_.connection_established(false);
  if (!key_.tls) {
    established_ = true;
    write_request();
    return;
  }
  Error error;
  const TlsOptions options{key_.verify, key_.http1_only};
  tls_context_ = engine_.tls_contexts().get(*exchange_->profile, options, &error);
  if (!tls_context_) {
    fail(std::move(error), false);
    return;
  }
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
  if (!prepare_connection(tls_->native_handle(), *exchange_->profile, options, key_.server_name,
                          &error)) {
    fail(std::move(error), false);
    return;
  }
  exchange_->stage = Stage::kTls;
  tls_->async_handshake(asio::ssl::stream_base::client,
                        [self = shared_from_this()](const asio::error_code& ec) {
                          self->on_handshake(ec);
                        });
}

void Connection::on_handshake(const asio::error_code& ec) {
  if (closed_ || !exchange_) return;
  if (ec) {
    const bool from_tls = ec.category() == asio::error::get_ssl_category();
    fail(classify_handshake_failure(tls_->native_handle(),
                                    from_tls ? static_cast<uint32_t>(ec.value()) : 0, ec.message()),
         false);
    return;
  }
  engine_.connection_established(true);
  established_ = true;
  write_request();
}

void Connection::run(std::shared_ptr<Exchange> exchange) {
  asio::error_code ignored;
  idle_timer_.cancel();
  exchange_ = std::move(exchange);
  exchange_->connection = shared_from_this();
  reused_ = true;
  write_request();
}

void Connection::write_request() {
  Exchange& ex = *exchange_;
  ex.stage = Stage::kWrite;
  parser_.reset(ex.spec.method == "HEAD");
  response_started_ = false;
  response_complete_ = false;
  pending_body_.clear();
  request_head_.clear();
  std::string why;
  http1::RequestHeadSpec head{ex.spec.method, ex.spec.target, &ex.spec.headers};
  if (!http1::write_request_head(head, request_head_, &why)) {
    fail(Error{ErrorCode::kInvalidOption, Stage::kWrite, "invalid request: " + why}, false);
    return;
  }
  std::array<asio::const_buffer, 2> buffers{asio::buffer(request_head_), asio::buffer(ex.spec.body)};
  with_stream([&](auto& stream) {
    asio::async_write(stream, buffers,
                      [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                        self->on_write(ec, n);
                      });
  });
}

void Connection::on_write(const asio::error_code& ec, size_t bytes) {
  if (closed_ || !exchange_) return;
  engine_.count_io(0, bytes);
  if (ec) {
    fail(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
               "the connection failed while sending the request: " + ec.message()},
         true);
    return;
  }
  exchange_->stage = Stage::kHeaders;
  read_more();
}

void Connection::read_more() {
  if (closed_ || reading_) return;
  if (exchange_ && exchange_->paused) return;
  reading_ = true;
  with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(read_buffer_),
                           [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                             self->on_read(ec, n);
                           });
  });
}

void Connection::on_read(const asio::error_code& ec, size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (!exchange_) {
    // Parked: the server closed the idle connection, or sent bytes nobody asked for.
    close();
    return;
  }
  if (ec) {
    if (is_eof(ec) && parser_.finish_eof()) {
      // Close-delimited body: on_complete has run.
      flush_body();
      finish_exchange();
      return;
    }
    const bool nothing = !response_started_;
    std::string what = is_eof(ec) ? "the server closed the connection" : ec.message();
    if (nothing) {
      fail(Error{ErrorCode::kConnectionClosed, exchange_->stage,
                 what + " before sending a response"},
           true);
    } else if (parser_.started() && exchange_->stage == Stage::kBody) {
      fail(Error{ErrorCode::kBodyTruncated, Stage::kBody, what + " before the body was complete"},
           false);
    } else {
      fail(Error{ErrorCode::kConnectionClosed, exchange_->stage,
                 what + " before the response head was complete"},
           false);
    }
    return;
  }
  engine_.count_io(bytes, 0);
  if (bytes > 0) response_started_ = true;
  const size_t used = parser_.feed(std::string_view(read_buffer_.data(), bytes));
  if (parser_.status() == http1::ResponseParser::Status::kError) {
    fail(Error{ErrorCode::kProtocol, exchange_->stage, "invalid HTTP response: " + parser_.error()},
         false);
    return;
  }
  if (!response_complete_ && exchange_->spec.whole_body) {
    read_more();
    return;
  }
  if (!response_complete_ && pending_body_.size() < kBodyFlushBytes && more_readable_now()) {
    read_more();
    return;
  }
  flush_body();
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
  const bool reuse = parser_.keep_alive() && !trailing_garbage_;
  engine_.exchange_succeeded(ex);
  if (reuse && !closed_) {
    engine_.connection_reusable(shared_from_this());
  } else {
    close();
  }
}

void Connection::resume() { read_more(); }

void Connection::park(uint64_t idle_timeout_ms) {
  idle_timer_.expires_after(std::chrono::milliseconds(idle_timeout_ms));
  idle_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    self->on_idle_timeout(ec);
  });
  read_more();
}

void Connection::on_idle_timeout(const asio::error_code& ec) {
  if (ec || closed_ || exchange_) return;
  close();
}

bool Connection::idle() const {
  if (exchange_ || !established_ || closed_) return false;
  // The watch read may not have run yet for a FIN that already arrived: ask the kernel.
  char probe;
  const ssize_t n = ::recv(const_cast<asio::ip::tcp::socket&>(socket_).native_handle(), &probe, 1,
                           MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Connection::fail(Error error, bool nothing_received) {
  auto ex = std::move(exchange_);
  exchange_.reset();
  close();
  if (!ex) return;
  ex->connection.reset();
  const bool retryable = reused_ && nothing_received && idempotent(ex->spec.method);
  engine_.exchange_failed(ex, std::move(error), retryable);
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  exchange_.reset();
  asio::error_code ignored;
  resolver_.cancel();
  idle_timer_.cancel();
  socket_.close(ignored);
  engine_.connection_closed(this, tcp_open_);
}

ConnectionInfo Connection::info() const {
  ConnectionInfo i;
  i.connection_id = id_;
  i.reused = reused_;
  if (tls_) {
    SSL* ssl = const_cast<asio::ssl::stream<asio::ip::tcp::socket&>&>(*tls_).native_handle();
    i.alpn = negotiated_alpn(ssl);
    i.tls_version = negotiated_version(ssl);
    i.cipher = negotiated_cipher(ssl);
  }
  return i;
}

void Connection::on_head(ResponseHead&& head) {
  exchange_->stage = Stage::kBody;
  Event e;
  e.kind = Event::Kind::kHead;
  e.id = exchange_->spec.id;
  e.head = std::move(head);
  e.connection = info();
  engine_.emit(std::move(e));
}

bool Connection::more_readable_now() {
  if (tls_ && SSL_pending(tls_->native_handle()) > 0) return true;
  asio::error_code ec;
  return socket_.available(ec) > 0 && !ec;
}

void Connection::flush_body() {
  if (pending_body_.empty()) return;
  Event e;
  e.kind = Event::Kind::kBody;
  e.id = exchange_->spec.id;
  e.body = std::move(pending_body_);
  pending_body_.clear();
  engine_.emit(std::move(e));
}

void Connection::on_body(std::string_view bytes) {
  if (pending_body_.empty()) {
    // Size the burst buffer once, from what the response says is left (bounded).
    const int64_t length = parser_.content_length();
    const int64_t cap = exchange_->spec.whole_body ? kWholeBodyReserveBytes : kBodyFlushBytes;
    const size_t want = length > 0 ? static_cast<size_t>(std::min<int64_t>(length, cap)) : bytes.size();
    pending_body_.reserve(std::max(want, bytes.size()));
  }
  pending_body_.append(bytes);
}

void Connection::on_complete() { response_complete_ = true; }

}  // namespace ctn
