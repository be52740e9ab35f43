#include "core/http2_channel.h"

#include <algorithm>
#include <utility>

#include "core/deadlines.h"
#include "core/engine_impl.h"

namespace ctn {

namespace {

// HTTP/2 output is written in slices of about this size, so one large upload does not hold up
// every other stream's frames for long.
constexpr size_t kHttp2WriteSlice = 256 * 1024;

}  // namespace

Http2Channel::Http2Channel(ChannelHost& host)
    : host_(host), engine_(host.engine()), ping_timer_(host.engine().io) {}

bool Http2Channel::start(const Profile& profile, Error* error) {
  http2::ClientSession::Options options;
  options.manual_flow_control = true;        // back-pressure: windows reopen as JS takes the bytes
  http2::SessionListener& listener = *this;  // a private base: converted here, where it is accessible
  session_ = std::make_unique<http2::ClientSession>(profile.http2, listener, options);
  std::string why;
  if (!session_->start(&why)) {
    *error = Error{ErrorCode::kUnsupportedFingerprint, Stage::kTls, "HTTP/2 profile: " + why};
    return false;
  }
  return true;
}

void Http2Channel::begin(std::shared_ptr<Exchange> first, std::vector<std::shared_ptr<Exchange>> waiters) {
  last_read_at_ = SteadyClock::now();
  if (engine_.options.ping_interval_ms > 0) {
    arm_ping(std::chrono::milliseconds(engine_.options.ping_interval_ms));
  }
  submit(std::move(first));
  for (auto& w : waiters) {
    if (w->done) continue;
    w->reused_connection = true;  // it waited for this connection's handshake instead of its own
    submit(std::move(w));
  }
  host_.account();
  read();
}

bool Http2Channel::can_take_stream() const { return session_ && session_->can_submit(); }

bool Http2Channel::accepts_streams() const {
  return session_ && !session_->failed() && !session_->goaway_received();
}

void Http2Channel::read() {
  if (host_.closed() || reading_) return;
  reading_ = true;
  host_.transport().with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(host_.transport().read_buffer()),
                           [this, keep = host_.self()](const asio::error_code& ec, size_t n) {
                             reading_ = false;
                             if (host_.closed()) return;
                             on_read(ec, n);
                           });
  });
}

void Http2Channel::upload_available(Exchange& ex) {
  if (ex.stream_id != 0 && streams_.count(ex.stream_id)) {
    feed_upload(ex);
    flush();
  }
}

void Http2Channel::resume(Exchange& ex) {
  // What gathered while paused goes first; if it uses up the new credit, the window stays shut.
  if (!ex.spec.whole_body) host_.sink().flush(ex);
  if (ex.paused) return;
  if (ex.held_bytes && session_) {
    session_->consume(ex.stream_id, ex.held_bytes);
    ex.held_bytes = 0;
    flush();
  }
}

bool Http2Channel::abandon(const std::shared_ptr<Exchange>& ex) {
  for (auto it = awaiting_settings_.begin(); it != awaiting_settings_.end(); ++it) {
    if (*it == ex) {
      awaiting_settings_.erase(it);
      if (streams_.empty() && awaiting_settings_.empty()) host_.became_idle();
      return true;
    }
  }
  if (ex->stream_id == 0) return false;
  if (streams_.erase(ex->stream_id)) {
    session_->reset_stream(ex->stream_id);
    // Bytes held back for this stream still count against the connection window.
    if (ex->held_bytes) session_->consume(ex->stream_id, ex->held_bytes);
    ex->held_bytes = 0;
    flush();
    stream_count_changed();
  }
  return true;
}

void Http2Channel::terminate() {
  if (!session_) return;
  session_->terminate();
  flush();
}

void Http2Channel::fail_all(const Error& error) {
  fail_awaiting_settings(error);
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, ex] : streams) {
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
}

void Http2Channel::stream_count_changed() {
  if (streams_.empty()) {
    host_.became_idle();
  } else {
    host_.account();
  }
}

void Http2Channel::submit(std::shared_ptr<Exchange> ex) {
  if (ex->spec.upgrade) {
    place_websocket(std::move(ex));
    return;
  }
  const RequestSpec& s = ex->spec;
  open_stream(std::move(ex), s.method, s.headers, s.body, {});
}

