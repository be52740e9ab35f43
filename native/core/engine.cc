#include "core/engine.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "core/engine_impl.h"
#include "core/quic_options.h"

namespace ctn {

namespace {

bool has_body_semantics(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

std::string host_header_value(const RequestSpec& spec) {
  // IPv6 literals go in brackets (appended piecewise: GCC 12 warns falsely on "[" + s + "]").
  std::string host;
  if (spec.host.find(':') != std::string::npos) {
    host.append("[").append(spec.host).append("]");
  } else {
    host = spec.host;
  }
  const uint16_t default_port = spec.tls ? 443 : 80;
  if (spec.port != default_port) host.append(":").append(std::to_string(spec.port));
  return host;
}

// HTTP/1.1 needs Host and a body length; the caller's own headers always win and keep their place.
// A streamed body of unknown length goes chunked (HTTP/2 drops the field and sends DATA frames).
void complete_headers(RequestSpec& spec) {
  if (!find_header(spec.headers, "host")) {
    spec.headers.insert(spec.headers.begin(), Header{"Host", host_header_value(spec)});
  }
  if (spec.upgrade) return;  // the bytes after the head belong to the protocol upgraded to
  if (spec.body_stream) {
    if (!find_header(spec.headers, "content-length") && !find_header(spec.headers, "transfer-encoding")) {
      spec.headers.push_back(Header{"Transfer-Encoding", "chunked"});
    }
    return;
  }
  if (!find_header(spec.headers, "content-length") && !find_header(spec.headers, "transfer-encoding") &&
      (!spec.body.empty() || has_body_semantics(spec.method))) {
    spec.headers.push_back(Header{"Content-Length", std::to_string(spec.body.size())});
  }
}

Event error_event(uint64_t id, Error error) {
  Event e;
  e.kind = Event::Kind::kError;
  e.id = id;
  e.error = std::move(error);
  return e;
}

}  // namespace

// ---- Engine (thread-safe facade) ----

Engine::Engine(EngineOptions options, EventSink& sink) : impl_(std::make_unique<Impl>(options, sink)) {}

Engine::~Engine() = default;

void Engine::submit(RequestSpec&& spec) {
  const uint64_t id = spec.id;
  if (!impl_->accepting.load() || !impl_->post_start(std::move(spec))) {
    impl_->deliver_error_now(id, {ErrorCode::kClientClosed, Stage::kQueue, "the engine is shut down"});
  }
}

void Engine::cancel(uint64_t id) {
  asio::post(impl_->io,
             [impl = impl_.get(), id] { impl->cancel(id, ErrorCode::kAborted, "the request was aborted"); });
}

void Engine::write_body(uint64_t id, std::string chunk, bool end) {
  asio::post(impl_->io, [impl = impl_.get(), id, c = std::move(chunk), end]() mutable {
    impl->write_body(id, std::move(c), end);
  });
}

void Engine::set_paused(uint64_t id, bool paused) {
  asio::post(impl_->io, [impl = impl_.get(), id, paused] { impl->set_paused(id, paused); });
}

void Engine::set_client_limits(uint64_t client_id, ClientLimits limits) {
  asio::post(impl_->io,
             [impl = impl_.get(), client_id, limits] { impl->set_client_limits(client_id, limits); });
}

void Engine::cancel_client(uint64_t client_id) {
  asio::post(impl_->io, [impl = impl_.get(), client_id] { impl->cancel_client(client_id); });
}

void Engine::drain(uint64_t grace_ms, std::function<void()> on_done) {
  impl_->accepting = false;
  if (!impl_->add_stop_callback(on_done)) {
    if (on_done) on_done();  // the io thread is gone already
    return;
  }
  asio::post(impl_->io, [impl = impl_.get(), grace_ms] { impl->begin_drain(grace_ms); });
}

void Engine::shutdown(std::function<void()> on_stopped) { drain(0, std::move(on_stopped)); }

void Engine::join() {
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
}

asio::io_context& Engine::io_context() { return impl_->io; }

EngineStats Engine::stats() const {
  EngineStats stats = impl_->counters.snapshot();
  stats.alt_svc_origins = impl_->alt_svc.size();
  return stats;
}

std::vector<OriginStats> Engine::origin_stats() const { return impl_->pool.snapshot(); }

// ---- Engine::Impl: cross-thread parts ----

Engine::Impl::Impl(EngineOptions opts, EventSink& event_sink)
    : options(opts),
      sink(event_sink),
      pool(options.pool_limits()),
      work_(asio::make_work_guard(io)),
      tls_sessions_(opts.max_tls_sessions),
      sweep_timer_(io),
      drain_timer_(io) {
  thread = std::thread([this] {
    // Handlers never throw by design; should one ever do, the io thread keeps serving.
    for (;;) {
      try {
        io.run();
        break;
      } catch (...) {
      }
    }
    {
      // From here on nothing is posted any more (post_start answers by itself)...
      std::lock_guard<std::mutex> lock(stop_mu_);
      finished_ = true;
    }
    // ... and what was posted before runs once more, so every request still gets its terminal
    // event (ERR_CLIENT_CLOSED).
    try {
      io.restart();
      io.poll();
    } catch (...) {
    }
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      callbacks = std::move(on_stopped_);
      on_stopped_.clear();
    }
    for (auto& cb : callbacks) {
      if (cb) cb();
    }
  });
}

Engine::Impl::~Impl() {
  if (thread.joinable()) {
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // cannot join ourselves; the thread is already on its way out
    } else {
      accepting = false;
      std::function<void()> none;
      if (add_stop_callback(none)) asio::post(io, [this] { begin_drain(0); });
      thread.join();
    }
  }
  // Every connection and exchange goes before the io_context they belong to.
  admission_.clear();
  exchanges_.clear();
  pool.clear();
}

