#include "share/hub.h"

#include <unistd.h>

#include <map>
#include <thread>

#include <asio.hpp>

#include "share/client_link.h"
#include "share/election.h"
#include "share/failover.h"
#include "share/host_server.h"
#include "share/hub_context.h"

namespace ctn::share {

// The façade: takes this process's requests on any thread and sends each where it runs now (the
// engine of this process when it hosts, the link to the host when another process does, or the
// queue of requests waiting for a host), runs the election when there is no host, and steps
// through the hub's roles and its stop. The parts do the work: Election (who hosts), HostServer
// (serving other processes), ClientLink (the link to the host), Failover (requests between hosts).
class Hub::Impl : public EventSink, private Election::Listener, private ClientLink::Owner {
 public:
  Impl(HubOptions options, EventSink& sink)
      : hub_(std::move(options), sink),
        work_(asio::make_work_guard(hub_.io)),
        waiting_(hub_),
        election_(hub_, *this),
        link_(hub_, *this),
        host_(hub_, [this] { finish_stop(); }) {
    thread_ = std::thread([this] {
      for (;;) {
        try {
          hub_.io.run();
          break;
        } catch (...) {
          // Every handler that can throw contains it (contained()); this is the last resort that
          // keeps the io thread alive should one ever escape.
        }
      }
      if (auto cb = std::move(on_stopped_)) cb();
    });
  }

  ~Impl() override {
    if (thread_.joinable()) {
      if (!hub_.stopping.exchange(true)) {
        asio::post(hub_.io, [this] { stop(false); });
      }
      thread_.join();
    }
    release_engine();
  }

  // ---- thread-safe entry points ----

  void start() {
    asio::post(hub_.io, [this] {
      election_.locate(hub_.options.socket_dir);
      elect();
    });
  }

  void submit(RequestSpec&& spec) {
    // The common case, a process that hosts, goes straight to its engine: no extra hop.
    if (Engine* engine = host_engine_.load(std::memory_order_acquire)) {
      engine->submit(std::move(spec));
      return;
    }
    // Batched like the engine's events: a burst of requests costs one wake-up of the hub's thread.
    // A cancel or pause posted after a submit still runs after it (the drain was posted first).
    submits_.push(std::move(spec), hub_.io, [this] { drain_submits(); });
  }

  void cancel(uint64_t id) {
    on_thread(id, [this, id] {
      if (!link_.cancel(id) && !waiting_.cancel(id) && engine_) engine_->cancel(id);
    });
  }

  void set_paused(uint64_t id, bool paused) {
    on_thread(id, [this, id, paused] {
      if (!link_.set_paused(id, paused) && engine_) engine_->set_paused(id, paused);
    });
  }

  void write_body(uint64_t id, std::string chunk, bool end) {
    // Through the hub's thread even when hosting: a submit still in the hub's queue must reach the
    // engine before its body does.
    on_thread(id, [this, id, c = std::move(chunk), end]() mutable {
      // Each takes the piece only when the request is there: on the link, or waiting for a host.
      if (link_.write_body(id, std::move(c), end) || waiting_.hold_upload(id, std::move(c), end)) return;
      if (engine_) engine_->write_body(id, std::move(c), end);
    });
  }

  void set_client_limits(uint64_t client_id, ClientLimits limits) {
    // A host takes it the way it takes submits (straight to its engine), so the limits are in
    // place before the client's first request; a client sends it down the link ahead of them.
    Engine* engine = host_engine_.load(std::memory_order_acquire);
    if (engine) engine->set_client_limits(client_id, limits);
    asio::post(hub_.io, [this, client_id, limits, direct = engine != nullptr] {
      client_limits_[client_id] = limits;
      if (role_ == Role::kHost) {
        if (!direct) engine_->set_client_limits(client_id, limits);
      } else if (link_.ready()) {
        link_.send_client_limits(client_id, limits);
      }
    });
  }

  void cancel_client(uint64_t client_id) {
    asio::post(hub_.io, [this, client_id] {
      client_limits_.erase(client_id);
      if (engine_) engine_->cancel_client(client_id);
    });
  }

  std::vector<OriginStats> origin_stats() const {
    if (Engine* engine = host_engine_.load(std::memory_order_acquire)) return engine->origin_stats();
    return {};
  }

  void shutdown(bool graceful, std::function<void()> on_stopped) {
    if (hub_.stopping.exchange(true)) {
      // Already handing over, and now the process is going: stop waiting for remote requests.
      if (!graceful) asio::post(hub_.io, [this] { escalate(); });
      return;
    }
    asio::post(hub_.io, [this, graceful, cb = std::move(on_stopped)]() mutable {
      on_stopped_ = std::move(cb);
      stop(graceful);
    });
  }

  void join() {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    release_engine();
  }