void Http2Channel::open_stream(std::shared_ptr<Exchange> ex, std::string_view method,
                               const HeaderList& headers, std::string body,
                               std::string_view extended_protocol) {
  host_.became_busy();
  ex->connection = host_.self();
  ex->reset_response();
  engine_.enter_stage(ex, Stage::kWrite);
  const RequestSpec& s = ex->spec;
  const Header* host_header = find_header(s.headers, "host");
  const std::string authority = host_header ? host_header->value : host_.pool_key().host;
  std::string why;
  const int32_t id =
      session_->submit_request(method, host_.pool_key().tls ? "https" : "http", authority, s.target, headers,
                               std::move(body), &why, s.body_stream, extended_protocol);
  if (id < 0) {
    ex->connection.reset();
    engine_.exchange_failed(ex, Error{ErrorCode::kInvalidOption, Stage::kWrite, "invalid request: " + why},
                            false);
    return;
  }
  ex->stream_id = id;
  if (streams_started_++ > 0 && !ex->reused_connection) ex->reused_connection = true;
  engine_.counters.count_exchange(ex->reused_connection);
  // HTTP/2 sends the request as soon as a stream slot allows: its head is awaited from now on, or
  // once a streamed body is complete (on_request_body_sent): the upload is no wait for the head.
  // An extended CONNECT stays open both ways: its 200 is awaited at once.
  if (!s.body_stream || !extended_protocol.empty()) engine_.enter_stage(ex, Stage::kHeaders);
  Exchange& placed = *ex;
  streams_[id] = std::move(ex);
  feed_upload(placed);
  host_.account();
  flush();
}

// Firefox decides on the server's first SETTINGS: RFC 8441 allowed -> a stream of this connection;
// not allowed -> a connection of its own with HTTP/1.1. Until they arrive the exchange waits here,
// under its headers deadline (and timeout_ms).
void Http2Channel::place_websocket(std::shared_ptr<Exchange> ex) {
  host_.became_busy();
  ex->connection = host_.self();
  if (!session_->remote_settings_received()) {
    engine_.enter_stage(ex, Stage::kHeaders);
    awaiting_settings_.push_back(std::move(ex));
    return;
  }
  if (session_->remote_allows_extended_connect()) {
    submit_extended_connect(std::move(ex));
    return;
  }
  ex->connection.reset();
  engine_.retry_websocket_over_http1(ex);
  if (streams_started_ == 0 && awaiting_settings_.empty()) {
    // Firefox drops the connection it opened for its WebSocket when that cannot carry it; so do
    // we, unless it has carried other streams since. Not from inside a session call: after the
    // current handler.
    asio::post(engine_.io, [this, keep = host_.self()] {
      if (streams_started_ == 0 && awaiting_settings_.empty()) host_.retire();
    });
  }
}

void Http2Channel::on_first_settings() {
  auto waiting = std::move(awaiting_settings_);
  awaiting_settings_.clear();
  for (auto& ex : waiting) {
    if (ex->done) continue;
    place_websocket(std::move(ex));
  }
}

// RFC 8441 §4/§5: CONNECT with :protocol websocket, no Sec-WebSocket-Key (nor Host, Connection,
// Upgrade: the session drops those); the rest of the list as Firefox orders it. A 200 opens it.
void Http2Channel::submit_extended_connect(std::shared_ptr<Exchange> ex) {
  HeaderList headers;
  headers.reserve(ex->spec.headers.size());
  for (const Header& h : ex->spec.headers) {
    if (!iequals(h.name, "sec-websocket-key")) headers.push_back(h);
  }
  open_stream(std::move(ex), "CONNECT", headers, {}, "websocket");
}

void Http2Channel::fail_awaiting_settings(const Error& error) {
  auto waiting = std::move(awaiting_settings_);
  awaiting_settings_.clear();
  for (auto& ex : waiting) {
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
}

void Http2Channel::feed_upload(Exchange& ex) {
  if (!session_ || !ex.spec.body_stream || ex.upload_end_given) return;
  while (!ex.upload.empty()) {
    std::string piece = std::move(ex.upload.front());
    ex.upload.pop_front();
    ex.upload_taken += piece.size();
    const bool end = ex.upload_ended && ex.upload.empty();
    session_->append_request_body(ex.stream_id, piece, end);
    if (end) ex.upload_end_given = true;
  }
  if (ex.upload_ended && !ex.upload_end_given) {
    session_->append_request_body(ex.stream_id, {}, true);
    ex.upload_end_given = true;
  }
}

void Http2Channel::on_request_body_sent(int32_t stream, size_t bytes, bool last) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  if (bytes > 0) {
    if (it->second->upload_sent_unreported == 0) sent_unreported_.push_back(stream);
    it->second->upload_sent_unreported += bytes;
  }
  if (last && it->second->stage == Stage::kWrite) engine_.enter_stage(it->second, Stage::kHeaders);
}

void Http2Channel::report_sent() {
  auto ids = std::move(sent_unreported_);
  sent_unreported_.clear();
  for (int32_t id : ids) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->upload_sent_unreported == 0) continue;
    Exchange& ex = *it->second;
    engine_.emit(sent_event(ex.spec.id, ex.upload_sent_unreported));
    ex.upload_sent_unreported = 0;
  }
}

