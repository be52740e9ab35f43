// The HTTP/2 side of a connection: the nghttp2 client session and its streams (one exchange each),
// WebSockets over extended CONNECT (RFC 8441) and those waiting for the server's first SETTINGS,
// streamed request bodies fed to flow control, read-ahead credit given back as the consumer takes
// the bytes, PING keep-alive and GOAWAY. Reads and writes the connection's transport; responses go
// to the connection's response sink.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio.hpp>

#include "core/channel_host.h"
#include "core/exchange.h"
#include "http2/session.h"

namespace ctn {

class Http2Channel : http2::SessionListener {
 public:
  explicit Http2Channel(ChannelHost& host);

  // Creates the session with the profile's HTTP/2 settings; false (with `error`) when it refuses
  // them.
  bool start(const Profile& profile, Error* error);
  // The session is up: `first` and the exchanges that waited for this handshake become streams,
  // the PINGs start and reading begins.
  void begin(std::shared_ptr<Exchange> first, std::vector<std::shared_ptr<Exchange>> waiters);

  // A new stream would go out at once.
  bool can_take_stream() const;
  // The session still takes streams (queued beyond the server's limit); no GOAWAY.
  bool accepts_streams() const;
  // No stream and no WebSocket waiting for SETTINGS.
  bool unused() const { return streams_.empty() && awaiting_settings_.empty(); }
  // The frames our session sent first (the Akamai fingerprint's); null before start().
  const fingerprint::H2FirstFlight* first_flight() const {
    return session_ ? &session_->first_flight() : nullptr;
  }
  size_t open_streams() const { return streams_.size(); }

  void submit(std::shared_ptr<Exchange> ex);
  void upload_available(Exchange& ex);
  // The consumer asked for more: the bytes held back go back to flow control.
  void resume(Exchange& ex);
  // The engine gave up on `ex`: its stream is reset. False when `ex` is not on this session.
  bool abandon(const std::shared_ptr<Exchange>& ex);
  // GOAWAY (best effort: if the transport takes it at once).
  void terminate();
  // The connection closed: every exchange still here fails with `error`.
  void fail_all(const Error& error);
  // Stops the PING timer (the connection is closing).
  void cancel_timers() { ping_timer_.cancel(); }

 private:
  void read();
  void on_read(const asio::error_code& ec, size_t bytes);
  void flush();
  void on_write(const asio::error_code& ec, size_t bytes);
  // Hands the caller's pieces to the session; kSent for what flow control took.
  void feed_upload(Exchange& ex);
  void report_sent();
  // `ex` as a new stream with this method, header list, body and (extended CONNECT) :protocol.
  void open_stream(std::shared_ptr<Exchange> ex, std::string_view method, const HeaderList& headers,
                   std::string body, std::string_view extended_protocol);
  // WebSocket (RFC 8441, RequestSpec::websocket_over_http2): waits for the server's first
  // SETTINGS, then an extended CONNECT stream, or back to the engine for an HTTP/1.1 connection.
  void place_websocket(std::shared_ptr<Exchange> ex);
  void on_first_settings();
  void submit_extended_connect(std::shared_ptr<Exchange> ex);
  void fail_awaiting_settings(const Error& error);
  // The connection is lost: every stream fails with `error`, except that those the server never
  // saw (as the session knows) are retried elsewhere.
  void fail_streams(const Error& error);
  void stream_count_changed();
  // After a read: body bytes of the streams it touched go to the sink (a stream whose sink failed
  // is reset instead).
  void flush_touched();
  void arm_ping(SteadyClock::duration after);
  void on_ping_timer(const asio::error_code& ec);

  // http2::SessionListener
  void on_head(int32_t stream, ResponseHead&& head) override;
  void on_data(int32_t stream, std::string_view bytes) override;
  void on_stream_closed(int32_t stream, const http2::StreamClose& close) override;
  void on_request_body_sent(int32_t stream, size_t bytes, bool last) override;
  void on_goaway(int32_t last_stream_id, uint32_t error_code, std::string_view debug) override;
  void on_remote_end(int32_t stream) override;

  ChannelHost& host_;
  Engine::Impl& engine_;
  std::unique_ptr<http2::ClientSession> session_;
  std::map<int32_t, std::shared_ptr<Exchange>> streams_;
  // Streams that got body bytes (or a failed sink) in the current read, and streams with upload
  // bytes sent and not yet reported: only these are visited after a read or a write, never every
  // stream (thousands may wait on one session for a slot).
  std::vector<int32_t> touched_;
  std::vector<int32_t> sent_unreported_;
  // WebSockets that came before the server's first SETTINGS (whether it allows RFC 8441 is unknown).
  std::vector<std::shared_ptr<Exchange>> awaiting_settings_;
  std::string write_buffer_;
  bool writing_ = false;
  bool reading_ = false;
  size_t streams_started_ = 0;
  // Refusals by a session that served other streams (or whose GOAWAY keeps some of ours) are
  // progress: a server closing each connection after N requests (Engine::Impl::exchange_refused).
  size_t streams_served_ = 0;
  bool goaway_serves_some_ = false;
  bool made_progress() const { return streams_served_ > 0 || goaway_serves_some_; }
  int in_session_ = 0;  // depth of receive()/produce() calls: no produce() from their callbacks
  const Error* connection_error_ = nullptr;  // while failing every stream at once
  // Keep-alive.
  asio::steady_timer ping_timer_;
  SteadyClock::time_point last_read_at_{};
  SteadyClock::time_point ping_sent_at_{};
  bool ping_outstanding_ = false;
};

}  // namespace ctn