  HubStats stats() const {
    const HubCounters& c = hub_.counters;
    HubStats s;
    s.role = c.role.load();
    s.link = c.link.load();
    s.streams_in_flight = c.streams.load();
    s.pending = c.pending.load();
    s.elections = c.elections.load();
    s.links_established = c.links.load();
    s.reconnects = s.links_established > 0 ? s.links_established - 1 : 0;
    s.retried = c.retried.load();
    s.host_gone = c.host_gone.load();
    s.peers_open = c.peers_open.load();
    s.peers_accepted = c.peers_accepted.load();
    s.peers_refused = c.peers_refused.load();
    s.host_pid = c.host_pid.load();
    if (Engine* engine = host_engine_.load(std::memory_order_acquire)) s.engine = engine->stats();
    return s;
  }

  // The hosted engine's events (engine thread): this process's own go to its sink, the others'
  // back over their links.
  void deliver(Event&& event) override {
    if ((event.id & kRemoteBit) == 0) {
      hub_.sink.deliver(std::move(event));
      return;
    }
    host_.engine_event(std::move(event));
  }

 private:
  enum class Role { kElecting, kHost, kClient, kStopped };

  void set_role(Role role) {
    role_ = role;
    switch (role) {
      case Role::kElecting:
        hub_.counters.role = "electing";
        break;
      case Role::kHost:
        hub_.counters.role = "host";
        hub_.counters.link = "listening";
        break;
      case Role::kClient:
        hub_.counters.role = "client";
        break;
      case Role::kStopped:
        hub_.counters.role = "stopped";
        hub_.counters.link = "none";
        break;
    }
  }

  void announce(const char* role) {
    // The first announcement resolves initCycleTLS; later ones tell of a changed role.
    announced_ = true;
    hub_.sink.deliver(notice_event(role));
  }

  // Runs `work` for request `id` on the hub's thread; a fault on its way fails that request.
  template <class Work>
  void on_thread(uint64_t id, Work&& work) {
    asio::post(hub_.io, [this, id, w = std::forward<Work>(work)]() mutable {
      contained([&] { w(); }, [&](const std::string& why) { fail_own_request(id, why); });
    });
  }

  void drain_submits() {
    std::vector<RequestSpec> batch = submits_.take();
    for (auto& spec : batch) {
      const uint64_t id = spec.id;
      contained([&] { route(std::move(spec)); }, [&](const std::string& why) { fail_own_request(id, why); });
    }
  }

  // Where one of this process's requests runs now.
  void route(RequestSpec&& spec) {
    if (hub_.stopping) {
      hub_.sink.deliver(
          error_event(spec.id, ErrorCode::kClientClosed, Stage::kQueue, "the client was closed"));
      return;
    }
    const uint64_t id = spec.id;
    if (role_ == Role::kHost) {
      engine_->submit(std::move(spec));
      waiting_.replay_upload(
          id, [&](std::string&& piece, bool end) { engine_->write_body(id, std::move(piece), end); });
      return;
    }
    if (link_.open()) {
      send(std::move(spec));
      return;
    }
    waiting_.wait(std::move(spec));
    elect();
  }

  void send(RequestSpec&& spec) {
    const uint64_t id = spec.id;
    link_.send_request(std::move(spec));
    waiting_.replay_upload(
        id, [&](std::string&& piece, bool end) { link_.send_early_upload(id, std::move(piece), end); });
  }

  // One of this process's own requests hit a fault on its way (routing, writing its body).
  void fail_own_request(uint64_t id, const std::string& why) {
    link_.forget(id);
    waiting_.forget(id);
    if (engine_) engine_->cancel(id);
    hub_.sink.deliver(error_event(id, ErrorCode::kInternal, Stage::kEngine, why));
  }

  // ---- the election ----

  void elect() {
    if (election_.running() || hub_.stopping_now || role_ == Role::kHost) return;
    set_role(Role::kElecting);
    election_.begin();
  }

  void elected(LocalAcceptor acceptor, ino_t inode) override {
    link_.close();
    if (!engine_) engine_ = std::make_unique<Engine>(hub_.options.engine, static_cast<EventSink&>(*this));
    for (const auto& [id, limits] : client_limits_) engine_->set_client_limits(id, limits);
    set_role(Role::kHost);
    hub_.counters.host_pid = static_cast<uint64_t>(getpid());
    // Everything that waited goes to the engine before the fast path opens, so a cancel that
    // takes the fast path can never overtake its request.
    for (auto& spec : waiting_.take_all()) engine_->submit(std::move(spec));
    host_engine_.store(engine_.get(), std::memory_order_release);
    host_.start(std::move(acceptor), inode, *engine_, election_.socket_path(), election_.lock_path());
    announce("host");
  }

  void host_found() override { link_.connect(election_.socket_path()); }

  void election_failed(ErrorCode code, const std::string& why) override {
    link_.close();
    set_role(Role::kClient);
    hub_.counters.link = "none";
    waiting_.fail_all(code, why);
    if (!announced_) {
      announced_ = true;
      hub_.sink.deliver(notice_event("failed", Error{code, Stage::kLink, why}));
    }
  }

  // ---- the client link ----

  bool electing() const override { return election_.running(); }
  bool requests_waiting() const override { return waiting_.any(); }

