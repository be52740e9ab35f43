#include "core/engine.h"

#include <sys/socket.h>

#include <algorithm>

#include "core/engine_impl.h"

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
void complete_headers(RequestSpec& spec) {
  if (!find_header(spec.headers, "host")) {
    spec.headers.insert(spec.headers.begin(), Header{"Host", host_header_value(spec)});
  }
  if (!find_header(spec.headers, "content-length") &&
      !find_header(spec.headers, "transfer-encoding") &&
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

Engine::Engine(EngineOptions options, EventSink& sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}

Engine::~Engine() = default;

void Engine::submit(RequestSpec&& spec) {
  if (impl_->stopping.load()) {
    impl_->sink.deliver(
        error_event(spec.id, {ErrorCode::kClientClosed, Stage::kQueue, "the engine is shut down"}));
    return;
  }
  asio::post(impl_->io, [impl = impl_.get(), s = std::move(spec)]() mutable {
    impl->start(std::move(s));
  });
}

void Engine::cancel(uint64_t id) {
  asio::post(impl_->io, [impl = impl_.get(), id] {
    impl->cancel(id, Error{ErrorCode::kAborted, Stage::kEngine, "the request was aborted"});
  });
}

void Engine::set_paused(uint64_t id, bool paused) {
  asio::post(impl_->io, [impl = impl_.get(), id, paused] { impl->set_paused(id, paused); });
}

void Engine::shutdown(std::function<void()> on_stopped) {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [impl = impl_.get(), cb = std::move(on_stopped)]() mutable {
    impl->on_stopped = std::move(cb);
    impl->stop_all();
  });
}

void Engine::join() {
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
}

EngineStats Engine::stats() const {
  const Impl& i = *impl_;
  EngineStats s;
  s.requests_started = i.requests_started.load();
  s.requests_in_flight = i.requests_in_flight.load();
  s.connections_opened = i.connections_opened.load();
  s.tls_handshakes = i.tls_handshakes.load();
  s.connections_reused = i.connections_reused.load();
  s.connections_open = i.connections_open.load();
  s.connections_idle = i.connections_idle.load();
  s.bytes_in = i.bytes_in.load();
  s.bytes_out = i.bytes_out.load();
  return s;
}

// ---- Engine::Impl (io thread) ----

Engine::Impl::Impl(EngineOptions opts, EventSink& event_sink)
    : options(opts), sink(event_sink), work_(asio::make_work_guard(io)) {
  thread = std::thread([this] {
    // Handlers never throw by design; should one ever do, the io thread keeps serving.
    for (;;) {
      try {
        io.run();
        break;
      } catch (...) {
      }
    }
    // A submit() that raced shutdown() may have posted its start after the stop: run what is
    // queued once more, so every request still gets its terminal event (ERR_CLIENT_CLOSED).
    try {
      io.restart();
      io.poll();
    } catch (...) {
    }
    if (auto cb = std::move(on_stopped)) cb();
  });
}

Engine::Impl::~Impl() {
  if (thread.joinable()) {
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // cannot join ourselves; the thread is already on its way out
    } else {
      if (!stopping.exchange(true)) asio::post(io, [this] { stop_all(); });
      thread.join();
    }
  }
  // Every connection and exchange goes before the io_context they belong to.
  exchanges_.clear();
  idle_.clear();
}