void Http2Channel::flush() {
  if (host_.closed() || writing_ || in_session_ > 0 || !session_) return;
  write_buffer_.clear();
  ++in_session_;
  const bool any = session_->produce(write_buffer_, kHttp2WriteSlice);
  --in_session_;
  if (!sent_unreported_.empty()) report_sent();
  if (!any) {
    if (session_->failed() || (!session_->want_read() && !session_->want_write())) {
      host_.close(session_->failed() ? "the HTTP/2 session failed" : "the HTTP/2 session ended");
    }
    return;
  }
  writing_ = true;
  host_.transport().with_stream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(write_buffer_),
                      [this, keep = host_.self()](const asio::error_code& ec, size_t n) { on_write(ec, n); });
  });
}

void Http2Channel::on_write(const asio::error_code& ec, size_t bytes) {
  writing_ = false;
  if (host_.closed()) return;
  engine_.counters.count_io(0, bytes);
  if (ec) {
    fail_streams(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
                       "the connection failed while sending: " + ec.message()});
    host_.close();
    return;
  }
  flush();
}

void Http2Channel::on_read(const asio::error_code& ec, size_t bytes) {
  if (ec) {
    const std::string what = is_eof(ec) ? "the server closed the connection" : ec.message();
    fail_streams(Error{ErrorCode::kConnectionClosed, Stage::kHeaders, what});
    host_.close();
    return;
  }
  engine_.counters.count_io(bytes, 0);
  // Any byte from the server shows the session is alive; the next PING is due an interval on.
  last_read_at_ = SteadyClock::now();
  if (ping_outstanding_) {
    ping_outstanding_ = false;
    arm_ping(std::chrono::milliseconds(engine_.options.ping_interval_ms));
  }
  std::string why;
  ++in_session_;
  auto self = host_.self();  // callbacks may drop the engine's references
  const bool ok = session_->receive(std::string_view(host_.transport().read_buffer().data(), bytes), &why);
  --in_session_;
  if (!ok) {
    fail_streams(Error{ErrorCode::kProtocol, Stage::kHeaders, "HTTP/2: " + why});
    host_.close();
    return;
  }
  flush_touched();
  if (!awaiting_settings_.empty() && session_->remote_settings_received()) on_first_settings();
  flush();
  if (!host_.closed()) read();
}

// Bursts of body bytes, per stream, once per read.
void Http2Channel::flush_touched() {
  if (touched_.empty()) return;
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (int32_t id : touched_) {
    auto it = streams_.find(id);
    if (it == streams_.end()) continue;  // closed in the same read: settled already
    Exchange& ex = *it->second;
    if (ResponseSink::failed(ex)) {
      session_->reset_stream(id);
      continue;
    }
    if (!ex.spec.whole_body) host_.sink().flush(ex);
  }
  touched_.clear();
}

// The connection is lost: every stream fails with `error`, except that those the server never saw
// (as the session knows) are retried elsewhere.
void Http2Channel::fail_streams(const Error& error) {
  if (!session_) return;
  host_.unusable();
  // The session reports each open stream closed, with which of them never reached the server
  // (those may be retried elsewhere).
  fail_awaiting_settings(error);
  connection_error_ = &error;
  ++in_session_;
  session_->close_all_streams(http2::kInternalError);
  --in_session_;
  connection_error_ = nullptr;
  // Anything the session did not report (it should report all) fails here.
  auto left = std::move(streams_);
  streams_.clear();
  for (auto& [id, ex] : left) {
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
  host_.account();
}

// Keep-alive: a PING after ping_interval_ms without a byte from the server; no byte (the ACK or
// anything else) within ping_timeout_ms and the session is dead. One timer serves both waits.
void Http2Channel::arm_ping(SteadyClock::duration after) {
  ping_timer_.expires_after(after);
  ping_timer_.async_wait([this, keep = host_.self()](const asio::error_code& ec) { on_ping_timer(ec); });
}

void Http2Channel::on_ping_timer(const asio::error_code& ec) {
  if (ec || host_.closed() || !session_) return;
  const auto now = SteadyClock::now();
  const auto interval = std::chrono::milliseconds(engine_.options.ping_interval_ms);
  const auto timeout = std::chrono::milliseconds(std::max<uint64_t>(engine_.options.ping_timeout_ms, 1));
  if (ping_outstanding_) {
    if (now - ping_sent_at_ < timeout) {
      arm_ping(timeout - (now - ping_sent_at_));
      return;
    }
    // Dead: requests it never sent go elsewhere (refused, retryable); the others fail.
    engine_.counters.count_ping_timeout();
    auto self = host_.self();  // failing the streams may drop the engine's references
    fail_streams(Error{ErrorCode::kConnectionClosed, Stage::kHeaders,
                       "the HTTP/2 connection did not answer a PING within " +
                           std::to_string(engine_.options.ping_timeout_ms) + " ms"});
    host_.close("the HTTP/2 connection did not answer a PING");
    return;
  }
  const auto quiet = now - last_read_at_;
  if (quiet < interval) {
    arm_ping(interval - quiet);
    return;
  }
  session_->submit_ping();
  ping_outstanding_ = true;
  ping_sent_at_ = now;
  flush();
  if (!host_.closed()) arm_ping(timeout);
}

void Http2Channel::on_head(int32_t stream, ResponseHead&& head) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  Exchange& ex = *it->second;
  const bool opened = ex.spec.upgrade && head.status == 200;
  host_.begin_response(ex, std::move(head));
  touched_.push_back(stream);
  if (opened) {
    // The extended CONNECT succeeded: the stream is the WebSocket's byte pipe now (as after a
    // 101 on HTTP/1.1); the deadlines were for the handshake.
    ex.upgraded = true;
    Deadlines::cancel(ex);
  }
}