bool Engine::Impl::post_start(RequestSpec&& spec) {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (finished_) return false;
  // Posted once per batch: whatever comes after this request (cancel, write_body) is posted after
  // the handler that starts it.
  if (incoming_.empty()) asio::post(io, [this] { start_incoming(); });
  incoming_.push_back(std::move(spec));
  return true;
}

void Engine::Impl::start_incoming() {
  std::vector<RequestSpec> batch;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    batch.swap(incoming_);
  }
  for (RequestSpec& spec : batch) start(std::move(spec));
}

bool Engine::Impl::add_stop_callback(std::function<void()>& cb) {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (finished_) return false;
  on_stopped_.push_back(std::move(cb));
  return true;
}

void Engine::Impl::deliver_error_now(uint64_t id, Error error) {
  counters.count_error(error.code);
  sink.deliver(error_event(id, std::move(error)));
}

// ---- Engine::Impl: requests (io thread) ----

void Engine::Impl::start(RequestSpec&& spec) {
  auto ex = std::make_shared<Exchange>(io);
  ex->spec = std::move(spec);
  counters.requests_started++;
  counters.requests_in_flight++;
  const uint64_t id = ex->spec.id;
  if (stopped_) {
    counters.requests_in_flight--;
    emit(error_event(id, {ErrorCode::kClientClosed, Stage::kQueue, "the engine is shut down"}));
    return;
  }
  if (exchanges_.count(id)) {
    // Ids are unique by construction on the JS side; a duplicate is a bug, never a crossed answer.
    counters.requests_in_flight--;
    emit(error_event(id, {ErrorCode::kInternal, Stage::kQueue, "duplicate request id"}));
    return;
  }
  exchanges_.emplace(id, ex);
  ex->profile = ex->spec.custom_profile ? ex->spec.custom_profile.get() : find_profile(ex->spec.profile);
  if (!ex->profile) {
    exchange_failed(
        ex, Error{ErrorCode::kInvalidOption, Stage::kQueue, "unknown profile '" + ex->spec.profile + "'"},
        false);
    return;
  }
  if (ex->spec.http1_retry_hello) ex->spec.force_http1 = true;
  if (ex->spec.upgrade) {
    ex->spec.body_stream = true;
    ex->spec.whole_body = false;
    ex->spec.decompress = false;
    if (!ex->spec.websocket_over_http2 || ex->spec.force_http1) {
      // A connection of its own that speaks HTTP/1.1: it will belong to the upgraded protocol.
      ex->spec.websocket_over_http2 = false;
      ex->spec.force_http1 = true;
      ex->fresh_only = true;
    }
    // Otherwise the profile's ALPN decides (dispatch keeps it off idle HTTP/1.1 connections).
  }
  if (ex->spec.body_stream) ex->spec.body.clear();
  complete_headers(ex->spec);
  const RequestSpec& s = ex->spec;
  std::string proxy_key;
  if (!s.proxy.empty()) {
    proxy::ProxyConfig config;
    std::string why;
    if (!proxy::parse_proxy_url(s.proxy, &config, &why)) {
      exchange_failed(ex, Error{ErrorCode::kInvalidOption, Stage::kQueue, why}, false);
      return;
    }
    proxy_key = proxy::canonical_url(config);
  }
  ex->key = PoolKey{s.tls,
                    s.host,
                    s.port,
                    std::move(proxy_key),
                    s.server_name.empty() ? s.host : s.server_name,
                    ex->profile->id,
                    !s.insecure_skip_verify,
                    s.force_http1,
                    s.http1_retry_hello,
                    {},
                    0,
                    s.identity,
                    s.max_requests_per_connection,
                    s.max_connection_age_ms,
                    // Through a proxy the name is the proxy's to resolve (lib resolves nothing then).
                    s.proxy.empty() ? dial_address_set(s.dns.addresses) : std::string()};
  if (Error refused; !choose_http3(*ex, &refused)) {
    exchange_failed(ex, std::move(refused), false);
    return;
  }
  deadlines_.start_total(ex);
  if (ex->h3_discovery && resolve_first(ex)) return;
  place(ex);
}

