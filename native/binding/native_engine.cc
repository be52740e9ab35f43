#include "binding/native_engine.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "binding/marshal.h"
#include "binding/websocket_mask.h"
#include "core/engine.h"

namespace ctn::binding {

namespace {

// The request id (or client id) every method but close() and stats() starts with.
std::optional<uint64_t> id_argument(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return std::nullopt;
  return static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
}

}  // namespace

Napi::Function NativeEngine::Define(Napi::Env env) {
  return DefineClass(
      env, "NativeEngine",
      {InstanceMethod<&NativeEngine::Request>("requestPacked"),
       InstanceMethod<&NativeEngine::RegisterHeaders>("registerHeaders"),
       InstanceMethod<&NativeEngine::Cancel>("cancel"), InstanceMethod<&NativeEngine::Pause>("pause"),
       InstanceMethod<&NativeEngine::Write>("write"),
       InstanceMethod<&NativeEngine::WriteMasked>("writeMasked"),
       InstanceMethod<&NativeEngine::Close>("close"), InstanceMethod<&NativeEngine::Stats>("stats"),
       InstanceMethod<&NativeEngine::SetClientLimits>("setClientLimits"),
       InstanceMethod<&NativeEngine::CancelClient>("cancelClient"),
       InstanceMethod<&NativeEngine::OriginStats>("originStats")});
}

NativeEngine::NativeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEngine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "NativeEngine(onEvents): onEvents must be a function")
        .ThrowAsJavaScriptException();
    return;
  }
  EngineOptions options;
  std::optional<share::HubOptions> share;
  if (info.Length() > 1 && info[1].IsObject() &&
      !read_engine_options(info[1].As<Napi::Object>(), &options, &share)) {
    return;
  }
  pump_ = std::make_unique<EventPump>(env, info[0].As<Napi::Function>(), [this](Napi::Env) {
    if (target_) FinishClose();
  });
  napi_add_env_cleanup_hook(env, &NativeEngine::OnEnvCleanup, this);
  cleanup_hook_ = true;
  env_ = env;
  if (share) {
    auto hub = std::make_unique<share::Hub>(std::move(*share), *pump_);
    hub_ = hub.get();
    // Until the election is decided, the loop must stay alive to hear about it.
    pump_->set_starting(env);
    hub->start();
    target_ = std::move(hub);
  } else {
    target_ = std::make_unique<Engine>(options, *pump_);
  }
}

NativeEngine::~NativeEngine() {
  StopNow();
  if (cleanup_hook_) napi_remove_env_cleanup_hook(env_, &NativeEngine::OnEnvCleanup, this);
}

void NativeEngine::OnEnvCleanup(void* arg) {
  auto* self = static_cast<NativeEngine*>(arg);
  self->cleanup_hook_ = false;
  self->StopNow();
}

void NativeEngine::StopNow() {
  if (!target_) return;
  target_->shutdown(false, nullptr);
  target_->join();
  target_.reset();
  hub_ = nullptr;
  pump_->abort();
}

void NativeEngine::FinishClose() {
  target_->join();
  target_.reset();
  hub_ = nullptr;
  pump_->release();
  CallCloseCallbacks();
}

void NativeEngine::CallCloseCallbacks() {
  auto callbacks = std::move(close_callbacks_);
  close_callbacks_.clear();
  for (auto& cb : callbacks) cb.Call({});
}

// requestPacked(id, values, text, body): the spec packed by lib/native-wire.ts (read_packed_spec),
// validated by lib/; here its types are checked. lib/native.ts wraps it as request(id, spec).
Napi::Value NativeEngine::Request(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!target_ || closing_) {
    Napi::Error::New(env, "NativeEngine.request: the engine is closed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 3 || !info[0].IsNumber()) {
    throw_unless_pending(env, Napi::TypeError::New(env, "NativeEngine.request: invalid arguments"));
    return env.Undefined();
  }
  RequestSpec spec;
  spec.id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  if (!read_packed_spec(info[1], info[2], info[3], header_lists_, &spec)) return env.Undefined();
  std::string why;
  if (!resolver_.resolve(spec.profile, spec.fingerprint, &spec.custom_profile, &why)) {
    Napi::Error err = Napi::Error::New(env, why);
    err.Set("code", Napi::String::New(env, "ERR_UNSUPPORTED_FINGERPRINT"));
    throw_unless_pending(env, err);
    return env.Undefined();
  }
  pump_->request_started(env);
  target_->submit(std::move(spec));
  return env.Undefined();
}