void Http2Channel::on_data(int32_t stream, std::string_view bytes) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    session_->consume(stream, bytes.size());  // a stream we gave up on: keep the connection window open
    return;
  }
  Exchange& ex = *it->second;
  host_.sink().append(ex, bytes);
  touched_.push_back(stream);
  if (ex.paused) {
    ex.held_bytes += bytes.size();
  } else {
    session_->consume(stream, bytes.size());
  }
}

void Http2Channel::on_stream_closed(int32_t stream, const http2::StreamClose& close) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  auto ex = std::move(it->second);
  streams_.erase(it);
  ex->connection.reset();
  // Bytes held back while its consumer was paused are all in hand now: the connection window gets
  // them back (other streams go on; the response waits in the exchange for its consumer).
  if (ex->held_bytes) session_->consume(stream, ex->held_bytes);
  ex->held_bytes = 0;
  if (!close.reset_reason.empty()) {
    // We reset the stream: the server passed a limit (header list, interim responses).
    engine_.exchange_failed(ex, Error{ErrorCode::kProtocol, ex->stage, "HTTP/2: " + close.reset_reason},
                            false);
  } else if (close.response_complete && ex->head_seen) {
    host_.sink().finish(*ex);
    if (ResponseSink::failed(*ex)) {
      engine_.exchange_failed(ex, ResponseSink::failure(*ex), false);
    } else {
      host_.sink().flush(*ex);
      ++streams_served_;
      engine_.exchange_succeeded(ex);
    }
  } else if (ResponseSink::failed(*ex)) {
    engine_.exchange_failed(ex, ResponseSink::failure(*ex), false);
  } else if (connection_error_) {
    Error error = *connection_error_;
    if (ex->head_seen) error.code = ErrorCode::kBodyTruncated;
    error.stage = ex->stage;
    if (close.retryable && !ex->head_seen) {
      engine_.exchange_refused(ex, std::move(error), made_progress());
    } else {
      // As for HTTP/1.1: a request on a connection that had served before, lost before any of
      // its answer arrived, may have met a connection the server was already closing. Once more,
      // elsewhere (this session is out of the pool already), when the method allows it.
      if (!ex->head_seen && ex->reused_connection && idempotent_method(ex->spec.method)) {
        engine_.exchange_lost(ex, std::move(error));
      } else {
        engine_.exchange_failed(ex, std::move(error), false);
      }
    }
  } else if (close.retryable) {
    engine_.exchange_refused(ex,
                             Error{ErrorCode::kConnectionClosed, ex->stage,
                                   "the server did not process the request (HTTP/2 code " +
                                       std::to_string(close.error_code) + ")"},
                             made_progress());
  } else {
    const ErrorCode code = ex->head_seen ? ErrorCode::kBodyTruncated : ErrorCode::kProtocol;
    engine_.exchange_failed(
        ex,
        Error{code, ex->stage,
              "the server reset the stream (HTTP/2 code " + std::to_string(close.error_code) + ")"},
        false);
  }
  stream_count_changed();
}

// An extended CONNECT WebSocket whose server ended its side: as the server's FIN on an upgraded
// HTTP/1.1 connection (RFC 8441 §5: END_STREAM stands for the TCP close), it is over. Our side ends
// after what the caller already wrote; later writes are dropped (write_body after the end).
void Http2Channel::on_remote_end(int32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  Exchange& ex = *it->second;
  if (!ex.upgraded || ex.upload_ended) return;
  ex.upload_ended = true;
  feed_upload(ex);
}

void Http2Channel::on_goaway(int32_t last_stream_id, uint32_t, std::string_view) {
  // The server processes our streams up to this one: the session is serving, not refusing.
  if (last_stream_id > 0) goaway_serves_some_ = true;
  // No new streams here; those in flight finish or come back retryable.
  host_.unusable();
  host_.account();
}

}  // namespace ctn