void Engine::Impl::place(const std::shared_ptr<Exchange>& ex) {
  const uint64_t cid = ex->spec.client_id;
  // Straight onto a connection when nobody waits and there is room; otherwise through the queue,
  // whose round-robin decides between clients.
  const bool room = admission_.has_room(cid);
  if (room && admission_.nobody_waiting() && dispatch(ex)) {
    admission_.served(cid);
    return;
  }
  if (auto full = admission_.queue_full(cid)) {
    // No room to wait; going at once is still fine when it takes nothing others wait for.
    if (room && !admission_.nobody_waiting() && dispatch(ex)) return;
    exchange_failed(
        ex,
        Error{ErrorCode::kQueueFull, Stage::kQueue, "too many requests waiting for a connection: " + *full},
        false);
    return;
  }
  const bool others_waiting = !admission_.nobody_waiting();
  admission_.enqueue(ex, false);
  if (others_waiting && room) pump();
}

bool Engine::Impl::dispatch(const std::shared_ptr<Exchange>& ex) {
  const PoolKey& key = ex->key;
  if (!ex->fresh_only) {
    if (auto conn = pool.take_http2(key)) {
      admission_.admit(*ex);
      conn->submit_stream(ex);
      return true;
    }
    // An upgrade takes its HTTP/1.1 connection over for good: never one kept alive for others.
    if (auto conn = ex->spec.upgrade ? nullptr : pool.take_idle(key)) {
      admission_.admit(*ex);
      conn->run(ex);
      return true;
    }
    // A connection to this origin is being set up and may turn out to be HTTP/2: ride on it
    // rather than racing it with a second handshake.
    if (auto conn = pool.connecting(key)) {
      admission_.admit(*ex);
      conn->add_waiter(ex);
      return true;
    }
  }
  if (!pool.may_open(key)) {
    // At the total limit an idle connection of another identity makes room; at this identity's
    // own limit the request waits for one of its connections.
    if (pool.at_origin_limit(key) || !pool.evict_idle(&key) || !pool.may_open(key)) return false;
  }
  auto conn = std::make_shared<Connection>(*this, key, next_connection_id_++);
  conn->set_counters(pool.add(conn));
  counters.connections_live++;
  // A connection with a request limit carries no riders it might not have room for: each request
  // of such an identity opens its own until one is up.
  if (key.tls && !key.http1_only && key.max_requests == 0 && http2_available() && pool.may_be_http2(key)) {
    pool.set_connecting(conn);
  }
  ensure_sweep();
  admission_.admit(*ex);
  conn->open(ex);
  return true;
}

