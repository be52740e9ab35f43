// The only place that knows Node. One Engine per NativeEngine object; its events reach JS through one
// typed thread-safe function, batched: the io thread queues events and schedules at most one call at
// a time, which drains everything queued so far. The TSFN is referenced only while requests are in
// flight (or a close is pending), so an idle process exits by itself.
#include <napi.h>

#include <openssl/base.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine.h"
#include "profiles/fingerprint_strings.h"
#include "tls/tls_context.h"

namespace {

enum EventType : int { kHead = 0, kBody = 1, kEnd = 2, kError = 3 };

class NativeEngine;
void CallJs(Napi::Env env, Napi::Function callback, NativeEngine* self, void*);

class NativeEngine : public Napi::ObjectWrap<NativeEngine>, public ctn::EventSink {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeEngine",
                       {InstanceMethod<&NativeEngine::Request>("request"),
                        InstanceMethod<&NativeEngine::Cancel>("cancel"),
                        InstanceMethod<&NativeEngine::Pause>("pause"),
                        InstanceMethod<&NativeEngine::Close>("close"),
                        InstanceMethod<&NativeEngine::Stats>("stats")});
  }

  explicit NativeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEngine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "NativeEngine(onEvents): onEvents must be a function")
          .ThrowAsJavaScriptException();
      return;
    }
    ctn::EngineOptions options;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Value v = o.Get("idleTimeoutMs");
      if (v.IsNumber()) options.idle_timeout_ms = v.As<Napi::Number>().Int64Value();
      v = o.Get("maxIdlePerOrigin");
      if (v.IsNumber()) options.max_idle_per_origin = v.As<Napi::Number>().Uint32Value();
    }
    // The async resource answers hasRef() truthfully, so tools that list live handles (Jest's
    // --detectOpenHandles, why-is-node-running) see an idle engine as not keeping the loop alive.
    // hasRef reads the resource's own field: it may be called after this object is gone.
    Napi::Object resource = Napi::Object::New(env);
    resource.Set("referenced", false);
    resource.Set("hasRef", Napi::Function::New(env, [](const Napi::CallbackInfo& cb) -> Napi::Value {
      Napi::Value self = cb.This();
      if (!self.IsObject()) return Napi::Boolean::New(cb.Env(), false);
      return Napi::Boolean::New(cb.Env(), self.As<Napi::Object>().Get("referenced").ToBoolean());
    }, "hasRef"));
    resource_ = Napi::Persistent(resource);
    tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), resource, "cycletls-native events", 0, 1, this);
    tsfn_.Unref(env);
    napi_add_env_cleanup_hook(env, &NativeEngine::OnEnvCleanup, this);
    cleanup_hook_ = true;
    env_ = env;
    engine_ = std::make_unique<ctn::Engine>(options, *this);
  }

  ~NativeEngine() override {
    StopNow();
    if (cleanup_hook_) napi_remove_env_cleanup_hook(env_, &NativeEngine::OnEnvCleanup, this);
  }

  // io thread
  void deliver(ctn::Event&& event) override {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(event));
      schedule = !scheduled_;
      scheduled_ = true;
    }
    if (schedule) tsfn_.NonBlockingCall();
  }

 private:
  friend void CallJs(Napi::Env env, Napi::Function callback, NativeEngine* self, void*);
  using Tsfn = Napi::TypedThreadSafeFunction<NativeEngine, void, CallJs>;

  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<NativeEngine*>(arg);
    self->cleanup_hook_ = false;
    self->StopNow();
  }

  // Synchronous teardown for env shutdown or GC without close(): no callbacks into JS.
  void StopNow() {
    if (!engine_) return;
    engine_->shutdown(nullptr);
    engine_->join();
    engine_.reset();
    if (!released_) {
      released_ = true;
      tsfn_.Abort();
    }
  }

  void Drain(Napi::Env env, Napi::Function callback) {
    std::vector<ctn::Event> events;
    bool stopped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      events.swap(queue_);
      scheduled_ = false;
      stopped = stopped_;
    }
    Napi::HandleScope scope(env);
    if (!events.empty()) {
      Napi::Array batch = Napi::Array::New(env, events.size());
      uint32_t index = 0;
      for (auto& e : events) {
        batch.Set(index++, ToJs(env, e));
        if (e.kind == ctn::Event::Kind::kEnd || e.kind == ctn::Event::Kind::kError) {
          if (in_flight_ > 0 && --in_flight_ == 0) UpdateRef(env);
        }
      }
      callback.Call({batch});
      if (env.IsExceptionPending()) {
        // The JS side never throws from its event handler; if it ever does, surface it.
        Napi::Error err = env.GetAndClearPendingException();
        napi_fatal_exception(env, err.Value());
      }
    }
    if (stopped && engine_) FinishClose(env);
  }

  Napi::Object ToJs(Napi::Env env, ctn::Event& e) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, static_cast<double>(e.id)));
    switch (e.kind) {
      case ctn::Event::Kind::kHead: {
        o.Set("type", Napi::Number::New(env, kHead));
        o.Set("status", Napi::Number::New(env, e.head.status));
        o.Set("reason", Napi::String::New(env, e.head.reason));
        o.Set("httpVersion", Napi::String::New(env, std::to_string(e.head.version_major) + "." +
                                                       std::to_string(e.head.version_minor)));
        Napi::Array headers = Napi::Array::New(env, e.head.headers.size() * 2);
        uint32_t i = 0;
        for (const auto& h : e.head.headers) {
          headers.Set(i++, Napi::String::New(env, h.name));
          headers.Set(i++, Napi::String::New(env, h.value));
        }
        o.Set("headers", headers);
        o.Set("alpn", Napi::String::New(env, e.connection.alpn));
        o.Set("tlsVersion", Napi::String::New(env, e.connection.tls_version));
        o.Set("cipher", Napi::String::New(env, e.connection.cipher));
        o.Set("connectionId", Napi::Number::New(env, static_cast<double>(e.connection.connection_id)));
        o.Set("reused", Napi::Boolean::New(env, e.connection.reused));
        break;
      }
      case ctn::Event::Kind::kBody: {
        o.Set("type", Napi::Number::New(env, kBody));
        // Handed over without a second copy: the Buffer owns the bytes the engine read.
        auto* owned = new std::string(std::move(e.body));
        o.Set("data", Napi::Buffer<char>::New(env, owned->data(), owned->size(),
                                              [](Napi::Env, char*, std::string* s) { delete s; },
                                              owned));
        break;
      }
      case ctn::Event::Kind::kEnd:
        o.Set("type", Napi::Number::New(env, kEnd));
        break;
      case ctn::Event::Kind::kError:
        o.Set("type", Napi::Number::New(env, kError));
        o.Set("code", Napi::String::New(env, std::string(ctn::error_code_name(e.error.code))));
        o.Set("stage", Napi::String::New(env, std::string(ctn::stage_name(e.error.stage))));
        o.Set("message", Napi::String::New(env, e.error.message));
        break;
    }
    return o;
  }

  void UpdateRef(Napi::Env env) {
    const bool want = in_flight_ > 0 || closing_;
    if (want == referenced_ || released_) return;
    referenced_ = want;
    if (want) tsfn_.Ref(env); else tsfn_.Unref(env);
    resource_.Value().Set("referenced", want);
  }

  static bool ReadString(Napi::Object o, const char* key, std::string& out, bool required) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() && !required) return true;
    if (!v.IsString()) return false;
    out = v.As<Napi::String>().Utf8Value();
    return true;
  }

  static bool ReadBool(Napi::Object o, const char* key, bool& out) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return true;
    if (!v.IsBoolean()) return false;
    out = v.As<Napi::Boolean>().Value();
    return true;
  }

  // request(id: number, spec: object): the spec was validated by lib/; this is a second line.
  Napi::Value Request(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto type_error = [&](const std::string& what) {
      Napi::TypeError::New(env, "NativeEngine.request: invalid " + what).ThrowAsJavaScriptException();
      return env.Undefined();
    };
    if (!engine_ || closing_) {
      Napi::Error::New(env, "NativeEngine.request: the engine is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsObject()) return type_error("arguments");
    ctn::RequestSpec spec;
    spec.id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    Napi::Object o = info[1].As<Napi::Object>();
    if (!ReadString(o, "method", spec.method, true)) return type_error("method");
    if (!ReadString(o, "host", spec.host, true)) return type_error("host");
    if (!ReadString(o, "target", spec.target, true)) return type_error("target");
    if (!ReadString(o, "serverName", spec.server_name, false)) return type_error("serverName");
    if (!ReadString(o, "profile", spec.profile, false)) return type_error("profile");
    ctn::FingerprintInputs fp;
    if (!ReadString(o, "ja3", fp.ja3, false)) return type_error("ja3");
    if (!ReadString(o, "ja4r", fp.ja4r, false)) return type_error("ja4r");
    if (!ReadString(o, "http2Fingerprint", fp.http2_fingerprint, false)) return type_error("http2Fingerprint");
    if (!ReadBool(o, "disableGrease", fp.disable_grease)) return type_error("disableGrease");
    std::string why;
    if (!ResolveProfile(spec, fp, &why)) {
      Napi::Error err = Napi::Error::New(env, why);
      err.Set("code", Napi::String::New(env, "ERR_UNSUPPORTED_FINGERPRINT"));
      err.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!ReadBool(o, "tls", spec.tls)) return type_error("tls");
    if (!ReadBool(o, "insecureSkipVerify", spec.insecure_skip_verify)) return type_error("insecureSkipVerify");
    if (!ReadBool(o, "forceHttp1", spec.force_http1)) return type_error("forceHttp1");
    if (!ReadBool(o, "wholeBody", spec.whole_body)) return type_error("wholeBody");
    if (!ReadBool(o, "decompress", spec.decompress)) return type_error("decompress");
    Napi::Value cap = o.Get("maxDecodedBytes");
    if (cap.IsNumber()) spec.max_decoded_bytes = static_cast<uint64_t>(std::max(0.0, cap.As<Napi::Number>().DoubleValue()));
    Napi::Value port = o.Get("port");
    if (!port.IsNumber()) return type_error("port");
    const int64_t p = port.As<Napi::Number>().Int64Value();
    if (p < 1 || p > 65535) return type_error("port");
    spec.port = static_cast<uint16_t>(p);
    Napi::Value timeout = o.Get("timeoutMs");
    if (timeout.IsNumber()) {
      const double t = timeout.As<Napi::Number>().DoubleValue();
      // A year at most: beyond that the steady_clock arithmetic would overflow.
      if (!(t >= 0) || t > 365.0 * 24 * 3600 * 1000) return type_error("timeoutMs");
      spec.timeout_ms = static_cast<uint64_t>(t);
    }
    Napi::Value headers = o.Get("headers");
    if (!headers.IsUndefined()) {
      if (!headers.IsArray()) return type_error("headers");
      Napi::Array list = headers.As<Napi::Array>();
      const uint32_t n = list.Length();
      if (n % 2 != 0) return type_error("headers");
      spec.headers.reserve(n / 2);
      for (uint32_t i = 0; i < n; i += 2) {
        Napi::Value name = list.Get(i), value = list.Get(i + 1);
        if (!name.IsString() || !value.IsString()) return type_error("headers");
        spec.headers.push_back({name.As<Napi::String>().Utf8Value(), value.As<Napi::String>().Utf8Value()});
      }
    }
    Napi::Value body = o.Get("body");
    if (!body.IsUndefined() && !body.IsNull()) {
      if (!body.IsTypedArray()) return type_error("body");
      Napi::TypedArray ta = body.As<Napi::TypedArray>();
      Napi::ArrayBuffer ab = ta.ArrayBuffer();
      const char* data = static_cast<const char*>(ab.Data()) + ta.ByteOffset();
      spec.body.assign(data, ta.ByteLength());  // the one copy: JS memory never crosses threads
    }
    if (in_flight_++ == 0) UpdateRef(env);
    engine_->submit(std::move(spec));
    return env.Undefined();
  }

  // Picks the preset, or composes (once per distinct input) a profile from fingerprint strings, and
  // checks that this TLS stack can put it on the wire exactly.
  bool ResolveProfile(ctn::RequestSpec& spec, const ctn::FingerprintInputs& fp, std::string* why) {
    const ctn::Profile* base = ctn::find_profile(spec.profile);
    if (!base) {
      *why = "unknown profile '" + spec.profile + "'";
      return false;
    }
    if (fp.ja3.empty() && fp.ja4r.empty() && fp.http2_fingerprint.empty() && !fp.disable_grease) {
      auto checked = checked_presets_.find(base->id);
      if (checked == checked_presets_.end()) {
        std::string reason;
        const bool ok = ctn::check_tls_profile(base->tls, &reason);
        checked = checked_presets_.emplace(base->id, ok ? "" : base->id + ": " + reason).first;
      }
      *why = checked->second;
      return why->empty();
    }
    const std::string key = base->id + "\n" + fp.ja3 + "\n" + fp.ja4r + "\n" + fp.http2_fingerprint +
                            (fp.disable_grease ? "\n1" : "\n0");
    auto it = composed_.find(key);
    if (it == composed_.end()) {
      auto profile = std::make_shared<ctn::Profile>();
      if (!ctn::compose_profile(*base, fp, profile.get(), why)) return false;
      if (!ctn::check_tls_profile(profile->tls, why)) return false;
      if (composed_.size() >= kMaxComposedProfiles) composed_.clear();  // bound memory, not correctness
      it = composed_.emplace(key, std::move(profile)).first;
    }
    spec.custom_profile = it->second;
    return true;
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (engine_ && info.Length() > 0 && info[0].IsNumber()) {
      engine_->cancel(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    }
    return info.Env().Undefined();
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (engine_ && info.Length() > 1 && info[0].IsNumber() && info[1].IsBoolean()) {
      engine_->set_paused(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()),
                          info[1].As<Napi::Boolean>().Value());
    }
    return info.Env().Undefined();
  }

  // close(callback): asynchronous; in-flight requests fail with ERR_CLIENT_CLOSED first.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && info[0].IsFunction()) {
      close_callbacks_.emplace_back(Napi::Persistent(info[0].As<Napi::Function>()));
    }
    if (!engine_) {
      CallCloseCallbacks(env);
      return env.Undefined();
    }
    if (closing_) return env.Undefined();
    closing_ = true;
    UpdateRef(env);
    engine_->shutdown([this] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopped_ = true;
        if (scheduled_) return;
        scheduled_ = true;
      }
      tsfn_.NonBlockingCall();
    });
    return env.Undefined();
  }

  void FinishClose(Napi::Env env) {
    engine_->join();  // the io thread has already run its last handler
    engine_.reset();
    if (!released_) {
      released_ = true;
      tsfn_.Release();
      resource_.Value().Set("referenced", false);
    }
    CallCloseCallbacks(env);
  }

  void CallCloseCallbacks(Napi::Env env) {
    auto callbacks = std::move(close_callbacks_);
    close_callbacks_.clear();
    for (auto& cb : callbacks) cb.Call({});
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    ctn::EngineStats s = engine_ ? engine_->stats() : ctn::EngineStats{};
    auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    num("requestsStarted", s.requests_started);
    num("requestsInFlight", s.requests_in_flight);
    num("connectionsOpened", s.connections_opened);
    num("tlsHandshakes", s.tls_handshakes);
    num("connectionsReused", s.connections_reused);
    num("connectionsOpen", s.connections_open);
    num("connectionsIdle", s.connections_idle);
    num("bytesIn", s.bytes_in);
    num("bytesOut", s.bytes_out);
    o.Set("closed", Napi::Boolean::New(env, !engine_));
    return o;
  }

  std::unique_ptr<ctn::Engine> engine_;
  Napi::ObjectReference resource_;
  Tsfn tsfn_;
  napi_env env_ = nullptr;
  std::mutex mu_;
  std::vector<ctn::Event> queue_;
  bool scheduled_ = false;
  bool stopped_ = false;
  uint64_t in_flight_ = 0;  // JS thread only
  bool referenced_ = false;
  bool closing_ = false;
  bool released_ = false;
  bool cleanup_hook_ = false;
  std::vector<Napi::FunctionReference> close_callbacks_;
  static constexpr size_t kMaxComposedProfiles = 1024;
  std::map<std::string, std::shared_ptr<const ctn::Profile>> composed_;  // JS thread only
  std::map<std::string, std::string> checked_presets_;                  // id -> "" or why not
};

