#include "core/http1_channel.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

#include "core/deadlines.h"
#include "core/engine_impl.h"
#include "http1/request_writer.h"

namespace ctn {

namespace {

bool chunked_transfer(const HeaderList& headers) {
  const Header* te = find_header(headers, "transfer-encoding");
  if (!te) return false;
  std::string v = te->value;
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v.find("chunked") != std::string::npos;
}

// Pieces taken per streamed-body write: enough to fill a TLS record run, few enough to stay cheap.
constexpr size_t kUploadPiecesPerWrite = 64;

// A direct read (straight into the body) asks for what one read returns: a TLS record's plaintext
// through TLS, the read buffer's size on plain TCP. The body grows by that much before the read and
// shrinks back to what came, so asking for more than arrives only costs filling it.
constexpr size_t kTlsRecordPlaintextBytes = 16 * 1024;

}  // namespace

Http1Channel::Http1Channel(ChannelHost& host, const proxy::ProxyConfig* absolute_form_proxy)
    : host_(host), engine_(host.engine()), absolute_form_proxy_(absolute_form_proxy), parser_(*this) {}

void Http1Channel::start(std::shared_ptr<Exchange> ex) {
  exchange_ = std::move(ex);
  write_request();
}

void Http1Channel::run(std::shared_ptr<Exchange> ex) {
  exchange_ = std::move(ex);
  exchange_->connection = host_.self();
  exchange_->reused_connection = true;
  reused_ = true;
  host_.account();
  // The idle watch read may already hold bytes (Asio reads speculatively): they predate this
  // request, so it must never see them. Cancel it; a fresh read starts after the request is sent.
  ++read_generation_;
  reading_ = false;
  host_.transport().cancel();
  write_request();
}

void Http1Channel::upload_available(const std::shared_ptr<Exchange>& ex) {
  if (exchange_ == ex) pump_upload();
}

void Http1Channel::resume(const std::shared_ptr<Exchange>& ex) {
  if (exchange_ != ex) return;
  if (held_read_) {
    const HeldRead held = *held_read_;
    held_read_.reset();
    on_read(held.ec, held.bytes, read_generation_, held.direct);  // goes on reading as it sees fit
    return;
  }
  // Before the request is sent there is nothing to read yet (on_write starts reading).
  if (ex->stage >= Stage::kHeaders) read();
}

bool Http1Channel::abandon(const std::shared_ptr<Exchange>& ex) {
  if (exchange_ != ex) return false;
  held_read_.reset();
  exchange_.reset();  // the engine reports this exchange's failure itself
  host_.close();
  return true;
}

void Http1Channel::fail_all(const Error& error) {
  held_read_.reset();
  if (auto ex = std::move(exchange_)) {
    exchange_.reset();
    ex->connection.reset();
    engine_.exchange_failed(ex, error, false);
  }
}

void Http1Channel::fail(Error error, bool nothing_received) {
  auto ex = std::move(exchange_);
  exchange_.reset();
  held_read_.reset();
  host_.close();
  if (!ex) return;
  ex->connection.reset();
  const bool retryable = reused_ && nothing_received && idempotent_method(ex->spec.method);
  engine_.exchange_failed(ex, std::move(error), retryable);
}

void Http1Channel::write_request() {
  Exchange& ex = *exchange_;
  engine_.enter_stage(exchange_, Stage::kWrite);
  ex.reset_response();
  parser_.reset(ex.spec.method == "HEAD");
  response_started_ = false;
  response_complete_ = false;
  request_head_.clear();
  std::string why;
  // Plain HTTP through an HTTP proxy: the request line names the whole URL (absolute-form).
  const bool absolute_form = absolute_form_proxy_ != nullptr;
  std::string absolute_target;
  if (absolute_form) {
    const bool v6 = host_.pool_key().host.find(':') != std::string::npos;
    absolute_target = "http://" + (v6 ? "[" + host_.pool_key().host + "]" : host_.pool_key().host) + ":" +
                      std::to_string(host_.pool_key().port) + ex.spec.target;
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
  if (absolute_form && absolute_form_proxy_->has_credentials &&
      !find_header(ex.spec.headers, "proxy-authorization")) {
    // Last, before the blank line that ends the head.
    request_head_.insert(request_head_.size() - 2,
                         "Proxy-Authorization: " + proxy::basic_credentials(*absolute_form_proxy_) + "\r\n");
  }
  engine_.counters.count_exchange(ex.reused_connection);
  pipe_ = false;
  upload_head_written_ = false;
  upload_done_ = !ex.spec.body_stream;
  if (ex.spec.body_stream) {
    // The head goes alone; the body follows piece by piece as the caller writes it (pump_upload).
    upload_chunked_ = !ex.spec.upgrade && chunked_transfer(ex.spec.headers);
    writing_ = true;
    host_.transport().with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(request_head_),
                        [this, owner = host_.self(), keep = exchange_](const asio::error_code& ec, size_t n) {
                          on_upload_write(ec, n, 0);
                        });
    });
    return;
  }
  std::array<asio::const_buffer, 2> buffers{asio::buffer(request_head_), asio::buffer(ex.spec.body)};
  writing_ = true;
  host_.transport().with_stream([&](auto& stream) {
    // The handler holds the exchange: the body it writes from lives until the write is over, even
    // if the server answers (and the exchange completes) before it is all sent.
    asio::async_write(stream, buffers,
                      [this, owner = host_.self(), keep = exchange_](const asio::error_code& ec, size_t n) {
                        on_write(ec, n);
                      });
  });
}