void Engine::Impl::start(RequestSpec&& spec) {
  auto ex = std::make_shared<Exchange>(io);
  ex->spec = std::move(spec);
  requests_started++;
  requests_in_flight++;
  const uint64_t id = ex->spec.id;
  if (stopping.load()) {
    requests_in_flight--;
    emit(error_event(id, {ErrorCode::kClientClosed, Stage::kQueue, "the engine is shut down"}));
    return;
  }
  if (exchanges_.count(id)) {
    // Ids are unique by construction on the JS side; a duplicate is a bug, never a crossed answer.
    requests_in_flight--;
    emit(error_event(id, {ErrorCode::kInternal, Stage::kQueue, "duplicate request id"}));
    return;
  }
  exchanges_.emplace(id, ex);
  ex->profile = ex->spec.custom_profile ? ex->spec.custom_profile.get() : find_profile(ex->spec.profile);
  if (!ex->profile) {
    exchange_failed(ex, Error{ErrorCode::kInvalidOption, Stage::kQueue,
                              "unknown profile '" + ex->spec.profile + "'"}, false);
    return;
  }
  complete_headers(ex->spec);
  const RequestSpec& s = ex->spec;
  ex->key = PoolKey{s.tls, s.host, s.port, s.server_name.empty() ? s.host : s.server_name,
                    ex->profile->id, !s.insecure_skip_verify, s.force_http1};
  if (s.timeout_ms > 0) {
    ex->deadline.expires_after(std::chrono::milliseconds(s.timeout_ms));
    ex->deadline.async_wait([this, weak = std::weak_ptr<Exchange>(ex)](const asio::error_code& ec) {
      auto ex = weak.lock();
      if (ec || !ex || ex->done) return;
      const bool connecting = ex->stage == Stage::kDns || ex->stage == Stage::kConnect ||
                              ex->stage == Stage::kQueue;
      exchange_failed(ex, Error{connecting ? ErrorCode::kConnectTimeout : ErrorCode::kTimeout,
                                ex->stage,
                                "timed out after " + std::to_string(ex->spec.timeout_ms) +
                                    " ms (" + std::string(stage_name(ex->stage)) + ")"},
                      false);
    });
  }
  dispatch(ex);
}

void Engine::Impl::dispatch(const std::shared_ptr<Exchange>& ex) {
  if (!ex->retried) {
    if (auto conn = take_http2(ex->key)) {
      connections_reused++;
      conn->submit_stream(ex);
      return;
    }
    if (auto conn = take_idle(ex->key)) {
      connections_reused++;
      conn->run(ex);
      return;
    }
    // A connection to this origin is being set up and may turn out to be HTTP/2: ride on it
    // rather than racing it with a second handshake.
    auto pending = connecting_.find(ex->key);
    if (pending != connecting_.end()) {
      if (auto conn = pending->second.lock(); conn && conn->connecting()) {
        conn->add_waiter(ex);
        return;
      }
      connecting_.erase(pending);
    }
  }
  auto conn = std::make_shared<Connection>(*this, ex->key, next_connection_id_++);
  open_.emplace(conn.get(), conn);
  if (ex->key.tls && !ex->key.http1_only && http2_available()) connecting_[ex->key] = conn;
  conn->open(ex);
}

void Engine::Impl::redispatch(const std::shared_ptr<Exchange>& ex) {
  if (ex->done) return;
  ex->stage = Stage::kQueue;
  dispatch(ex);
}

// A session with a free stream slot; else the least loaded live session, where the request waits
// for a slot (as browsers queue on their one session rather than opening more connections).
std::shared_ptr<Connection> Engine::Impl::take_http2(const PoolKey& key) {
  auto it = http2_.find(key);
  if (it == http2_.end()) return nullptr;
  auto& list = it->second;
  std::shared_ptr<Connection> least;
  for (auto c = list.begin(); c != list.end();) {
    auto conn = c->lock();
    if (!conn || !conn->accepts_streams()) {
      c = list.erase(c);
      continue;
    }
    if (conn->can_take_stream()) return conn;
    if (!least || conn->open_streams() < least->open_streams()) least = conn;
    ++c;
  }
  return least;
}

void Engine::Impl::http2_ready(const std::shared_ptr<Connection>& conn) {
  auto pending = connecting_.find(conn->key());
  if (pending != connecting_.end() && pending->second.lock() == conn) connecting_.erase(pending);
  http2_[conn->key()].push_back(conn);
}

void Engine::Impl::http2_unusable(Connection* conn) {
  auto it = http2_.find(conn->key());
  if (it == http2_.end()) return;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [conn](const std::weak_ptr<Connection>& w) {
                              auto c = w.lock();
                              return !c || c.get() == conn;
                            }),
             list.end());
}

std::shared_ptr<Connection> Engine::Impl::take_idle(const PoolKey& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    connections_idle--;
    if (!conn->idle()) continue;
    return conn;
  }
  idle_.erase(it);
  return nullptr;
}

void Engine::Impl::cancel(uint64_t id, Error error) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  auto ex = it->second;  // settle() erases the map entry this would otherwise refer to
  exchange_failed(ex, std::move(error), false);
}

