// The HTTP/1.1 side of a connection: one exchange at a time. Writes the request head (absolute-form
// through an HTTP proxy without a tunnel) and the body, whole or streamed as the caller writes it
// (chunked when the headers say so); parses the response; decides whether the connection may be
// kept; after a 101 to an upgrade, pipes raw bytes both ways. Also the watch read of a parked
// connection. Reads and writes the connection's transport; responses go to its response sink.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio.hpp>

#include "core/channel_host.h"
#include "core/exchange.h"
#include "http1/response_parser.h"
#include "proxy/proxy.h"

namespace ctn {

class Http1Channel : http1::ResponseListener {
 public:
  // `absolute_form_proxy`: the HTTP proxy that plain-HTTP requests go through without a tunnel
  // (they name the whole URL and carry its credentials), else nullptr.
  Http1Channel(ChannelHost& host, const proxy::ProxyConfig* absolute_form_proxy);

  // The exchange the connection was opened for.
  void start(std::shared_ptr<Exchange> ex);
  // A later exchange on this kept-alive connection.
  void run(std::shared_ptr<Exchange> ex);
  // Parked in the pool: any byte or EOF from the server now ends the connection.
  void watch() { read(); }
  // An exchange is on the connection.
  bool busy() const { return exchange_ != nullptr; }

  void upload_available(const std::shared_ptr<Exchange>& ex);
  // The consumer asked for more: a read held while it was paused is taken up, then reading goes on
  // (once the request is sent).
  void resume(const std::shared_ptr<Exchange>& ex);
  // The engine gave up on `ex`: the connection cannot carry the rest of it and closes. False when
  // `ex` is not the exchange here.
  bool abandon(const std::shared_ptr<Exchange>& ex);
  // The connection closed: the exchange here, if any, fails with `error`.
  void fail_all(const Error& error);

 private:
  void write_request();
  void on_write(const asio::error_code& ec, size_t bytes);
  void read();
  // Starts a read straight into the exchange's body when the framing allows; false otherwise.
  bool read_into_body();
  // `direct`: the bytes were read into the body by read_into_body (that many were reserved), not
  // into the transport's read buffer.
  void on_read(const asio::error_code& ec, size_t bytes, uint64_t generation, size_t direct);
  // Streamed body (and an upgraded connection's outgoing bytes): one write at a time.
  void pump_upload();
  void on_upload_write(const asio::error_code& ec, size_t bytes, uint64_t payload);
  void begin_pipe(Exchange& ex, std::string_view leftover);
  void on_read_pipe(const asio::error_code& ec, size_t bytes);
  void end_pipe();
  void finish_exchange();
  // The exchange fails and the connection closes. An idempotent request that got nothing back on
  // a reused connection may be retried (the server may have closed it as we wrote).
  void fail(Error error, bool nothing_received);

  // http1::ResponseListener
  void on_head(ResponseHead&& head) override;
  void on_body(std::string_view bytes) override;
  void on_complete() override;

  ChannelHost& host_;
  Engine::Impl& engine_;
  const proxy::ProxyConfig* absolute_form_proxy_;
  std::shared_ptr<Exchange> exchange_;
  http1::ResponseParser parser_;
  std::string request_head_;
  // Streamed body in progress: the head has gone out; the write in flight; the end too.
  bool upload_head_written_ = false;
  bool upload_chunked_ = false;
  bool upload_done_ = true;   // nothing (more) to send for the current request
  std::string upload_frame_;  // chunk-size line before the pieces being written
  std::string upload_tail_;   // CRLF after them, and the last-chunk terminator
  std::vector<std::string> upload_pieces_;
  bool pipe_ = false;    // upgraded: raw bytes both ways (Exchange::upgraded)
  bool reused_ = false;  // has carried an exchange before the current one
  bool reading_ = false;
  bool writing_ = false;
  uint64_t read_generation_ = 0;  // bumped when an idle connection is reused: its watch read is stale
  // A read that was in flight when the consumer paused: its outcome waits, unparsed (its bytes stay
  // in the read buffer, which no other read touches while paused, or in the body's burst), so a
  // paused exchange gets no head, body or end until resume(). At most one read: bounded.
  struct HeldRead {
    asio::error_code ec;
    size_t bytes = 0;
    size_t direct = 0;
  };
  std::optional<HeldRead> held_read_;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool trailing_garbage_ = false;
};

}  // namespace ctn