void Engine::Impl::dispatch_or_requeue(const std::shared_ptr<Exchange>& ex) {
  if (ex->done) return;
  if (stopped_) {
    exchange_failed(ex, Error{ErrorCode::kClientClosed, ex->stage, "the client was closed"}, false);
    return;
  }
  ex->stage = Stage::kQueue;
  if (!dispatch(ex)) admission_.enqueue(ex, true);
}

void Engine::Impl::redispatch(const std::shared_ptr<Exchange>& ex) { dispatch_or_requeue(ex); }

void Engine::Impl::retry_websocket_over_http1(const std::shared_ptr<Exchange>& ex) {
  if (ex->done) return;
  if (auto conn = std::move(ex->connection)) conn->abandon(ex);
  ex->spec.websocket_over_http2 = false;
  ex->spec.force_http1 = true;
  ex->spec.http1_retry_hello = true;  // the profile's reconnect hello (Firefox: no compress_certificate)
  ex->key.http1_only = true;
  ex->key.http1_retry = true;
  ex->fresh_only = true;
  dispatch_or_requeue(ex);
}

void Engine::Impl::schedule_pump() {
  if (pump_posted_ || admission_.nobody_waiting() || stopped_) return;
  pump_posted_ = true;
  asio::post(io, [this] { pump(); });
}

// Starts what can start, one request per client in turn.
void Engine::Impl::pump() {
  pump_posted_ = false;
  if (stopped_) return;
  // Identities found with nowhere to go (for any connection, and for a fresh one: retries): placing
  // other requests never makes room for them.
  std::set<PoolKey> blocked[2];
  auto eligible = [&](const std::shared_ptr<Exchange>& ex) {
    if (!ex->admitted && !admission_.has_room(ex->spec.client_id)) return false;
    auto& memo = blocked[ex->fresh_only ? 1 : 0];
    if (memo.count(ex->key)) return false;
    if (pool.can_place(ex->key, ex->fresh_only)) return true;
    memo.insert(ex->key);
    return false;
  };
  while (auto ex = admission_.take(eligible)) {
    if (!dispatch(ex)) {
      // Only a stale idle connection can make can_place() too hopeful; now it is gone.
      admission_.enqueue(ex, true);
      blocked[ex->fresh_only ? 1 : 0].insert(ex->key);
    }
  }
}

void Engine::Impl::enter_stage(const std::shared_ptr<Exchange>& ex, Stage stage) {
  deadlines_.enter_stage(ex, stage);
}

void Engine::Impl::deadline_passed(const std::shared_ptr<Exchange>& ex, Error error) {
  exchange_failed(ex, std::move(error), false);
}

void Engine::Impl::cancel(uint64_t id, ErrorCode code, const std::string& why) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  auto ex = it->second;  // settle() erases the map entry this would otherwise refer to
  exchange_failed(ex, Error{code, ex->stage, why}, false);
}

void Engine::Impl::set_paused(uint64_t id, bool paused) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  // Copies: resuming may complete the exchange (a read held while paused), which drops the map's
  // entry and the exchange's hold on its connection.
  const auto ex = it->second;
  ex->paused = paused;
  if (!paused) {
    ex->unacked = 0;
    ex->last_body_at = SteadyClock::now();  // the pause was the caller's, not a quiet server
    if (ex->end_held) {
      // Its connection is done with it: what gathered while paused goes first (it may use up the
      // new credit), then the end. (While a connection has it, the connection hands on what
      // gathered: an HTTP/1.1 read may be filling the gathered body right now.)
      held_bodies_.flush(*ex);
      if (ex->paused) return;
      ex->end_held = false;
      exchange_succeeded(ex);
      return;
    }
    if (const auto connection = ex->connection) connection->resume(ex);
  }
}

