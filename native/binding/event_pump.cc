#include "binding/event_pump.h"

#include <utility>

#include "binding/marshal.h"

namespace ctn::binding {

EventPump::EventPump(Napi::Env env, Napi::Function on_events, std::function<void(Napi::Env)> on_stopped)
    : on_stopped_(std::move(on_stopped)) {
  // The async resource answers hasRef() truthfully, so tools that list live handles (Jest's
  // --detectOpenHandles, why-is-node-running) see an idle engine as not keeping the loop alive.
  // hasRef reads the resource's own field: it may be called after this object is gone.
  Napi::Object resource = Napi::Object::New(env);
  resource.Set("referenced", false);
  resource.Set("hasRef", Napi::Function::New(
                             env,
                             [](const Napi::CallbackInfo& cb) -> Napi::Value {
                               Napi::Value self = cb.This();
                               if (!self.IsObject()) return Napi::Boolean::New(cb.Env(), false);
                               return Napi::Boolean::New(
                                   cb.Env(), self.As<Napi::Object>().Get("referenced").ToBoolean());
                             },
                             "hasRef"));
  resource_ = Napi::Persistent(resource);
  tsfn_ = Tsfn::New(env, on_events, resource, "cycletls-native events", 0, 1, this);
  tsfn_.Unref(env);
}

void EventPump::deliver(Event&& event) {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push(std::move(event));
    schedule = !scheduled_;
    scheduled_ = true;
  }
  if (schedule) tsfn_.NonBlockingCall();
}

void EventPump::stopped() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    if (scheduled_) return;
    scheduled_ = true;
  }
  tsfn_.NonBlockingCall();
}

void EventPump::request_started(Napi::Env env) {
  if (in_flight_++ == 0) update_ref(env);
}

void EventPump::set_closing(Napi::Env env) {
  closing_ = true;
  update_ref(env);
}

void EventPump::set_starting(Napi::Env env) {
  starting_ = true;
  update_ref(env);
}

void EventPump::release() {
  if (released_) return;
  released_ = true;
  tsfn_.Release();
  resource_.Value().Set("referenced", false);
}

void EventPump::abort() {
  if (released_) return;
  released_ = true;
  tsfn_.Abort();
}

void EventPump::drain(Napi::Env env, Napi::Function callback) {
  std::vector<Event> events;
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events = queue_.take();
    scheduled_ = false;
    stopped = stopped_;
  }
  Napi::HandleScope scope(env);
  if (!events.empty()) {
    for (auto& e : events) {
      if (e.kind == Event::Kind::kEnd || e.kind == Event::Kind::kError || e.ended) {
        if (in_flight_ > 0 && --in_flight_ == 0) update_ref(env);
      } else if (e.kind == Event::Kind::kNotice && starting_ && e.notice != "warning") {
        starting_ = false;
        update_ref(env);
      }
    }
    std::vector<napi_value> values;
    for (size_t next = 0; next < events.size();) {
      Napi::HandleScope chunk(env);
      next = events_to_values(env, events, next, fingerprints_, &values);
      callback.Call(values);
      if (env.IsExceptionPending()) {
        // The JS side never throws from its event handler; if it ever does, surface it.
        Napi::Error err = env.GetAndClearPendingException();
        napi_fatal_exception(env, err.Value());
      }
    }
  }
  if (stopped && on_stopped_) on_stopped_(env);
}

void EventPump::update_ref(Napi::Env env) {
  const bool want = in_flight_ > 0 || closing_ || starting_;
  if (want == referenced_ || released_) return;
  referenced_ = want;
  if (want)
    tsfn_.Ref(env);
  else
    tsfn_.Unref(env);
  resource_.Value().Set("referenced", want);
}

void deliver_batch(Napi::Env env, Napi::Function callback, EventPump* pump, void*) {
  // An empty env means the TSFN is being finalized: queued events die with the engine.
  if (env == nullptr || pump == nullptr) return;
  pump->drain(env, callback);
}

}  // namespace ctn::binding
