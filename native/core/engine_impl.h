// Internal to the engine: the exchange (one request's state), the connection (one socket, Beast
// style: stage-named handlers, one operation per direction at a time) and the engine's io state.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
#include "pool/fair_queue.h"
#include "pool/pool.h"
#include "profiles/profile.h"
#include "proxy/proxy.h"
#include "tls/tls_context.h"

namespace ctn {

class Connection;
struct Exchange;

using SteadyClock = std::chrono::steady_clock;
using ExchangeQueue = FairQueue<std::shared_ptr<Exchange>>;

// The phase a per-phase deadline (RequestSpec::*_timeout_ms) is running for.
enum class Phase { kNone, kConnect, kTls, kHeaders, kBody };

struct Exchange : std::enable_shared_from_this<Exchange> {
  explicit Exchange(asio::io_context& io) : deadline(io), phase_timer(io) {}
  RequestSpec spec;
  const Profile* profile = nullptr;  // the preset, or spec.custom_profile (which the spec owns)
  PoolKey key;
  asio::steady_timer deadline;     // timeout_ms: the whole exchange
  asio::steady_timer phase_timer;  // the current phase's own deadline
  Phase phase = Phase::kNone;
  SteadyClock::time_point last_body_at;  // body_idle_timeout_ms counts from here
  Stage stage = Stage::kQueue;
  bool done = false;
  bool paused = false;
  bool retried = false;   // retried once already (a stale kept-alive connection, a lost session)
  bool fresh_only = false;  // the retry must not go to a connection opened before it
  int refusals = 0;       // HTTP/2 streams the server refused (REFUSED_STREAM, GOAWAY)
  bool reused_connection = false;  // this attempt rides on a connection opened before it
  bool admitted = false;  // counted in its client's requests in flight (from its first dispatch)
  std::optional<ExchangeQueue::Handle> queued;  // waiting in the engine's queue
  std::shared_ptr<Connection> connection;
  // The response in progress (reset for every attempt).
  bool head_seen = false;
  std::string pending_body;
  std::unique_ptr<BodyDecoder> decoder;
  // Set inside parser/session callbacks, acted on after them: the body cannot be decoded
  // (ERR_PROTOCOL), or body_too_large: it passed spec.max_response_bytes (ERR_BODY_TOO_LARGE).
  std::string decode_error;
  bool body_too_large = false;
  // The decoder's cap is spec.max_response_bytes (smaller than max_decoded_bytes): its overflow is
  // the response's, not a decompression bomb's.
  bool decoder_capped_by_response = false;
  uint64_t body_bytes = 0;   // decoded body bytes of this response so far
  int32_t stream_id = 0;     // HTTP/2
  size_t held_bytes = 0;     // HTTP/2: body bytes not yet given back to flow control (paused)
  uint64_t unacked = 0;      // body bytes delivered since the consumer last asked for more
  // A streamed request body (spec.body_stream): pieces written by the caller and not yet taken by
  // the connection, whether the caller has ended it, and how much was taken (once anything was, the
  // request cannot be sent again: those bytes are gone).
  std::deque<std::string> upload;
  bool upload_ended = false;
  uint64_t upload_taken = 0;
  uint64_t upload_sent_unreported = 0;  // HTTP/2: taken by flow control, kSent not yet emitted
  bool upload_end_given = false;        // HTTP/2: the session has the end of the body
  bool upgraded = false;     // spec.upgrade and the server answered 101: a byte pipe now
  bool can_resend() const { return !spec.body_stream || upload_taken == 0; }
  void reset_response() {
    head_seen = false;
    pending_body.clear();
    decoder.reset();
    decode_error.clear();
    body_too_large = false;
    decoder_capped_by_response = false;
    body_bytes = 0;
    stream_id = 0;
    held_bytes = 0;
  }
};

// One socket (TCP, TLS on top for https) carrying HTTP/1.1 exchanges one at a time, or HTTP/2
// exchanges as concurrent streams, as ALPN decides after the handshake. Through a proxy: TCP to
// the proxy, TLS to it for an https:// proxy, the tunnel's handshake (CONNECT or SOCKS), then the
// target's TLS inside the tunnel (layered on the proxy's TLS stream when there is one); plain-HTTP
// targets through an HTTP proxy skip the tunnel and send absolute-form requests.
class Connection : public std::enable_shared_from_this<Connection>,
                   public PooledConnection,
                   http1::ResponseListener,
                   http2::SessionListener {
 public:
  Connection(Engine::Impl& engine, PoolKey key, uint64_t id);
  ~Connection() override;

  const PoolKey& key() const override { return key_; }
  uint64_t id() const { return id_; }
  // Called once by the engine right after construction: the pool's live counts for this identity.
  void set_counters(std::shared_ptr<OriginCounters> counters) { counters_ = std::move(counters); }
  // HTTP/1.1: established, unused, and not closed by the server (checked with the kernel).
  bool idle() const override;
  // HTTP/2: established, no stream, still taking streams.
  bool session_idle() const override;
  // The server closed the socket (FIN or reset seen by the kernel, not yet by us).
  bool peer_closed() const override;
  bool is_http2() const override { return mode_ == Mode::kHttp2; }
  bool closed() const { return closed_; }
  // When the connection last became idle (parked, or its last stream ended).
  SteadyClock::time_point idle_since() const override { return idle_since_; }
  // Still resolving, connecting or handshaking.
  bool connecting() const override { return !established_ && !closed_; }
  // HTTP/2: a new stream would go out at once.
  bool can_take_stream() const override;
  // HTTP/2: the session still takes streams (queued beyond the server's limit); no GOAWAY.
  bool accepts_streams() const override;
  size_t open_streams() const override { return streams_.size(); }

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
  // The caller wrote more of `exchange`'s streamed body (Exchange::upload).
  void upload_available(const std::shared_ptr<Exchange>& exchange);
  // The engine gave up on `exchange` (timeout, cancel): HTTP/1.1 closes the connection, HTTP/2
  // resets only its stream. While connecting, a waiter takes the exchange's place if there is one.
  void abandon(const std::shared_ptr<Exchange>& exchange);
  // Closes the socket; pending handlers complete with operation_aborted and find nothing to do.
  // Exchanges still on the connection fail with `why`.
  void close(const char* why = "the connection was closed") override;
  // HTTP/2: sends GOAWAY (best effort) and closes.
  void retire() override;
  // Idle in the pool: any byte or EOF from the server now means the connection is finished.
  void park(uint64_t idle_timeout_ms);

 private:
  enum class Mode { kUnknown, kHttp1, kHttp2 };
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket&>;
  using TunnelTlsStream = asio::ssl::stream<TlsStream&>;
  // Where the TCP connection goes: the proxy, or the target itself.
  const std::string& dial_host() const { return proxy_ ? proxy_->host : key_.host; }
  uint16_t dial_port() const { return proxy_ ? proxy_->port : key_.port; }
  void resolve_dial_host();
  void on_resolve_target(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results);
  // Proxy stages.
  void start_proxy();
  void on_proxy_tls(const asio::error_code& ec);
  void start_tunnel();
  void drive_tunnel();
  void on_tunnel_write(const asio::error_code& ec);
  void on_tunnel_read(const asio::error_code& ec, size_t bytes);
  void fail_proxy(Stage stage, const std::string& why);
  // TCP (and the proxy's tunnel) are up: plain HTTP starts, or the target's TLS handshake.
  void start_target();
  // The target's TLS (direct or inside the tunnel), if any.
  SSL* target_ssl() const;
  void on_resolve(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results);
  void on_connect(const asio::error_code& ec);
  void on_handshake(const asio::error_code& ec);
  void write_request();
  void on_write(const asio::error_code& ec, size_t bytes);
  void read_more();
  void on_read(const asio::error_code& ec, size_t bytes, uint64_t generation);
  void on_idle_timeout(const asio::error_code& ec);
  // HTTP/1.1 streamed body (and an upgraded connection's outgoing bytes): one write at a time.
  void pump_upload();
  void on_upload_write(const asio::error_code& ec, size_t bytes, uint64_t payload);
  void begin_pipe(Exchange& ex, std::string_view leftover);
  void on_read_pipe(const asio::error_code& ec, size_t bytes);
  void end_pipe();
  // HTTP/2: hands the caller's pieces to the session; kSent for what flow control took.
  void feed_http2_upload(Exchange& ex);
  // HTTP/2: `ex` as a new stream with this method, header list, body and (extended CONNECT) :protocol.
  void open_stream(std::shared_ptr<Exchange> ex, std::string_view method, const HeaderList& headers,
                   std::string body, std::string_view extended_protocol);
  // HTTP/2 WebSocket (RFC 8441, RequestSpec::websocket_over_http2): waits for the server's first
  // SETTINGS, then an extended CONNECT stream, or back to the engine for an HTTP/1.1 connection.
  void place_websocket(std::shared_ptr<Exchange> ex);
  void on_first_settings();
  void submit_extended_connect(std::shared_ptr<Exchange> ex);
  void fail_awaiting_settings(const Error& error);
  void report_http2_sent();
  void fail(Error error, bool nothing_received);
  void finish_exchange();
  void flush_body(Exchange& ex);
  bool more_readable_now();
  ConnectionInfo info(const Exchange& ex) const;
  void begin_response(Exchange& ex, ResponseHead&& head);
  void append_body(Exchange& ex, std::string_view bytes);
  void hand_back_waiters(const Error* error);
  // Moves the owner and every waiter to `stage` (their phase deadlines follow).
  void enter_stage_all(Stage stage);
  // Brings this connection's share of the engine's and the pool's live counts up to date.
  void account();

  // HTTP/2
  void start_http2();
  void on_read_http2(const asio::error_code& ec, size_t bytes);
  void flush_http2();
  void on_write_http2(const asio::error_code& ec, size_t bytes);
  void fail_streams(const Error& error);
  void arm_http2_idle();
  void arm_ping(SteadyClock::duration after);
  void on_ping_timer(const asio::error_code& ec);

  // http1::ResponseListener
  void on_head(ResponseHead&& head) override;
  void on_body(std::string_view bytes) override;
  void on_complete() override;

  // http2::SessionListener
  void on_head(int32_t stream, ResponseHead&& head) override;
  void on_data(int32_t stream, std::string_view bytes) override;
  void on_stream_closed(int32_t stream, const http2::StreamClose& close) override;
  void on_request_body_sent(int32_t stream, size_t bytes, bool last) override;
  void on_goaway(int32_t last_stream_id, uint32_t error_code, std::string_view debug) override;
  void on_remote_end(int32_t stream) override;

  // The outermost layer: the target's TLS (in the tunnel or not), else the proxy's TLS, else TCP.
  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tunnel_tls_) {
      fn(*tunnel_tls_);
    } else if (tls_) {
      fn(*tls_);
    } else if (proxy_tls_) {
      fn(*proxy_tls_);
    } else {
      fn(socket_);
    }
  }

  Engine::Impl& engine_;
  PoolKey key_;
  uint64_t id_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  TlsSessionCache::Slot tls_session_slot_;
  // Proxy (key_.proxy parsed); the tunnel's handshake while it runs; the target's address for
  // proxies that take addresses (socks4, socks5), resolved here.
  std::optional<proxy::ProxyConfig> proxy_;
  std::unique_ptr<proxy::Handshake> tunnel_;
  std::string target_address_;
  std::shared_ptr<asio::ssl::context> proxy_tls_context_;
  // The first address the TCP connect tried ("127.0.0.1:443", "[::1]:443"): a failed connect names
  // it, as Go's dialer (and so cycletls's error text) does.
  std::string first_dialed_;
  // Declared outer layer first: destroyed inner layer first.
  std::unique_ptr<TlsStream> proxy_tls_;    // TLS to an https:// proxy
  std::unique_ptr<TlsStream> tls_;          // the target's TLS, directly on TCP
  std::unique_ptr<TunnelTlsStream> tunnel_tls_;  // the target's TLS inside the proxy's TLS
  asio::steady_timer idle_timer_;
  asio::steady_timer ping_timer_;
  std::shared_ptr<Exchange> exchange_;
  http1::ResponseParser parser_;
  std::string request_head_;
  // HTTP/1.1 streamed body in progress: the head has gone out; the write in flight; the end too.
  bool upload_head_written_ = false;
  bool upload_chunked_ = false;
  bool upload_done_ = true;        // nothing (more) to send for the current request
  std::string upload_frame_;       // chunk-size line before the pieces being written
  std::string upload_tail_;        // CRLF after them, and the last-chunk terminator
  std::vector<std::string> upload_pieces_;
  bool pipe_ = false;              // upgraded: raw bytes both ways (Exchange::upgraded)
  bool absolute_form_ = false;     // plain HTTP through an HTTP proxy without a tunnel
  bool http2_sent_pending_ = false;  // some stream has upload_sent_unreported > 0
  std::vector<char> read_buffer_;
  Mode mode_ = Mode::kUnknown;
  std::vector<std::shared_ptr<Exchange>> waiters_;
  std::unique_ptr<http2::ClientSession> h2_;
  std::map<int32_t, std::shared_ptr<Exchange>> streams_;
  // WebSockets that came before the server's first SETTINGS (whether it allows RFC 8441 is unknown).
  std::vector<std::shared_ptr<Exchange>> awaiting_settings_;
  std::string write_buffer_;
  bool writing_ = false;
  size_t streams_started_ = 0;
  int in_session_ = 0;  // depth of receive()/produce() calls: no produce() from their callbacks
  const Error* connection_error_ = nullptr;  // while failing every stream at once
  bool established_ = false;
  bool reused_ = false;
  bool reading_ = false;
  bool h1_writing_ = false;
  bool parked_ = false;
  bool tls_resumed_ = false;
  uint64_t read_generation_ = 0;  // bumped when an idle connection is reused: its watch read is stale
  bool closed_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool trailing_garbage_ = false;
  bool tcp_open_ = false;
  SteadyClock::time_point idle_since_{};
  // HTTP/2 keep-alive.
  SteadyClock::time_point last_read_at_{};
  SteadyClock::time_point ping_sent_at_{};
  bool ping_outstanding_ = false;
  // What account() last added to the live counts.
  std::shared_ptr<OriginCounters> counters_;
  bool counted_open_ = false, counted_idle_ = false, counted_connecting_ = false;
  size_t counted_streams_ = 0;
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, EventSink& sink);
  ~Impl();

  // Any thread.
  // Posts `start` unless the io thread has finished; false then (the caller answers the request).
  bool post_start(RequestSpec&& spec);
  // Registers a drain callback; false when the io thread has already finished (run it yourself).
  bool add_stop_callback(std::function<void()>& cb);
  void deliver_error_now(uint64_t id, Error error);

  // io thread only, below.
  void start(RequestSpec&& spec);
  void cancel(uint64_t id, ErrorCode code, const std::string& why);
  void set_paused(uint64_t id, bool paused);
  void write_body(uint64_t id, std::string&& chunk, bool end);
  void set_client_limits(uint64_t client_id, ClientLimits limits);
  void cancel_client(uint64_t client_id);
  void begin_drain(uint64_t grace_ms);
  void stop_all();

  // Called by connections.
  void emit(Event&& event);
  void exchange_failed(const std::shared_ptr<Exchange>& ex, Error error, bool retryable);
  // The server refused an HTTP/2 stream without processing it: it may go to any usable session
  // (the refusing one included, now that its limits are known), a few times at most.
  void exchange_refused(const std::shared_ptr<Exchange>& ex, Error error);
  // The connection under an idempotent request was lost before its answer began, the connection
  // already out of the pool: once more on any usable connection, else fails with `error`.
  void exchange_lost(const std::shared_ptr<Exchange>& ex, Error error);
  void exchange_succeeded(const std::shared_ptr<Exchange>& ex);
  void connection_reusable(const std::shared_ptr<Connection>& conn);
  void connection_closed(Connection* conn);
  // HTTP/2 connections: ready to take streams; no longer (GOAWAY, closing).
  void http2_ready(const std::shared_ptr<Connection>& conn);
  void http2_unusable(Connection* conn);
  // An exchange that waited on a connection which turned out unsuitable goes round again.
  void redispatch(const std::shared_ptr<Exchange>& ex);
  // A WebSocket met an HTTP/2 server without RFC 8441: again on a new connection offering
  // http/1.1 only (Firefox's reconnect), as an HTTP/1.1 upgrade.
  void retry_websocket_over_http1(const std::shared_ptr<Exchange>& ex);
  void connection_established(bool tls, bool resumed);
  void count_io(uint64_t in, uint64_t out);
  void count_exchange(bool reused);
  void count_ping_timeout() { h2_pings_timed_out++; }
  // `ex` moves to `stage`; the deadline of the phase it enters starts (or goes on).
  void enter_stage(const std::shared_ptr<Exchange>& ex, Stage stage);
  // A live-count change of one connection (deltas may be negative).
  void adjust_counts(OriginCounters* origin, int64_t open, int64_t idle, int64_t connecting,
                     int64_t streams);
  TlsContextCache& tls_contexts() { return tls_contexts_; }
  TlsSessionCache* tls_sessions() { return options.max_tls_sessions ? &tls_sessions_ : nullptr; }
  // Queued requests may be able to go on: look once the current handler is done.
  void schedule_pump();

  // Declared first: destroyed last, after every object that holds one of its sockets or timers.
  asio::io_context io;
  EngineOptions options;
  EventSink& sink;
  std::thread thread;
  std::atomic<bool> accepting{true};  // false once a drain or shutdown began: submits fail

  std::atomic<uint64_t> requests_started{0}, requests_in_flight{0}, connections_opened{0},
      tls_handshakes{0}, connections_open{0}, connections_idle{0}, bytes_in{0}, bytes_out{0},
      connections_live{0}, connections_connecting{0}, requests_queued{0}, tls_resumed{0},
      exchanges{0}, exchanges_reused{0}, h2_pings_timed_out{0}, connections_swept{0};
  std::array<std::atomic<uint64_t>, kErrorCodeCount> errors{};

  PoolOf<Connection> pool;

 private:
  struct Client {
    ClientLimits limits;
    bool own_limits = false;  // set_client_limits was called
    size_t in_flight = 0;     // admitted and not settled
  };

  // Places `ex` on a connection now if it can go anywhere; false (nothing done) if it must wait.
  bool dispatch(const std::shared_ptr<Exchange>& ex);
  // For an exchange that had started (a retry, a refused stream, a waiter handed back): dispatch,
  // or wait at the head of its client's queue.
  void dispatch_or_requeue(const std::shared_ptr<Exchange>& ex);
  void enqueue(const std::shared_ptr<Exchange>& ex, bool front);
  void pump();
  void settle(const std::shared_ptr<Exchange>& ex);
  void admit(const std::shared_ptr<Exchange>& ex);
  Client& client(uint64_t id);
  size_t in_flight_limit(const Client& c) const;
  bool has_room(uint64_t client_id);
  void forget_client_if_unused(uint64_t id);
  void on_total_deadline(const std::shared_ptr<Exchange>& ex);
  void on_phase_deadline(const std::shared_ptr<Exchange>& ex, Phase phase);
  void arm_phase(const std::shared_ptr<Exchange>& ex, Phase phase, uint64_t ms);
  void ensure_sweep();
  void on_sweep(const asio::error_code& ec);
  void finish_drain_if_idle();

  asio::executor_work_guard<asio::io_context::executor_type> work_;
  TlsContextCache tls_contexts_;
  TlsSessionCache tls_sessions_;
  std::unordered_map<uint64_t, std::shared_ptr<Exchange>> exchanges_;
  ExchangeQueue queue_;
  std::unordered_map<uint64_t, Client> clients_;
  asio::steady_timer sweep_timer_;
  bool sweep_armed_ = false;
  asio::steady_timer drain_timer_;
  bool draining_ = false;
  SteadyClock::time_point drain_deadline_{};
  bool stopped_ = false;  // stop_all ran: everything fails, nothing new starts
  bool pump_posted_ = false;
  uint64_t next_connection_id_ = 1;

  // Shutdown hand-over between threads: once the io thread has finished nothing is posted.
  std::mutex stop_mu_;
  bool finished_ = false;
  std::vector<std::function<void()>> on_stopped_;
};

}  // namespace ctn