void Engine::Impl::write_body(uint64_t id, std::string&& chunk, bool end) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  auto& ex = it->second;
  if (!ex->spec.body_stream || ex->upload_ended) return;
  if (!chunk.empty()) ex->upload.push_back(std::move(chunk));
  ex->upload_ended = end;
  if (ex->connection) ex->connection->upload_available(ex);
}

void Engine::Impl::set_client_limits(uint64_t client_id, ClientLimits limits) {
  admission_.set_limits(client_id, limits);
  schedule_pump();
}

void Engine::Impl::cancel_client(uint64_t client_id) {
  std::vector<std::shared_ptr<Exchange>> mine;
  for (auto& [id, ex] : exchanges_) {
    if (ex->spec.client_id == client_id) mine.push_back(ex);
  }
  for (auto& ex : mine) {
    exchange_failed(ex, Error{ErrorCode::kClientClosed, ex->stage, "the client was closed"}, false);
  }
  admission_.drop_limits(client_id);
}

// ---- shutdown ----

void Engine::Impl::begin_drain(uint64_t grace_ms) {
  if (stopped_) return;
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(grace_ms);
  if (draining_ && deadline >= drain_deadline_) return;  // an earlier, shorter drain stands
  accepting = false;
  draining_ = true;
  drain_deadline_ = deadline;
  if (grace_ms == 0 || exchanges_.empty()) {
    stop_all();
    return;
  }
  drain_timer_.expires_at(deadline);
  drain_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) stop_all();
  });
}

void Engine::Impl::finish_drain_if_idle() {
  if (!draining_ || stopped_ || !exchanges_.empty()) return;
  // Not from inside the connection callback that settled the last exchange: stop_all closes it.
  asio::post(io, [this] {
    if (draining_ && !stopped_ && exchanges_.empty()) stop_all();
  });
}

void Engine::Impl::stop_all() {
  if (stopped_) return;
  stopped_ = true;
  accepting = false;
  drain_timer_.cancel();
  sweep_timer_.cancel();
  std::vector<std::shared_ptr<Exchange>> pending;
  for (auto& [id, ex] : exchanges_) pending.push_back(ex);
  for (auto& ex : pending) {
    exchange_failed(ex, Error{ErrorCode::kClientClosed, ex->stage, "the client was closed"}, false);
  }
  for (auto& [key, first] : resolving_first_) first.lookup->cancel();
  resolving_first_.clear();
  for (auto& c : pool.all()) c->close();
  pool.clear();
  tls_sessions_.clear();
  work_.reset();
  // Handlers of the operations just cancelled run first; then the loop ends.
  asio::post(io, [this] { io.stop(); });
}

// ---- results ----

void Engine::Impl::emit(Event&& event) {
  if (event.kind == Event::Kind::kError) counters.count_error(event.error.code);
  sink.deliver(std::move(event));
}

void Engine::Impl::exchange_failed(const std::shared_ptr<Exchange>& ex, Error error, bool retryable) {
  if (ex->done) return;
  if (auto conn = std::move(ex->connection)) conn->abandon(ex);
  if (ex->done) return;  // defensive: abandoning must not have settled it
  if (retryable && !ex->retried && !stopped_ && ex->can_resend()) {
    // A kept-alive connection the server had already closed: once, on a fresh connection.
    ex->retried = true;
    ex->fresh_only = true;
    dispatch_or_requeue(ex);
    return;
  }
  ex->done = true;
  // Settled first: whoever sees the event then sees the counts (stats()) that go with it.
  const auto keep = ex;
  settle(keep);
  emit(error_event(keep->spec.id, std::move(error)));
}

