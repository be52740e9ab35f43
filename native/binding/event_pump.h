// Engine events to JS through one typed thread-safe function, batched: the io thread queues events
// and schedules at most one call at a time, which drains everything queued so far. The TSFN is
// referenced only while requests are in flight, a start or a close is pending, so an idle process
// exits by itself.
#pragma once

#include <napi.h>

#include <functional>
#include <mutex>
#include <vector>

#include "binding/marshal.h"
#include "core/event_queue.h"
#include "core/request.h"

namespace ctn::binding {

class EventPump;
void deliver_batch(Napi::Env env, Napi::Function callback, EventPump* pump, void*);

class EventPump final : public EventSink {
 public:
  // `on_events(batch)` is the JS callback; `on_stopped(env)` runs on the JS thread after the last
  // batch once stopped() was called (the engine's threads are done).
  EventPump(Napi::Env env, Napi::Function on_events, std::function<void(Napi::Env)> on_stopped);
  EventPump(const EventPump&) = delete;
  EventPump& operator=(const EventPump&) = delete;

  // io thread
  void deliver(Event&& event) override;
  // Any thread: the engine has stopped; on_stopped runs after the events still queued.
  void stopped();

  // JS thread: what keeps the loop alive. A request counts until its kEnd or kError went out.
  void request_started(Napi::Env env);
  void set_closing(Napi::Env env);
  // A hub's election is undecided until its first notice other than a warning.
  void set_starting(Napi::Env env);

  // JS thread: the TSFN's end. release() lets queued calls finish (a close); abort() drops them
  // (env teardown, or GC without close()). Either once; later calls do nothing.
  void release();
  void abort();

 private:
  friend void deliver_batch(Napi::Env env, Napi::Function callback, EventPump* pump, void*);
  using Tsfn = Napi::TypedThreadSafeFunction<EventPump, void, deliver_batch>;

  void drain(Napi::Env env, Napi::Function callback);
  void update_ref(Napi::Env env);

  std::function<void(Napi::Env)> on_stopped_;
  Napi::ObjectReference resource_;
  Tsfn tsfn_;
  std::mutex mu_;     // guards queue_, scheduled_, stopped_
  EventQueue queue_;  // a buffered response's head, body and end merge into one event there
  bool scheduled_ = false;
  bool stopped_ = false;
  // JS thread only.
  uint64_t in_flight_ = 0;
  bool referenced_ = false;
  bool closing_ = false;
  bool starting_ = false;
  bool released_ = false;
  FingerprintStrings fingerprints_;
};

}  // namespace ctn::binding