// profileHeaders(id): the preset's default request headers, [name, value, ...] in order.
Napi::Value ProfileHeaders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ctn::Profile* p = info.Length() > 0 && info[0].IsString()
                              ? ctn::find_profile(info[0].As<Napi::String>().Utf8Value())
                              : nullptr;
  if (!p) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, p->headers.size() * 2);
  uint32_t i = 0;
  for (const auto& h : p->headers) {
    out.Set(i++, Napi::String::New(env, h.name));
    out.Set(i++, Napi::String::New(env, h.value));
  }
  return out;
}

void CallJs(Napi::Env env, Napi::Function callback, NativeEngine* self, void*) {
  // An empty env means the TSFN is being finalized: queued events die with the engine.
  if (env == nullptr || self == nullptr) return;
  self->Drain(env, callback);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeEngine", NativeEngine::Define(env));
  Napi::Object info = Napi::Object::New(env);
  info.Set("boringssl", Napi::Boolean::New(env, true));
  info.Set("boringsslApiVersion", Napi::Number::New(env, BORINGSSL_API_VERSION));
  info.Set("caBundle", Napi::String::New(env, ctn::ca_bundle_path()));
  info.Set("http2", Napi::Boolean::New(env, ctn::http2_available()));
  info.Set("patchedTlsStack", Napi::Boolean::New(env, ctn::tls_stack_patched()));
  info.Set("defaultProfile", Napi::String::New(env, ctn::default_profile().id));
  const auto ids = ctn::profile_ids();
  Napi::Array profiles = Napi::Array::New(env, ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) profiles.Set(i, Napi::String::New(env, ids[i]));
  info.Set("profiles", profiles);
  exports.Set("info", info);
  exports.Set("profileHeaders", Napi::Function::New(env, ProfileHeaders, "profileHeaders"));
  return exports;
}

}  // namespace

NODE_API_MODULE(cycletls_native, Init)