void Http1Channel::on_write(const asio::error_code& ec, size_t bytes) {
  writing_ = false;
  if (host_.closed() || !exchange_) return;
  engine_.counters.count_io(0, bytes);
  if (ec) {
    fail(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
               "the connection failed while sending the request: " + ec.message()},
         true);
    return;
  }
  engine_.enter_stage(exchange_, Stage::kHeaders);
  read();
}

void Http1Channel::pump_upload() {
  if (host_.closed() || writing_ || !exchange_ || !upload_head_written_) return;
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
  writing_ = true;
  host_.transport().with_stream([&](auto& stream) {
    asio::async_write(stream, buffers,
                      [this, owner = host_.self(), keep = exchange_, payload](
                          const asio::error_code& ec, size_t n) { on_upload_write(ec, n, payload); });
  });
}

void Http1Channel::on_upload_write(const asio::error_code& ec, size_t bytes, uint64_t payload) {
  writing_ = false;
  if (host_.closed()) return;
  engine_.counters.count_io(0, bytes);
  // The response ended (and took the exchange) while this was being written: the connection is
  // mid-request and was not kept (finish_exchange looked at writing_ and upload_done_).
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
    read();
  }
  if (host_.closed() || !exchange_) return;
  if (upload_done_ && !pipe_) {
    if (exchange_->stage == Stage::kWrite) engine_.enter_stage(exchange_, Stage::kHeaders);
    return;
  }
  pump_upload();
}

// The server agreed to the upgrade: from here on the connection carries the other protocol's bytes
// both ways, unframed. Deadlines were for the handshake.
void Http1Channel::begin_pipe(Exchange& ex, std::string_view leftover) {
  pipe_ = true;
  response_complete_ = false;
  Deadlines::cancel(ex);
  if (!leftover.empty()) {
    host_.sink().append(ex, leftover);
    host_.sink().flush(ex);
  }
  pump_upload();
  read();
}

void Http1Channel::end_pipe() {
  if (!exchange_) return;
  host_.sink().flush(*exchange_);
  auto done = std::move(exchange_);
  exchange_.reset();
  done->connection.reset();
  engine_.exchange_succeeded(done);
  host_.close();
}

void Http1Channel::on_read_pipe(const asio::error_code& ec, size_t bytes) {
  if (!exchange_) {
    host_.close();
    return;
  }
  Exchange& ex = *exchange_;
  if (ec) {
    if (is_eof(ec)) {
      end_pipe();
      return;
    }
    host_.sink().flush(ex);
    fail(Error{ErrorCode::kConnectionClosed, Stage::kBody, "the upgraded connection failed: " + ec.message()},
         false);
    return;
  }
  engine_.counters.count_io(bytes, 0);
  host_.sink().append(ex, std::string_view(host_.transport().read_buffer().data(), bytes));
  if (ResponseSink::pending(ex) < kBodyFlushBytes && host_.transport().more_readable_now()) {
    read();
    return;
  }
  host_.sink().flush(ex);
  read();
}

void Http1Channel::read() {
  if (host_.closed() || reading_) return;
  if (exchange_ && exchange_->paused) return;
  reading_ = true;
  if (read_into_body()) return;
  host_.transport().with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(host_.transport().read_buffer()),
                           [this, owner = host_.self(), gen = read_generation_](
                               const asio::error_code& ec, size_t n) { on_read(ec, n, gen, 0); });
  });
}

// Where the framing says the next bytes are body as sent (a Content-Length body, a chunk's data)
// and nothing decodes them, the socket read goes straight into the body: one copy fewer.
bool Http1Channel::read_into_body() {
  if (!exchange_ || pipe_) return false;
  const uint64_t framed = parser_.framed_body_left();
  if (framed == 0) return false;
  Transport& transport = host_.transport();
  const bool tls = transport.target_ssl() != nullptr || transport.proxy_tls() != nullptr;
  const size_t most = tls ? kTlsRecordPlaintextBytes : transport.read_buffer().size();
  const std::span<char> space =
      host_.sink().body_space(*exchange_, static_cast<size_t>(std::min<uint64_t>(framed, most)), framed);
  if (space.empty()) return false;
  transport.with_stream([&](auto& stream) {
    // The handler holds the exchange: the read writes into its body until it completes. An
    // exchange no longer here was given up (its body is never delivered): nothing to commit.
    stream.async_read_some(asio::buffer(space.data(), space.size()),
                           [this, owner = host_.self(), keep = exchange_, gen = read_generation_,
                            reserved = space.size()](const asio::error_code& ec, size_t n) {
                             if (keep == exchange_) host_.sink().commit(*keep, reserved, ec ? 0 : n);
                             on_read(ec, n, gen, reserved);
                           });
  });
  return true;
}

