// What the parts of one hub share (the election, the host server, the client link, the requests
// waiting for a host): its options, its io thread, the sink of this process's events, its counters
// and its stop flags. Everything but the atomics and warn() is touched on the hub's thread only (the
// host server runs on the engine's io thread: it reads the atomics and warns).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <asio.hpp>

#include "core/engine.h"
#include "core/request.h"
#include "share/hub.h"

namespace ctn::share {

using Clock = std::chrono::steady_clock;

inline std::chrono::milliseconds ms(uint64_t v) { return std::chrono::milliseconds(v); }

// Requests this process's own clients make carry ids below 2^53 (they come from JS numbers);
// requests served for other processes get ids with this bit, so one engine holds both.
constexpr uint64_t kRemoteBit = uint64_t{1} << 62;

Event error_event(uint64_t id, ErrorCode code, Stage stage, std::string message);
Event notice_event(std::string notice, Error error = {});

// A handler that throws (std::bad_alloc decoding a frame, anything from an engine call) may have
// left its stream half-updated. Containment is by whole link: everything that link carried fails
// with ERR_INTERNAL, its state is dropped as on any close, and the other links carry on.
template <class Work, class OnFailure>
void contained(Work&& work, OnFailure&& on_failure) {
  try {
    work();
  } catch (const std::exception& e) {
    on_failure(std::string("internal error: ") + e.what());
  } catch (...) {
    on_failure("internal error: unknown exception");
  }
}

// Items handed from other threads to the hub's thread in batches: one wake-up of the hub's thread
// carries everything queued meanwhile (a burst of submits, a body read in many small pieces).
template <class T>
class Handoff {
 public:
  // Any thread: queues `item`, and posts `drain` to `io` unless a drain is on its way already.
  template <class Drain>
  void push(T&& item, asio::io_context& io, Drain&& drain) {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(std::move(item));
      schedule = !scheduled_;
      scheduled_ = true;
    }
    if (schedule) asio::post(io, std::forward<Drain>(drain));
  }
  // The hub's thread, in the drain: everything queued so far.
  std::vector<T> take() {
    std::vector<T> batch;
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(items_);
    scheduled_ = false;
    return batch;
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;
  bool scheduled_ = false;
};

// What HubStats reports, written on the hub's thread and read from any.
struct HubCounters {
  std::atomic<const char*> role{"electing"};
  std::atomic<const char*> link{"none"};
  std::atomic<uint64_t> streams{0};  // client: requests on its links; host: remote requests served now
  std::atomic<uint64_t> pending{0}, elections{0}, links{0}, retried{0}, host_gone{0};
  std::atomic<uint64_t> peers_open{0}, peers_accepted{0}, peers_refused{0}, host_pid{0};
};

struct HubContext {
  HubContext(HubOptions hub_options, EventSink& events) : options(std::move(hub_options)), sink(events) {}
  HubContext(const HubContext&) = delete;
  HubContext& operator=(const HubContext&) = delete;

  // Any thread: a warning notice for the user (a peer broke the protocol, a connection was
  // refused). Someone probing the port must not flood the user's stderr: one warning per interval.
  void warn(const std::string& message);

  const HubOptions options;
  EventSink& sink;  // events of this process's own requests, and notices
  asio::io_context io;
  HubCounters counters;
  std::atomic<bool> stopping{false};      // shutdown was asked for (set on the caller's thread)
  std::atomic<bool> stopping_now{false};  // ...and everything closes now, not after a drain

 private:
  std::mutex warn_mu_;  // guards the two below
  Clock::time_point last_warning_{};
  uint64_t suppressed_warnings_ = 0;
};

}  // namespace ctn::share
