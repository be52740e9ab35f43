// Internal to the engine: the exchange (one request's state), the connection (one socket, Beast
// style: stage-named handlers, one operation per direction at a time) and the engine's io state.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "core/body_decoder.h"
#include "core/engine.h"
#include "http1/response_parser.h"
#include "http2/session.h"
#include "profiles/profile.h"
#include "tls/tls_context.h"

namespace ctn {

class Connection;

// Connection identity: never cookies, user agent, timeouts or redirect policy.
struct PoolKey {
  bool tls = true;
  std::string host;
  uint16_t port = 0;
  std::string server_name;
  std::string profile;
  bool verify = true;
  bool http1_only = false;
  auto tie() const { return std::tie(tls, host, port, server_name, profile, verify, http1_only); }
  bool operator<(const PoolKey& o) const { return tie() < o.tie(); }
};

struct Exchange {
  explicit Exchange(asio::io_context& io) : deadline(io) {}
  RequestSpec spec;
  const Profile* profile = nullptr;  // the preset, or spec.custom_profile (which the spec owns)
  PoolKey key;
  asio::steady_timer deadline;
  Stage stage = Stage::kQueue;
  bool done = false;
  bool paused = false;
  bool retried = false;   // retried once on a fresh connection (a stale kept-alive one)
  int refusals = 0;       // HTTP/2 streams the server refused (REFUSED_STREAM, GOAWAY)
  bool reused_connection = false;  // this attempt rides on a connection opened before it
  std::shared_ptr<Connection> connection;
  // The response in progress (reset for every attempt).
  bool head_seen = false;
  std::string pending_body;
  std::unique_ptr<BodyDecoder> decoder;
  std::string decode_error;  // set inside parser/session callbacks, acted on after them
  int32_t stream_id = 0;     // HTTP/2
  size_t held_bytes = 0;     // HTTP/2: body bytes not yet given back to flow control (paused)
  void reset_response() {
    head_seen = false;
    pending_body.clear();
    decoder.reset();
    decode_error.clear();
    stream_id = 0;
    held_bytes = 0;
  }
};

// One socket (TCP, TLS on top for https) carrying HTTP/1.1 exchanges one at a time, or HTTP/2
// exchanges as concurrent streams, as ALPN decides after the handshake.
class Connection : public std::enable_shared_from_this<Connection>,
                   http1::ResponseListener,
                   http2::SessionListener {
 public:
  Connection(Engine::Impl& engine, PoolKey key, uint64_t id);
  ~Connection() override;

  const PoolKey& key() const { return key_; }
  uint64_t id() const { return id_; }
  // HTTP/1.1: established, unused, and not closed by the server (checked with the kernel).
  bool idle() const;
  // Still resolving, connecting or handshaking.
  bool connecting() const { return !established_ && !closed_; }
  // HTTP/2: a new stream would go out at once.
  bool can_take_stream() const;
  // HTTP/2: the session still takes streams (queued beyond the server's limit); no GOAWAY.
  bool accepts_streams() const;
  size_t open_streams() const { return streams_.size(); }

  // Resolves, connects and (for https) handshakes, then runs `exchange` on this connection.
  void open(std::shared_ptr<Exchange> exchange);
  // While connecting: `exchange` rides on this connection if it turns out to be HTTP/2, and goes
  // back to the engine otherwise (the cold-origin guard: one handshake for a burst of requests).
  void add_waiter(std::shared_ptr<Exchange> exchange);
  // HTTP/1.1: runs `exchange` on this established, idle connection.
  void run(std::shared_ptr<Exchange> exchange);
  // HTTP/2: runs `exchange` as a new stream.
  void submit_stream(std::shared_ptr<Exchange> exchange);
  void resume(const std::shared_ptr<Exchange>& exchange);
  // The engine gave up on `exchange` (timeout, cancel): HTTP/1.1 closes the connection, HTTP/2
  // resets only its stream.
  void abandon(const std::shared_ptr<Exchange>& exchange);
  // Closes the socket; pending handlers complete with operation_aborted and find nothing to do.
  // Exchanges still on the connection fail with `why`.
  void close(const char* why = "the connection was closed");
  // Idle in the pool: any byte or EOF from the server now means the connection is finished.
  void park(uint64_t idle_timeout_ms);

 private:
  enum class Mode { kUnknown, kHttp1, kHttp2 };
  void on_resolve(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results);
  void on_connect(const asio::error_code& ec);
  void on_handshake(const asio::error_code& ec);
  void write_request();
  void on_write(const asio::error_code& ec, size_t bytes);
  void read_more();
  void on_read(const asio::error_code& ec, size_t bytes, uint64_t generation);
  void on_idle_timeout(const asio::error_code& ec);
  void fail(Error error, bool nothing_received);
  void finish_exchange();
  void flush_body(Exchange& ex);
  bool more_readable_now();
  ConnectionInfo info(const Exchange& ex) const;
  void begin_response(Exchange& ex, ResponseHead&& head);
  void append_body(Exchange& ex, std::string_view bytes);
  void hand_back_waiters(const Error* error);

  // HTTP/2
  void start_http2();
  void on_read_http2(const asio::error_code& ec, size_t bytes);
  void flush_http2();
  void on_write_http2(const asio::error_code& ec, size_t bytes);
  void fail_streams(const Error& error);
  void arm_http2_idle();

  // http1::ResponseListener
  void on_head(ResponseHead&& head) override;
  void on_body(std::string_view bytes) override;
  void on_complete() override;

  // http2::SessionListener
  void on_head(int32_t stream, ResponseHead&& head) override;
  void on_data(int32_t stream, std::string_view bytes) override;
  void on_stream_closed(int32_t stream, const http2::StreamClose& close) override;
  void on_goaway(int32_t last_stream_id, uint32_t error_code, std::string_view debug) override;

  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls_) fn(*tls_); else fn(socket_);
  }

  Engine::Impl& engine_;
  PoolKey key_;
  uint64_t id_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  asio::steady_timer idle_timer_;
  std::shared_ptr<Exchange> exchange_;
  http1::ResponseParser parser_;
  std::string request_head_;
  std::vector<char> read_buffer_;
  Mode mode_ = Mode::kUnknown;
  std::vector<std::shared_ptr<Exchange>> waiters_;
  std::unique_ptr<http2::ClientSession> h2_;
  std::map<int32_t, std::shared_ptr<Exchange>> streams_;
  std::string write_buffer_;
  bool writing_ = false;
  size_t streams_started_ = 0;
  int in_session_ = 0;  // depth of receive()/produce() calls: no produce() from their callbacks
  const Error* connection_error_ = nullptr;  // while failing every stream at once
  bool established_ = false;
  bool reused_ = false;
  bool reading_ = false;
  bool h1_writing_ = false;
  uint64_t read_generation_ = 0;  // bumped when an idle connection is reused: its watch read is stale
  bool closed_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool trailing_garbage_ = false;
  bool tcp_open_ = false;
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, EventSink& sink);
  ~Impl();

  // io thread only, below.
  void start(RequestSpec&& spec);
  void cancel(uint64_t id, Error error);
  void set_paused(uint64_t id, bool paused);
  void stop_all();

  // Called by connections.
  void emit(Event&& event);
  void exchange_failed(const std::shared_ptr<Exchange>& ex, Error error, bool retryable);
  // The server refused an HTTP/2 stream without processing it: it may go to any usable session
  // (the refusing one included, now that its limits are known), a few times at most.
  void exchange_refused(const std::shared_ptr<Exchange>& ex, Error error);
  void exchange_succeeded(const std::shared_ptr<Exchange>& ex);
  void connection_reusable(const std::shared_ptr<Connection>& conn);
  void connection_closed(Connection* conn, bool was_open);
  // HTTP/2 connections: ready to take streams; no longer (GOAWAY, closing).
  void http2_ready(const std::shared_ptr<Connection>& conn);
  void http2_unusable(Connection* conn);
  // An exchange that waited on a connection which turned out unsuitable goes round again.
  void redispatch(const std::shared_ptr<Exchange>& ex);
  void connection_established(bool tls);
  void count_io(uint64_t in, uint64_t out);
  TlsContextCache& tls_contexts() { return tls_contexts_; }

  // Declared first: destroyed last, after every object that holds one of its sockets or timers.
  asio::io_context io;
  EngineOptions options;
  EventSink& sink;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::function<void()> on_stopped;

  std::atomic<uint64_t> requests_started{0}, requests_in_flight{0}, connections_opened{0},
      tls_handshakes{0}, connections_reused{0}, connections_open{0}, connections_idle{0},
      bytes_in{0}, bytes_out{0};

 private:
  void dispatch(const std::shared_ptr<Exchange>& ex);
  void settle(const std::shared_ptr<Exchange>& ex);
  std::shared_ptr<Connection> take_idle(const PoolKey& key);

  asio::executor_work_guard<asio::io_context::executor_type> work_;
  TlsContextCache tls_contexts_;
  std::unordered_map<uint64_t, std::shared_ptr<Exchange>> exchanges_;
  std::map<PoolKey, std::vector<std::shared_ptr<Connection>>> idle_;
  std::map<PoolKey, std::vector<std::weak_ptr<Connection>>> http2_;   // multiplexed connections
  std::map<PoolKey, std::weak_ptr<Connection>> connecting_;           // cold-origin guard
  std::shared_ptr<Connection> take_http2(const PoolKey& key);
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open_;
  uint64_t next_connection_id_ = 1;
};

}  // namespace ctn