  void link_ready() override {
    election_.conclude();
    set_role(Role::kClient);
    // A new host knows nothing of our clients' limits yet; what waited for it goes out now, in
    // the order it came.
    std::vector<RequestSpec> waited = waiting_.take_all();
    for (const auto& [id, limits] : client_limits_) link_.send_client_limits(id, limits);
    for (auto& spec : waited) send(std::move(spec));
    link_.arm_idle();
    announce("client");
  }

  // Whoever holds the port is not an engine of ours: say so at once rather than time out later.
  // At start-up that is the answer (ERR_PORT_IN_USE, fast); during a handover it may be a host
  // still starting or already leaving, so it is tried again until the handover deadline.
  void host_not_ours(const std::string& why) override {
    link_.abandon();
    const std::string message =
        "port " + std::to_string(hub_.options.port) + " (" + election_.socket_path() +
        ") is held by something that is not a cycletls-native engine of this user: " + why;
    if (!announced_) {
      election_.fail(ErrorCode::kPortInUse, message);
    } else {
      election_.retry(message);
    }
  }

  void host_refused(const std::string& why) override { election_.fail(ErrorCode::kShareSecret, why); }
  void host_unavailable(const std::string& why) override { election_.retry(why); }

  void host_closed_in_handshake(bool silent, const std::string& reason) override {
    if (silent && election_.forgive_silent_close())
      return election_.retry("the port's owner closed without a word");
    host_not_ours(reason.empty() ? "it closed the connection during the handshake" : reason);
  }

  void host_leaving() override { elect(); }

  void host_lost() override {
    // The host is gone: one of the processes left takes the port now, whether or not it has work.
    if (!hub_.stopping) elect();
  }

  void link_failed(bool current, const std::string& why) override {
    if (current && election_.running()) election_.retry(why);  // it failed during the handshake
    if (waiting_.any()) elect();
  }

  void rerun(RequestSpec&& spec) override {
    ++hub_.counters.retried;
    route(std::move(spec));
  }

  // ---- leaving ----

  void stop(bool graceful) {
    hub_.stopping_now = !graceful;
    election_.stop(!graceful);
    waiting_.stop();
    waiting_.fail_all(ErrorCode::kClientClosed, "the client was closed");
    link_.leave(graceful);
    // A host that serves other processes says when its last peer is gone (on_drained).
    if (host_.started()) {
      host_.stop(graceful);
    } else {
      finish_stop();
    }
  }

  // Already handing over, and now the process is going: stop waiting for remote requests.
  void escalate() {
    hub_.stopping_now = true;
    election_.stop(true);
    link_.close_draining();
    if (host_.started()) {
      host_.close_all("the host process is exiting");
    } else {
      finish_stop();
    }
  }

  // After the hub's thread ended: the engine's io thread ends, then what the host server holds on
  // the engine's io_context goes, then the engine.
  void release_engine() {
    if (!engine_) return;
    engine_->join();
    host_.release();
    engine_.reset();
  }

  void finish_stop() {
    if (finished_) return;
    finished_ = true;
    if (host_.started()) host_.finish();
    host_engine_.store(nullptr, std::memory_order_release);
    set_role(Role::kStopped);
    auto done = [this] {
      work_.reset();
      hub_.io.stop();
    };
    if (engine_) {
      engine_->shutdown([this, done] { asio::post(hub_.io, done); });
    } else {
      done();
    }
  }

  HubContext hub_;  // first: the io_context outlives every part's timers and sockets
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Failover waiting_;
  Election election_;
  ClientLink link_;
  HostServer host_;
  std::unique_ptr<Engine> engine_;
  std::atomic<Engine*> host_engine_{nullptr};
  Role role_ = Role::kElecting;
  bool announced_ = false;
  bool finished_ = false;
  std::map<uint64_t, ClientLimits> client_limits_;  // our clients' limits, for every new host
  Handoff<RequestSpec> submits_;  // this process's requests on their way to the hub's thread
  std::function<void()> on_stopped_;
  std::thread thread_;
};

Hub::Hub(HubOptions options, EventSink& sink) : impl_(std::make_unique<Impl>(std::move(options), sink)) {}
Hub::~Hub() = default;
void Hub::start() { impl_->start(); }
void Hub::submit(RequestSpec&& spec) { impl_->submit(std::move(spec)); }
void Hub::cancel(uint64_t id) { impl_->cancel(id); }
void Hub::set_paused(uint64_t id, bool paused) { impl_->set_paused(id, paused); }
void Hub::write_body(uint64_t id, std::string chunk, bool end) {
  impl_->write_body(id, std::move(chunk), end);
}
void Hub::shutdown(bool graceful, std::function<void()> on_stopped) {
  impl_->shutdown(graceful, std::move(on_stopped));
}
void Hub::set_client_limits(uint64_t client_id, ClientLimits limits) {
  impl_->set_client_limits(client_id, limits);
}
void Hub::cancel_client(uint64_t client_id) { impl_->cancel_client(client_id); }
std::vector<OriginStats> Hub::origin_stats() const { return impl_->origin_stats(); }
void Hub::join() { impl_->join(); }
HubStats Hub::stats() const { return impl_->stats(); }

}  // namespace ctn::share
