// Internal to the engine: its io state (the io thread, the exchanges it carries, the clients'
// queues and limits, the pool, drain and shutdown).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "core/admission.h"
#include "core/connection.h"
#include "core/deadlines.h"
#include "core/engine.h"
#include "core/engine_counters.h"
#include "core/exchange.h"
#include "core/response_sink.h"
#include "pool/alt_svc_store.h"
#include "pool/pool.h"
#include "tls/tls_context.h"

namespace ctn {

class Engine::Impl : public EventSink, DeadlineListener {
 public:
  Impl(EngineOptions options, EventSink& sink);
  ~Impl();

  // Any thread.
  // Queues `spec` for start_incoming() unless the io thread has finished; false then (the caller
  // answers the request).
  bool post_start(RequestSpec&& spec);
  // Registers a drain callback; false when the io thread has already finished (run it yourself).
  bool add_stop_callback(std::function<void()>& cb);
  void deliver_error_now(uint64_t id, Error error);

  // io thread only, below.
  // Starts every request post_start() queued, in order.
  void start_incoming();
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
  // EventSink, for the response sinks of its connections: the same as emit().
  void deliver(Event&& event) override { emit(std::move(event)); }
  void exchange_failed(const std::shared_ptr<Exchange>& ex, Error error, bool retryable);
  // The server refused an HTTP/2 stream without processing it: it may go to any usable session
  // (the refusing one included, now that its limits are known), a few times at most.
  // `session_served`: the refusing session had completed other streams (progress).
  void exchange_refused(const std::shared_ptr<Exchange>& ex, Error error, bool session_served);
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
  // `ex` moves to `stage`; the deadline of the phase it enters starts (or goes on).
  void enter_stage(const std::shared_ptr<Exchange>& ex, Stage stage);
  TlsContextCache& tls_contexts() { return tls_contexts_; }
  TlsSessionCache* tls_sessions() { return options.max_tls_sessions ? &tls_sessions_ : nullptr; }
  // Queued requests may be able to go on: look once the current handler is done.
  void schedule_pump();
  // HTTP/3: whether `ex` goes over QUIC (its key gets the QUIC endpoint): http3 "force", or
  // "alt-svc" with a usable alternative remembered for its origin. False with *error when "force"
  // cannot be honoured (no QUIC fingerprint for the profile, a proxy, http://, a WebSocket).
  bool choose_http3(Exchange& ex, Error* error);
  // HTTP/3 discovery on a cold origin (ex->h3_discovery, nothing pooled for it, a host name): its
  // lookup (A, AAAA and HTTPS, cached for the dial that follows) is started or joined, and
  // resolved_first() places `ex` once its HTTPS record is known, so an alpn with h3 races QUIC
  // already on the first request, as Chrome's DNS ALPN job does. False: place `ex` now.
  bool resolve_first(const std::shared_ptr<Exchange>& ex);
  // An alt-svc exchange goes over TCP after all: its QUIC attempt failed, or lost the race to TCP
  // (core/http3_channel.h).
  void http3_fallback(const std::shared_ptr<Exchange>& ex);
  // The alternative of a QUIC connection of `quic_key` failed before its handshake: it backs off
  // (AltSvcStore::mark_broken), so later requests go straight to TCP for a while.
  void http3_broken(const PoolKey& quic_key);
  // A QUIC connection of `quic_key` completed its handshake: its alternative's back-off starts over.
  void http3_confirmed(const PoolKey& quic_key);
  // A response head arrived on a connection of `key`: its Alt-Svc fields, if any, update what
  // alt_svc remembers of the origin's HTTP/3 alternatives (for the QUIC race to consult).
  void learn_alternatives(const PoolKey& key, const HeaderList& headers);
  // `key`'s name resolved (for a TCP dial, resolve_first, or the caller's DoH answer): an HTTPS record
  // whose alpn has "h3" advertises HTTP/3 on the origin's own port, as an Alt-Svc `h3=":port"` would,
  // for the answer's TTL.
  void learn_alternatives(const PoolKey& key, const DnsAnswer& answer);

  // Declared first: destroyed last, after every object that holds one of its sockets or timers.
  asio::io_context io;
  EngineOptions options;
  EventSink& sink;
  std::thread thread;
  std::atomic<bool> accepting{true};  // false once a drain or shutdown began: submits fail

  EngineCounters counters;

  PoolOf<Connection> pool;
  // The origins' HTTP/3 alternatives, learnt from Alt-Svc whatever the http3 mode: remembering costs
  // a bounded map, and the browser learns them the same way before it races QUIC.
  AltSvcStore alt_svc;
  // Names to addresses (and HTTPS records), on this io thread, cached by TTL (native/dns).
  dns::Resolver resolver{io};

 private:
  // A started exchange goes on a connection, or waits in its client's queue (or fails: queue full).
  void place(const std::shared_ptr<Exchange>& ex);
  void resolved_first(const PoolKey& key, dns::ResolveResult result);
  // Whether an alternative remembered for `ex`'s origin is usable: its key then names it.
  bool take_alternative(Exchange& ex);
  // Places `ex` on a connection now if it can go anywhere; false (nothing done) if it must wait.
  bool dispatch(const std::shared_ptr<Exchange>& ex);
  // For an exchange that had started (a retry, a refused stream, a waiter handed back): dispatch,
  // or wait at the head of its client's queue.
  void dispatch_or_requeue(const std::shared_ptr<Exchange>& ex);
  void pump();
  void settle(const std::shared_ptr<Exchange>& ex);
  // DeadlineListener: the exchange fails.
  void deadline_passed(const std::shared_ptr<Exchange>& ex, Error error) override;
  void ensure_sweep();
  void on_sweep(const asio::error_code& ec);
  void finish_drain_if_idle();

  asio::executor_work_guard<asio::io_context::executor_type> work_;
  TlsContextCache tls_contexts_;
  TlsSessionCache tls_sessions_;
  Deadlines deadlines_{*this};
  std::unordered_map<uint64_t, std::shared_ptr<Exchange>> exchanges_;
  // resolve_first()'s lookups, one per origin, and the exchanges waiting for each.
  struct FirstLookup {
    std::shared_ptr<dns::PendingLookup> lookup;
    std::vector<std::shared_ptr<Exchange>> waiting;
  };
  std::map<PoolKey, FirstLookup> resolving_first_;
  // Hands on the body bytes a paused streamed response gathered, when its consumer resumes.
  ResponseSink held_bodies_{*this};
  Admission admission_{options, counters.requests_queued};
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
  // Requests submitted and not yet started, guarded by stop_mu_: one post starts every request
  // that came meanwhile (a burst from the JS thread wakes the io thread once, not per request).
  std::vector<RequestSpec> incoming_;
};

}  // namespace ctn