// registerHeaders([name, value, ...]): the id a packed spec names this list by (lib/native.ts does so
// for its frozen preset lists), or 0 when this engine holds as many lists as it keeps.
Napi::Value NativeEngine::RegisterHeaders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HeaderList list;
  if (!read_header_list(info.Length() > 0 ? info[0] : env.Undefined(), &list)) return env.Undefined();
  return Napi::Number::New(env, header_lists_.add(std::move(list)));
}

Napi::Value NativeEngine::Cancel(const Napi::CallbackInfo& info) {
  if (auto id = id_argument(info); id && target_) target_->cancel(*id);
  return info.Env().Undefined();
}

// write(id, chunk | null): more of a bodyStream request's body (null: the end), or bytes for an
// upgraded connection. The bytes are copied here: JS memory never crosses threads.
Napi::Value NativeEngine::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::optional<uint64_t> id = id_argument(info);
  if (!id || info.Length() < 2 || !(info[1].IsTypedArray() || info[1].IsNull())) {
    Napi::TypeError::New(env, "NativeEngine.write: invalid arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const bool end = info[1].IsNull();
  std::string chunk;
  if (!end) {
    const std::optional<std::string_view> bytes = typed_bytes(info[1].As<Napi::TypedArray>());
    if (!bytes) return env.Undefined();
    chunk = *bytes;
  }
  if (target_) target_->write_body(*id, std::move(chunk), end);
  return env.Undefined();
}

// writeMasked(id, header, payload): a client WebSocket frame, the header's last 4 bytes its mask key.
Napi::Value NativeEngine::WriteMasked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::optional<uint64_t> id = id_argument(info);
  if (!id || info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    Napi::TypeError::New(env, "NativeEngine.writeMasked: invalid arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::optional<std::string_view> header = typed_bytes(info[1].As<Napi::TypedArray>());
  const std::optional<std::string_view> payload =
      header ? typed_bytes(info[2].As<Napi::TypedArray>()) : std::nullopt;
  if (!header || !payload) return env.Undefined();
  std::optional<std::string> frame = masked_frame(*header, *payload);
  if (!frame) {
    Napi::TypeError::New(env, "NativeEngine.writeMasked: a frame header has at least 6 bytes")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (target_) target_->write_body(*id, std::move(*frame), false);
  return env.Undefined();
}

Napi::Value NativeEngine::Pause(const Napi::CallbackInfo& info) {
  const std::optional<uint64_t> id = id_argument(info);
  if (id && info.Length() > 1 && info[1].IsBoolean() && target_) {
    target_->set_paused(*id, info[1].As<Napi::Boolean>().Value());
  }
  return info.Env().Undefined();
}

// setClientLimits(clientId, { maxInFlight, maxQueued }): 0 = unlimited.
Napi::Value NativeEngine::SetClientLimits(const Napi::CallbackInfo& info) {
  const std::optional<uint64_t> id = id_argument(info);
  if (id && info.Length() > 1 && info[1].IsObject() && target_) {
    target_->set_client_limits(*id, read_client_limits(info[1].As<Napi::Object>()));
  }
  return info.Env().Undefined();
}

// cancelClient(clientId): every request of that client settles with ERR_CLIENT_CLOSED.
Napi::Value NativeEngine::CancelClient(const Napi::CallbackInfo& info) {
  if (auto id = id_argument(info); id && target_) target_->cancel_client(*id);
  return info.Env().Undefined();
}

// originStats(): [{ key, open, idle, connecting, h2Streams }] for this process's engine.
Napi::Value NativeEngine::OriginStats(const Napi::CallbackInfo& info) {
  return origin_stats_to_js(info.Env(), target_ ? target_->origin_stats() : std::vector<ctn::OriginStats>{});
}

// close(callback): asynchronous; in-flight requests fail with ERR_CLIENT_CLOSED first.
Napi::Value NativeEngine::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsFunction()) {
    close_callbacks_.emplace_back(Napi::Persistent(info[0].As<Napi::Function>()));
  }
  if (!target_) {
    CallCloseCallbacks();
    return env.Undefined();
  }
  if (closing_) return env.Undefined();
  closing_ = true;
  pump_->set_closing(env);
  // A host hands over gracefully: other processes' requests finish (bounded) before it stops.
  target_->shutdown(true, [pump = pump_.get()] { pump->stopped(); });
  return env.Undefined();
}

Napi::Value NativeEngine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (hub_) {
    const share::HubStats hs = hub_->stats();
    return stats_to_js(env, hs.engine, &hs, false);
  }
  return stats_to_js(env, target_ ? target_->engine_stats() : EngineStats{}, nullptr, !target_);
}

}  // namespace ctn::binding