void Engine::Impl::set_paused(uint64_t id, bool paused) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  auto& ex = it->second;
  ex->paused = paused;
  if (!paused && ex->connection) ex->connection->resume(ex);
}

void Engine::Impl::stop_all() {
  stopping = true;
  std::vector<std::shared_ptr<Exchange>> pending;
  for (auto& [id, ex] : exchanges_) pending.push_back(ex);
  for (auto& ex : pending) {
    exchange_failed(ex, Error{ErrorCode::kClientClosed, ex->stage, "the client was closed"}, false);
  }
  std::vector<std::shared_ptr<Connection>> conns;
  for (auto& [ptr, weak] : open_) {
    if (auto c = weak.lock()) conns.push_back(std::move(c));
  }
  for (auto& c : conns) c->close();
  idle_.clear();
  http2_.clear();
  connecting_.clear();
  connections_idle = 0;
  work_.reset();
  // Handlers of the operations just cancelled run first; then the loop ends.
  asio::post(io, [this] { io.stop(); });
}

void Engine::Impl::emit(Event&& event) { sink.deliver(std::move(event)); }

void Engine::Impl::exchange_failed(const std::shared_ptr<Exchange>& ex, Error error,
                                   bool retryable) {
  if (ex->done) return;
  if (auto conn = std::move(ex->connection)) conn->abandon(ex);
  if (ex->done) return;  // defensive: abandoning must not have settled it
  if (retryable && !ex->retried && !stopping.load()) {
    // A kept-alive connection the server had already closed: once, on a fresh connection.
    ex->retried = true;
    ex->stage = Stage::kQueue;
    dispatch(ex);
    return;
  }
  ex->done = true;
  emit(error_event(ex->spec.id, std::move(error)));
  settle(ex);
}

void Engine::Impl::exchange_refused(const std::shared_ptr<Exchange>& ex, Error error) {
  constexpr int kMaxRefusals = 5;
  if (ex->done) return;
  if (ex->refusals >= kMaxRefusals || stopping.load()) {
    exchange_failed(ex, std::move(error), false);
    return;
  }
  if (auto conn = std::move(ex->connection)) conn->abandon(ex);
  ex->refusals++;
  ex->stage = Stage::kQueue;
  dispatch(ex);
}

void Engine::Impl::exchange_succeeded(const std::shared_ptr<Exchange>& ex) {
  if (ex->done) return;
  ex->done = true;
  Event e;
  e.kind = Event::Kind::kEnd;
  e.id = ex->spec.id;
  emit(std::move(e));
  settle(ex);
}

void Engine::Impl::settle(const std::shared_ptr<Exchange>& ex) {
  ex->deadline.cancel();
  const uint64_t id = ex->spec.id;
  exchanges_.erase(id);
  requests_in_flight--;
}

void Engine::Impl::connection_reusable(const std::shared_ptr<Connection>& conn) {
  if (stopping.load()) {
    conn->close();
    return;
  }
  auto& stack = idle_[conn->key()];
  if (stack.size() >= options.max_idle_per_origin) {
    auto oldest = std::move(stack.front());
    stack.erase(stack.begin());
    connections_idle--;
    oldest->close();
  }
  stack.push_back(conn);
  connections_idle++;
  conn->park(options.idle_timeout_ms);
}

void Engine::Impl::connection_closed(Connection* conn, bool was_open) {
  open_.erase(conn);
  if (was_open) connections_open--;
  http2_unusable(conn);
  auto pending = connecting_.find(conn->key());
  if (pending != connecting_.end()) {
    auto c = pending->second.lock();
    if (!c || c.get() == conn) connecting_.erase(pending);
  }
  auto it = idle_.find(conn->key());
  if (it == idle_.end()) return;
  auto& stack = it->second;
  for (auto s = stack.begin(); s != stack.end(); ++s) {
    if (s->get() == conn) {
      stack.erase(s);
      connections_idle--;
      break;
    }
  }
  // An emptied stack stays: a caller may hold a reference to it; take_idle() drops empty ones.
}

void Engine::Impl::connection_established(bool tls) {
  if (tls) {
    tls_handshakes++;
  } else {
    connections_opened++;
    connections_open++;
  }
}

void Engine::Impl::count_io(uint64_t in, uint64_t out) {
  bytes_in += in;
  bytes_out += out;
}

}  // namespace ctn