void Engine::Impl::exchange_refused(const std::shared_ptr<Exchange>& ex, Error error, bool session_served) {
  // A session that refuses without having served anything is a server that will not take the
  // request: a few tries. One that served other streams first (a server closing each connection
  // after N requests: GOAWAY, the rest refused) makes progress with every connection: the request
  // goes again until its turn comes, bounded all the same.
  constexpr int kMaxRefusals = 5;
  constexpr int kMaxRefusalsWithProgress = 1000;
  if (ex->done) return;
  if (!session_served) ex->refusals_without_progress++;
  if (ex->refusals_without_progress > kMaxRefusals || ex->refusals >= kMaxRefusalsWithProgress || stopped_ ||
      !ex->can_resend()) {
    exchange_failed(ex, std::move(error), false);
    return;
  }
  if (auto conn = std::move(ex->connection)) conn->abandon(ex);
  ex->refusals++;
  dispatch_or_requeue(ex);
}

void Engine::Impl::exchange_lost(const std::shared_ptr<Exchange>& ex, Error error) {
  if (ex->done) return;
  if (ex->retried || stopped_ || !ex->can_resend()) {
    exchange_failed(ex, std::move(error), false);
    return;
  }
  if (auto conn = std::move(ex->connection)) conn->abandon(ex);
  ex->retried = true;
  dispatch_or_requeue(ex);
}

void Engine::Impl::exchange_succeeded(const std::shared_ptr<Exchange>& ex) {
  if (ex->done) return;
  if (ResponseSink::held_back(*ex)) {
    // The consumer holds the response back: the end goes out after what it has not taken yet,
    // when it asks for more. Its deadlines go on (a consumer paused past timeout_ms fails, as
    // over HTTP/1.1, where the read that would end the response waits).
    ex->connection.reset();
    ex->end_held = true;
    return;
  }
  ex->done = true;
  const auto keep = ex;
  settle(keep);
  Event e;
  e.kind = Event::Kind::kEnd;
  e.id = keep->spec.id;
  emit(std::move(e));
}

void Engine::Impl::settle(const std::shared_ptr<Exchange>& ex) {
  Deadlines::cancel(*ex);
  if (admission_.release(*ex)) schedule_pump();  // a client slot is free
  exchanges_.erase(ex->spec.id);
  counters.requests_in_flight--;
  finish_drain_if_idle();
}

// ---- connections ----

void Engine::Impl::connection_reusable(const std::shared_ptr<Connection>& conn) {
  if (stopped_ || conn->worn_out() || !pool.park(conn)) {
    conn->close();
    return;
  }
  conn->park(options.idle_timeout_ms);
  schedule_pump();
}

void Engine::Impl::connection_closed(Connection* conn) {
  counters.connections_live--;
  pool.remove(conn);
  schedule_pump();  // room for a new connection
}

void Engine::Impl::http2_ready(const std::shared_ptr<Connection>& conn) {
  pool.http2_ready(conn);
  schedule_pump();
}

void Engine::Impl::http2_unusable(Connection* conn) { pool.http2_unusable(conn); }

// ---- stale sweep ----

void Engine::Impl::ensure_sweep() {
  if (sweep_armed_ || stopped_ || options.sweep_interval_ms == 0) return;
  sweep_armed_ = true;
  sweep_timer_.expires_after(std::chrono::milliseconds(options.sweep_interval_ms));
  sweep_timer_.async_wait([this](const asio::error_code& ec) { on_sweep(ec); });
}

void Engine::Impl::on_sweep(const asio::error_code& ec) {
  sweep_armed_ = false;
  if (ec || stopped_) return;
  counters.connections_swept += pool.sweep();
  // The watch reads of parked connections see most closes at once; this catches the rest (a FIN
  // behind unread bytes, a session whose reader is stalled by back-pressure) and forgets dead
  // references. Only while there are connections: an idle engine has no timer ticking.
  if (pool.size() > 0) ensure_sweep();
}

}  // namespace ctn