void Http1Channel::on_read(const asio::error_code& ec, size_t bytes, uint64_t generation, size_t direct) {
  if (generation != read_generation_) {
    // The watch read of the idle period: anything it got (bytes nobody asked for, or EOF) means
    // the server gave up on this connection before the current request reached it.
    if (!host_.closed() && ec != asio::error::operation_aborted && exchange_) {
      fail(Error{ErrorCode::kConnectionClosed, Stage::kWrite,
                 "the kept-alive connection was no longer usable (the server had sent " +
                     std::string(ec ? "EOF" : "unsolicited bytes") + ")"},
           true);
    }
    return;
  }
  reading_ = false;
  if (host_.closed()) return;
  if (exchange_ && exchange_->paused) {
    // The read was in flight when the consumer paused: nothing is delivered until it resumes.
    held_read_ = HeldRead{ec, bytes, direct};
    return;
  }
  if (pipe_) {
    on_read_pipe(ec, bytes);
    return;
  }
  if (!exchange_) {
    // Parked: the server closed the idle connection, or sent bytes nobody asked for.
    host_.close();
    return;
  }
  Exchange& ex = *exchange_;
  if (ec) {
    if (is_eof(ec) && parser_.finish_eof()) {
      // Close-delimited body: on_complete has run.
      if (ResponseSink::failed(ex)) {
        fail(ResponseSink::failure(ex), false);
        return;
      }
      host_.sink().flush(ex);
      finish_exchange();
      return;
    }
    const bool nothing = !response_started_;
    std::string what = is_eof(ec) ? "the server closed the connection" : ec.message();
    if (nothing) {
      fail(Error{ErrorCode::kConnectionClosed, ex.stage, what + " before sending a response"}, true);
    } else if (parser_.started() && ex.stage == Stage::kBody) {
      fail(Error{ErrorCode::kBodyTruncated, Stage::kBody, what + " before the body was complete"}, false);
    } else {
      fail(Error{ErrorCode::kConnectionClosed, ex.stage, what + " before the response head was complete"},
           false);
    }
    return;
  }
  engine_.counters.count_io(bytes, 0);
  if (bytes > 0) response_started_ = true;
  size_t used = bytes;
  if (direct != 0) {
    parser_.skip_body(bytes);  // read_into_body: they are in the body already
  } else {
    used = parser_.feed(std::string_view(host_.transport().read_buffer().data(), bytes));
  }
  if (parser_.status() == http1::ResponseParser::Status::kError) {
    fail(Error{ErrorCode::kProtocol, ex.stage, "invalid HTTP response: " + parser_.error()}, false);
    return;
  }
  if (ex.upgraded && !pipe_) {
    begin_pipe(ex, std::string_view(host_.transport().read_buffer().data() + used, bytes - used));
    return;
  }
  if (ResponseSink::failed(ex)) {
    fail(ResponseSink::failure(ex), false);
    return;
  }
  if (!response_complete_ && ex.spec.whole_body) {
    read();
    return;
  }
  if (!response_complete_ && ResponseSink::pending(ex) < kBodyFlushBytes &&
      host_.transport().more_readable_now()) {
    read();
    return;
  }
  host_.sink().flush(ex);
  if (response_complete_) {
    // Bytes after the response on a connection we did not pipeline: do not reuse it.
    if (used < bytes) trailing_garbage_ = true;
    finish_exchange();
    return;
  }
  read();
}

void Http1Channel::finish_exchange() {
  auto ex = std::move(exchange_);
  exchange_.reset();
  ex->connection.reset();
  // A response that finished while the request was still being sent (an early 413, say) leaves
  // the connection mid-request: it cannot carry another one.
  const bool reuse = parser_.keep_alive() && !trailing_garbage_ && !writing_ && upload_done_;
  engine_.exchange_succeeded(ex);
  if (reuse && !host_.closed()) {
    engine_.connection_reusable(host_.self());
  } else {
    host_.close();
  }
}

void Http1Channel::on_head(ResponseHead&& head) {
  if (exchange_->spec.upgrade && head.status == 101) exchange_->upgraded = true;
  host_.begin_response(*exchange_, std::move(head));
}

void Http1Channel::on_body(std::string_view bytes) { host_.sink().append(*exchange_, bytes); }

void Http1Channel::on_complete() {
  response_complete_ = true;
  host_.sink().finish(*exchange_);
}

}  // namespace ctn
