// One upstream connection as the pool and the engine see it: the object that owns the socket (its
// Transport), the Dialler that sets it up, then one protocol channel, and the pool accounting.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <asio.hpp>

#include "core/channel_host.h"
#include "core/dialler.h"
#include "core/engine.h"
#include "core/engine_counters.h"
#include "core/exchange.h"
#include "core/response_sink.h"
#include "core/transport.h"
#include "pool/pool.h"

namespace ctn {

class Http1Channel;
class Http2Channel;
class Http3Channel;

// One socket (TCP, TLS on top for https) carrying HTTP/1.1 exchanges one at a time
// (Http1Channel), or HTTP/2 exchanges as concurrent streams (Http2Channel), as ALPN decides after
// the handshake (Dialler). While it is being set up it holds the exchange it was opened for and
// those waiting to learn whether it will be HTTP/2; the channel takes them over once it is up.
// Beast style: one object per connection, stage-named handlers, one operation per direction at a
// time; every pending handler holds the connection.
class Connection : public std::enable_shared_from_this<Connection>,
                   public PooledConnection,
                   DialListener,
                   ChannelHost {
 public:
  Connection(Engine::Impl& engine, PoolKey key, uint64_t id);
  ~Connection();

  const PoolKey& key() const override { return key_; }
  uint64_t id() const { return id_; }
  // Called once by the engine right after construction: the pool's live counts for this identity.
  void set_counters(std::shared_ptr<OriginCounters> counters) { counters_ = std::move(counters); }
  // Past its rotation limits (PoolKey::max_requests, max_age_ms): it takes no new request, and
  // closes once the ones it carries are done.
  bool worn_out() const;
  // HTTP/1.1: established, unused, and not closed by the server (checked with the kernel).
  bool idle() const override;
  // HTTP/2: established, no stream, still taking streams.
  bool session_idle() const override;
  // The server closed the socket (FIN or reset seen by the kernel, not yet by us).
  bool peer_closed() const override;
  // HTTP/2 or HTTP/3: streams multiplexed on one connection (the pool treats both alike).
  bool is_http2() const override { return h2_ != nullptr || h3_ != nullptr; }
  bool closed() const override { return closed_; }
  // When the connection last became idle (parked, or its last stream ended).
  SteadyClock::time_point idle_since() const override { return idle_since_; }
  // Still resolving, connecting or handshaking.
  bool connecting() const override { return !established_ && !closed_; }
  // HTTP/2: a new stream would go out at once.
  bool can_take_stream() const override;
  // HTTP/2: the session still takes streams (queued beyond the server's limit); no GOAWAY.
  bool accepts_streams() const override;
  size_t open_streams() const override;

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
  void close(const char* why = kConnectionClosedReason) override;
  // HTTP/2: sends GOAWAY (best effort) and closes.
  void retire() override;
  // HTTP/3: the QUIC handshake is done (streams go out; the pool offers the connection).
  void http3_established();
  // Idle in the pool: any byte or EOF from the server now means the connection is finished.
  void park(uint64_t idle_timeout_ms);
  // What this connection's ClientHello did about ECH: 'real' (accepted), 'grease' or 'none' (TCP;
  // HTTP/3 connections report their profile's GREASE).
  EchStatus ech_status() const;

 private:
  // The setup failed: the exchange it was for and the waiters fail with `error`; it closes.
  void fail(Error error);
  ConnectionInfo info(const Exchange& ex);
  // Computes fingerprint_ when it can first be (after the handshake; over HTTP/2 once the first
  // request's HEADERS went out), then never again.
  void complete_fingerprint();
  // Waiters hoped for HTTP/2: with an error they share the connection's fate, else they go back
  // to the engine.
  void hand_back_waiters(const Error* error);
  // Moves the owner and every waiter to `stage` (their phase deadlines follow).
  void enter_stage_all(Stage stage);
  void on_idle_timeout(const asio::error_code& ec);
  // Starts the idle timer: the engine's idle timeout, or sooner when the connection's age limit
  // comes first (it then closes when idle, as the limit says).
  void arm_idle_timer(uint64_t idle_timeout_ms);
  // A request was put on this connection (what max_requests counts) and its identity's stats.
  void placed();

  // DialListener
  const Exchange* dial_for() const override;
  void dial_stage(Stage stage) override;
  void dial_tcp_connected() override;
  void dial_io(uint64_t in, uint64_t out) override;
  void dial_failed(Error error) override;
  void dialled(bool http2) override;

  // ChannelHost
  Engine::Impl& engine() override { return engine_; }
  const PoolKey& pool_key() const override { return key_; }
  Transport& transport() override { return transport_; }
  ResponseSink& sink() override { return sink_; }
  std::shared_ptr<Connection> self() override { return shared_from_this(); }
  void begin_response(Exchange& ex, ResponseHead&& head) override;
  // Brings this connection's share of the engine's and the pool's live counts up to date.
  void account() override;
  void became_idle() override;
  void became_busy() override;
  void unusable() override;

  Engine::Impl& engine_;
  PoolKey key_;
  uint64_t id_;
  Transport transport_;
  Dialler dialler_;
  ResponseSink sink_;
  asio::steady_timer idle_timer_;  // parked HTTP/1.1, or HTTP/2 without streams
  // While connecting: the exchange it is opened for, and those waiting to ride on it if HTTP/2.
  std::shared_ptr<Exchange> exchange_;
  std::vector<std::shared_ptr<Exchange>> waiters_;
  // Once established, one of the two; an HTTP/3 connection (PoolKey::http3) has h3_ from the start
  // (its QUIC connection, not transport_, carries it).
  std::unique_ptr<Http1Channel> h1_;
  std::unique_ptr<Http2Channel> h2_;
  std::unique_ptr<Http3Channel> h3_;
  std::shared_ptr<const fingerprint::ConnectionFingerprint> fingerprint_;
  bool fingerprint_complete_ = false;
  bool tcp_open_ = false;
  bool established_ = false;
  bool parked_ = false;
  bool closed_ = false;
  SteadyClock::time_point idle_since_{};
  const SteadyClock::time_point opened_at_ = SteadyClock::now();
  uint64_t requests_placed_ = 0;
  // The named identity's counts (nullptr for the default identity).
  std::shared_ptr<IdentityCounters> identity_counters_;
  // What account() last added to the live counts.
  std::shared_ptr<OriginCounters> counters_;
  bool counted_open_ = false, counted_idle_ = false, counted_connecting_ = false;
  size_t counted_streams_ = 0;
};

}  // namespace ctn
