// The JS object behind lib/instance.ts: one per shared instance. It holds one RequestTarget —
// this process's Engine, or a share::Hub when the instance shares its port with other processes —
// and the EventPump that carries the target's events back to JS.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "binding/event_pump.h"
#include "binding/marshal.h"
#include "core/request_target.h"
#include "profiles/profile_resolver.h"
#include "share/hub.h"
#include "tls/tls_context.h"

namespace ctn::binding {

class NativeEngine : public Napi::ObjectWrap<NativeEngine> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new NativeEngine(onEvents, options?)
  explicit NativeEngine(const Napi::CallbackInfo& info);
  ~NativeEngine() override;

 private:
  static void OnEnvCleanup(void* arg);
  // Synchronous teardown for env shutdown or GC without close(): no callbacks into JS.
  void StopNow();
  // After close(): the target's threads have run their last handlers.
  void FinishClose();
  void CallCloseCallbacks();

  Napi::Value Request(const Napi::CallbackInfo& info);
  Napi::Value RegisterHeaders(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value WriteMasked(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value SetClientLimits(const Napi::CallbackInfo& info);
  Napi::Value CancelClient(const Napi::CallbackInfo& info);
  Napi::Value OriginStats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  std::unique_ptr<EventPump> pump_;
  std::unique_ptr<RequestTarget> target_;  // null once closed (or never started)
  // The same object as target_ when it is a hub, for the sharing half of stats() only.
  const share::Hub* hub_ = nullptr;
  napi_env env_ = nullptr;
  bool closing_ = false;
  bool cleanup_hook_ = false;
  std::vector<Napi::FunctionReference> close_callbacks_;
  ProfileResolver resolver_{check_tls_profile};  // JS thread only
  HeaderListRegistry header_lists_;              // JS thread only
};

}  // namespace ctn::binding
