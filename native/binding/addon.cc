// The only place that knows Node. One Engine per NativeEngine object — or, when the instance shares
// its port with other processes, one share::Hub (which hosts an Engine or talks to the process that
// does). Events reach JS through one typed thread-safe function, batched: the io thread queues events
// and schedules at most one call at a time, which drains everything queued so far. The TSFN is
// referenced only while requests are in flight, a start or a close is pending, so an idle process
// exits by itself.
#include <napi.h>

#include <openssl/base.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine.h"
#include "profiles/fingerprint_strings.h"
#include "profiles/profile_resolver.h"
#include "share/hub.h"
#include "tls/tls_context.h"

namespace {

// Throws `error` to JS unless an exception is already pending there (a getter of the spec threw):
// node-addon-api aborts the process on a second throw, and the first one is the one to report.
void throw_unless_pending(Napi::Env env, const Napi::Error& error) {
  if (!env.IsExceptionPending()) error.ThrowAsJavaScriptException();
}

// The bytes a JS typed array views (valid until control returns to JS), taken from the view itself:
// a view on a SharedArrayBuffer has no ArrayBuffer to ask (Napi::ArrayBuffer::Data() fails on one and
// yields a null pointer), while napi_get_typedarray_info's data pointer is right for both kinds. A
// SharedArrayBuffer another thread writes to meanwhile gives a snapshot of some of its states (the
// caller's race), never memory outside the view. Nothing when the view cannot be read: a JS
// exception is then pending, and the caller must not submit anything.
std::optional<std::string_view> typed_bytes(const Napi::TypedArray& ta) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_status status = napi_get_typedarray_info(ta.Env(), ta, &type, &length, &data, nullptr, nullptr);
  if (status != napi_ok) {
    throw_unless_pending(ta.Env(), Napi::Error::New(ta.Env(), "cannot read the bytes of a typed array"));
    return std::nullopt;
  }
  const size_t bytes = length * ta.ElementSize();
  if (bytes == 0) return std::string_view();
  if (data == nullptr) {  // not seen with V8; a view with bytes and no memory must not be read
    throw_unless_pending(ta.Env(), Napi::Error::New(ta.Env(), "a typed array has no memory"));
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(data), bytes);
}

enum EventType : int { kHead = 0, kBody = 1, kEnd = 2, kError = 3, kNotice = 4, kSent = 5 };

class NativeEngine;
void CallJs(Napi::Env env, Napi::Function callback, NativeEngine* self, void*);

class NativeEngine : public Napi::ObjectWrap<NativeEngine>, public ctn::EventSink {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeEngine",
                       {InstanceMethod<&NativeEngine::Request>("request"),
                        InstanceMethod<&NativeEngine::Cancel>("cancel"),
                        InstanceMethod<&NativeEngine::Pause>("pause"),
                        InstanceMethod<&NativeEngine::Write>("write"),
                        InstanceMethod<&NativeEngine::WriteMasked>("writeMasked"),
                        InstanceMethod<&NativeEngine::Close>("close"),
                        InstanceMethod<&NativeEngine::Stats>("stats"),
                        InstanceMethod<&NativeEngine::SetClientLimits>("setClientLimits"),
                        InstanceMethod<&NativeEngine::CancelClient>("cancelClient"),
                        InstanceMethod<&NativeEngine::OriginStats>("originStats")});
  }

  explicit NativeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEngine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "NativeEngine(onEvents): onEvents must be a function")
          .ThrowAsJavaScriptException();
      return;
    }
    ctn::EngineOptions options;
    std::optional<ctn::share::HubOptions> share;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Value v = o.Get("idleTimeoutMs");
      if (v.IsNumber()) options.idle_timeout_ms = v.As<Napi::Number>().Int64Value();
      v = o.Get("maxIdlePerOrigin");
      if (v.IsNumber()) options.max_idle_per_origin = v.As<Napi::Number>().Uint32Value();
      // Pool limits and health (validated by lib/options.ts; 0 = unlimited / off).
      auto count = [&](const char* key, auto& out) {
        Napi::Value x = o.Get(key);
        if (x.IsNumber() && x.As<Napi::Number>().DoubleValue() >= 0) {
          out = static_cast<std::remove_reference_t<decltype(out)>>(x.As<Napi::Number>().Int64Value());
        }
      };
      count("maxConnectionsPerOrigin", options.max_connections_per_origin);
      count("maxConnections", options.max_connections);
      count("maxInFlightPerClient", options.max_in_flight_per_client);
      count("maxQueued", options.max_queued);
      count("maxH2SessionsPerOrigin", options.max_h2_sessions_per_origin);
      count("h2PingIntervalMs", options.ping_interval_ms);
      count("h2PingTimeoutMs", options.ping_timeout_ms);
      count("sweepIntervalMs", options.sweep_interval_ms);
      count("maxTlsSessions", options.max_tls_sessions);
      Napi::Value s = o.Get("share");
      if (s.IsObject()) {
        Napi::Object so = s.As<Napi::Object>();
        share.emplace();
        auto ms = [&](const char* key, uint64_t& out) {
          Napi::Value x = so.Get(key);
          if (x.IsNumber() && x.As<Napi::Number>().DoubleValue() >= 0) out = x.As<Napi::Number>().Int64Value();
        };
        Napi::Value port = so.Get("port");
        if (!port.IsNumber() || port.As<Napi::Number>().Int64Value() < 1 || port.As<Napi::Number>().Int64Value() > 65535) {
          Napi::TypeError::New(env, "NativeEngine: share.port must be 1..65535").ThrowAsJavaScriptException();
          return;
        }
        share->port = static_cast<uint16_t>(port.As<Napi::Number>().Int64Value());
        Napi::Value socket_dir = so.Get("socketDir");
        if (socket_dir.IsString()) share->socket_dir = socket_dir.As<Napi::String>().Utf8Value();
        ms("handoverTimeoutMs", share->handover_timeout_ms);
        ms("handshakeTimeoutMs", share->handshake_timeout_ms);
        ms("pingIntervalMs", share->ping_interval_ms);
        ms("pingTimeoutMs", share->ping_timeout_ms);
        ms("linkIdleTimeoutMs", share->link_idle_timeout_ms);
        ms("drainGraceMs", share->drain_grace_ms);
      }
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
    if (share) {
      share->engine = options;
      hub_ = std::make_unique<ctn::share::Hub>(std::move(*share), *this);
      // Until the election is decided, the loop must stay alive to hear about it.
      starting_ = true;
      UpdateRef(env);
      hub_->start();
    } else {
      engine_ = std::make_unique<ctn::Engine>(options, *this);
    }
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
    if (!engine_ && !hub_) return;
    if (hub_) {
      hub_->shutdown(false, nullptr);
      hub_->join();
      hub_.reset();
    }
    if (engine_) {
      engine_->shutdown(nullptr);
      engine_->join();
      engine_.reset();
    }
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
        } else if (e.kind == ctn::Event::Kind::kNotice && starting_ && e.notice != "warning") {
          starting_ = false;
          UpdateRef(env);
        }
      }
      callback.Call({batch});
      if (env.IsExceptionPending()) {
        // The JS side never throws from its event handler; if it ever does, surface it.
        Napi::Error err = env.GetAndClearPendingException();
        napi_fatal_exception(env, err.Value());
      }
    }
    if (stopped && (engine_ || hub_)) FinishClose(env);
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
        o.Set("tlsResumed", Napi::Boolean::New(env, e.connection.tls_resumed));
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
      case ctn::Event::Kind::kSent:
        o.Set("type", Napi::Number::New(env, kSent));
        o.Set("bytes", Napi::Number::New(env, static_cast<double>(e.sent)));
        break;
      case ctn::Event::Kind::kNotice:
        o.Set("type", Napi::Number::New(env, kNotice));
        o.Set("notice", Napi::String::New(env, e.notice));
        if (!e.error.message.empty()) {
          o.Set("code", Napi::String::New(env, std::string(ctn::error_code_name(e.error.code))));
          o.Set("message", Napi::String::New(env, e.error.message));
        }
        break;
    }
    return o;
  }

  void UpdateRef(Napi::Env env) {
    const bool want = in_flight_ > 0 || closing_ || starting_;
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
      throw_unless_pending(env, Napi::TypeError::New(env, "NativeEngine.request: invalid " + what));
      return env.Undefined();
    };
    if ((!engine_ && !hub_) || closing_) {
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
    if (!ReadString(o, "proxy", spec.proxy, false)) return type_error("proxy");
    if (!ReadString(o, "profile", spec.profile, false)) return type_error("profile");
    ctn::FingerprintInputs fp;
    if (!ReadString(o, "ja3", fp.ja3, false)) return type_error("ja3");
    if (!ReadString(o, "ja4r", fp.ja4r, false)) return type_error("ja4r");
    if (!ReadString(o, "http2Fingerprint", fp.http2_fingerprint, false)) return type_error("http2Fingerprint");
    if (!ReadBool(o, "disableGrease", fp.disable_grease)) return type_error("disableGrease");
    spec.fingerprint = std::move(fp);
    std::string why;
    if (!resolver_.resolve(spec.profile, spec.fingerprint, &spec.custom_profile, &why)) {
      Napi::Error err = Napi::Error::New(env, why);
      err.Set("code", Napi::String::New(env, "ERR_UNSUPPORTED_FINGERPRINT"));
      throw_unless_pending(env, err);
      return env.Undefined();
    }
    if (!ReadBool(o, "tls", spec.tls)) return type_error("tls");
    if (!ReadBool(o, "insecureSkipVerify", spec.insecure_skip_verify)) return type_error("insecureSkipVerify");
    if (!ReadBool(o, "forceHttp1", spec.force_http1)) return type_error("forceHttp1");
    if (!ReadBool(o, "http1RetryHello", spec.http1_retry_hello)) return type_error("http1RetryHello");
    if (!ReadBool(o, "presetHeaders", spec.preset_headers)) return type_error("presetHeaders");
    if (!ReadBool(o, "wholeBody", spec.whole_body)) return type_error("wholeBody");
    if (!ReadBool(o, "decompress", spec.decompress)) return type_error("decompress");
    if (!ReadBool(o, "retryOnHostGone", spec.retry_on_host_gone)) return type_error("retryOnHostGone");
    if (!ReadBool(o, "consumerCredit", spec.consumer_credit)) return type_error("consumerCredit");
    if (!ReadBool(o, "bodyStream", spec.body_stream)) return type_error("bodyStream");
    if (!ReadBool(o, "upgrade", spec.upgrade)) return type_error("upgrade");
    if (!ReadBool(o, "websocketOverHttp2", spec.websocket_over_http2)) return type_error("websocketOverHttp2");
    Napi::Value cap = o.Get("maxDecodedBytes");
    if (cap.IsNumber()) spec.max_decoded_bytes = static_cast<uint64_t>(std::max(0.0, cap.As<Napi::Number>().DoubleValue()));
    Napi::Value body_cap = o.Get("maxResponseBytes");
    if (body_cap.IsNumber()) {
      spec.max_response_bytes = static_cast<uint64_t>(std::max(0.0, body_cap.As<Napi::Number>().DoubleValue()));
    }
    Napi::Value port = o.Get("port");
    if (!port.IsNumber()) return type_error("port");
    const int64_t p = port.As<Napi::Number>().Int64Value();
    if (p < 1 || p > 65535) return type_error("port");
    spec.port = static_cast<uint16_t>(p);
    for (auto [key, field] : {std::pair{"clientId", &spec.client_id}, std::pair{"connectTimeoutMs", &spec.connect_timeout_ms},
                              std::pair{"tlsTimeoutMs", &spec.tls_timeout_ms}, std::pair{"headersTimeoutMs", &spec.headers_timeout_ms},
                              std::pair{"bodyIdleTimeoutMs", &spec.body_idle_timeout_ms}}) {
      Napi::Value x = o.Get(key);
      if (x.IsUndefined()) continue;
      const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0) || d > 365.0 * 24 * 3600 * 1000) return type_error(key);
      *field = static_cast<uint64_t>(d);
    }
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
      const std::optional<std::string_view> bytes = typed_bytes(body.As<Napi::TypedArray>());
      if (!bytes) return env.Undefined();
      spec.body = *bytes;  // the one copy: JS memory never crosses threads
    }
    // Every read above may have left a JS exception pending (node-addon-api reports failures that
    // way here, without C++ exceptions): a request that will throw in JS is never submitted.
    if (env.IsExceptionPending()) return env.Undefined();
    if (in_flight_++ == 0) UpdateRef(env);
    if (hub_) hub_->submit(std::move(spec)); else engine_->submit(std::move(spec));
    return env.Undefined();
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (info.Length() > 0 && info[0].IsNumber()) {
      const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
      if (hub_) hub_->cancel(id); else if (engine_) engine_->cancel(id);
    }
    return info.Env().Undefined();
  }

  // write(id, chunk | null): more of a bodyStream request's body (null: the end), or bytes for an
  // upgraded connection. The bytes are copied here: JS memory never crosses threads.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !(info[1].IsTypedArray() || info[1].IsNull())) {
      Napi::TypeError::New(env, "NativeEngine.write: invalid arguments").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    const bool end = info[1].IsNull();
    std::string chunk;
    if (!end) {
      const std::optional<std::string_view> bytes = typed_bytes(info[1].As<Napi::TypedArray>());
      if (!bytes) return env.Undefined();
      chunk = *bytes;
    }
    WriteBody(id, std::move(chunk), end);
    return env.Undefined();
  }

  // writeMasked(id, header, payload): a client WebSocket frame (RFC 6455 §5.3). The header's last
  // 4 bytes are the mask key; the payload is XORed with it while it is copied (the copy happens
  // anyway), which spares JavaScript two passes over large messages.
  Napi::Value WriteMasked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
      Napi::TypeError::New(env, "NativeEngine.writeMasked: invalid arguments").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    const std::optional<std::string_view> header_bytes = typed_bytes(info[1].As<Napi::TypedArray>());
    const std::optional<std::string_view> payload_bytes =
        header_bytes ? typed_bytes(info[2].As<Napi::TypedArray>()) : std::nullopt;
    if (!header_bytes || !payload_bytes) return env.Undefined();
    const std::string_view header = *header_bytes;
    const std::string_view payload = *payload_bytes;
    if (header.size() < 6) {
      Napi::TypeError::New(env, "NativeEngine.writeMasked: a frame header has at least 6 bytes").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string frame;
    frame.resize(header.size() + payload.size());
    std::memcpy(frame.data(), header.data(), header.size());
    unsigned char key[8];
    std::memcpy(key, header.data() + header.size() - 4, 4);
    std::memcpy(key + 4, key, 4);
    uint64_t key64;
    std::memcpy(&key64, key, 8);
    char* out = frame.data() + header.size();
    size_t i = 0;
    for (; i + 8 <= payload.size(); i += 8) {
      uint64_t word;
      std::memcpy(&word, payload.data() + i, 8);
      word ^= key64;
      std::memcpy(out + i, &word, 8);
    }
    for (; i < payload.size(); ++i) out[i] = static_cast<char>(payload[i] ^ key[i & 3]);
    WriteBody(id, std::move(frame), false);
    return env.Undefined();
  }

  void WriteBody(uint64_t id, std::string bytes, bool end) {
    if (hub_) hub_->write_body(id, std::move(bytes), end); else if (engine_) engine_->write_body(id, std::move(bytes), end);
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (info.Length() > 1 && info[0].IsNumber() && info[1].IsBoolean()) {
      const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
      const bool paused = info[1].As<Napi::Boolean>().Value();
      if (hub_) hub_->set_paused(id, paused); else if (engine_) engine_->set_paused(id, paused);
    }
    return info.Env().Undefined();
  }

  // setClientLimits(clientId, { maxInFlight, maxQueued }): 0 = unlimited.
  Napi::Value SetClientLimits(const Napi::CallbackInfo& info) {
    if (info.Length() > 1 && info[0].IsNumber() && info[1].IsObject()) {
      const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
      Napi::Object o = info[1].As<Napi::Object>();
      ctn::ClientLimits limits;
      Napi::Value v = o.Get("maxInFlight");
      if (v.IsNumber()) limits.max_in_flight = static_cast<size_t>(std::max<int64_t>(0, v.As<Napi::Number>().Int64Value()));
      v = o.Get("maxQueued");
      if (v.IsNumber()) limits.max_queued = static_cast<size_t>(std::max<int64_t>(0, v.As<Napi::Number>().Int64Value()));
      if (hub_) hub_->set_client_limits(id, limits); else if (engine_) engine_->set_client_limits(id, limits);
    }
    return info.Env().Undefined();
  }

  // cancelClient(clientId): every request of that client settles with ERR_CLIENT_CLOSED.
  Napi::Value CancelClient(const Napi::CallbackInfo& info) {
    if (info.Length() > 0 && info[0].IsNumber()) {
      const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
      if (hub_) hub_->cancel_client(id); else if (engine_) engine_->cancel_client(id);
    }
    return info.Env().Undefined();
  }

  // originStats(): [{ key, open, idle, connecting, h2Streams }] for this process's engine.
  Napi::Value OriginStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<ctn::OriginStats> list;
    if (hub_) list = hub_->origin_stats(); else if (engine_) list = engine_->origin_stats();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (uint32_t i = 0; i < list.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("key", Napi::String::New(env, list[i].key));
      o.Set("open", Napi::Number::New(env, static_cast<double>(list[i].open)));
      o.Set("idle", Napi::Number::New(env, static_cast<double>(list[i].idle)));
      o.Set("connecting", Napi::Number::New(env, static_cast<double>(list[i].connecting)));
      o.Set("h2Streams", Napi::Number::New(env, static_cast<double>(list[i].h2_streams)));
      out.Set(i, o);
    }
    return out;
  }

  // close(callback): asynchronous; in-flight requests fail with ERR_CLIENT_CLOSED first.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && info[0].IsFunction()) {
      close_callbacks_.emplace_back(Napi::Persistent(info[0].As<Napi::Function>()));
    }
    if (!engine_ && !hub_) {
      CallCloseCallbacks(env);
      return env.Undefined();
    }
    if (closing_) return env.Undefined();
    closing_ = true;
    UpdateRef(env);
    auto on_stopped = [this] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopped_ = true;
        if (scheduled_) return;
        scheduled_ = true;
      }
      tsfn_.NonBlockingCall();
    };
    // A host hands over gracefully: other processes' requests finish (bounded) before it stops.
    if (hub_) hub_->shutdown(true, on_stopped); else engine_->shutdown(on_stopped);
    return env.Undefined();
  }

  void FinishClose(Napi::Env env) {
    // The threads have already run their last handlers.
    if (hub_) {
      hub_->join();
      hub_.reset();
    }
    if (engine_) {
      engine_->join();
      engine_.reset();
    }
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
    ctn::share::HubStats hs;
    if (hub_) hs = hub_->stats();
    ctn::EngineStats s = engine_ ? engine_->stats() : hs.engine;
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
    num("connectionsLive", s.connections_live);
    num("connectionsConnecting", s.connections_connecting);
    num("requestsQueued", s.requests_queued);
    num("tlsResumed", s.tls_resumed);
    num("exchanges", s.exchanges);
    num("exchangesReused", s.exchanges_reused);
    num("h2PingsTimedOut", s.h2_pings_timed_out);
    num("connectionsSwept", s.connections_swept);
    Napi::Object errors = Napi::Object::New(env);
    for (size_t i = 0; i < s.errors.size(); ++i) {
      if (s.errors[i] == 0) continue;
      errors.Set(std::string(ctn::error_code_name(static_cast<ctn::ErrorCode>(i))),
                 Napi::Number::New(env, static_cast<double>(s.errors[i])));
    }
    o.Set("errors", errors);
    o.Set("closed", Napi::Boolean::New(env, !engine_ && !hub_));
    if (hub_) {
      Napi::Object sh = Napi::Object::New(env);
      auto snum = [&](const char* k, uint64_t v) { sh.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
      sh.Set("role", Napi::String::New(env, hs.role));
      sh.Set("link", Napi::String::New(env, hs.link));
      snum("streamsInFlight", hs.streams_in_flight);
      snum("pending", hs.pending);
      snum("elections", hs.elections);
      snum("linksEstablished", hs.links_established);
      snum("reconnects", hs.reconnects);
      snum("retried", hs.retried);
      snum("hostGone", hs.host_gone);
      snum("peersOpen", hs.peers_open);
      snum("peersAccepted", hs.peers_accepted);
      snum("peersRefused", hs.peers_refused);
      snum("hostPid", hs.host_pid);
      o.Set("share", sh);
    }
    return o;
  }

  std::unique_ptr<ctn::Engine> engine_;
  std::unique_ptr<ctn::share::Hub> hub_;
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
  bool starting_ = false;  // a hub's election is not decided yet
  bool released_ = false;
  bool cleanup_hook_ = false;
  std::vector<Napi::FunctionReference> close_callbacks_;
  ctn::ProfileResolver resolver_{ctn::check_tls_profile};  // JS thread only
};

// profileHeaders(id, set?): the preset's default request headers, [name, value, ...] in order.
// `set` picks the list: 'http2' (the default), 'http1' (https on HTTP/1.1) or 'http1-plain'
// (http://); undefined for an unknown id or set.
Napi::Value ProfileHeaders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ctn::Profile* p = info.Length() > 0 && info[0].IsString()
                              ? ctn::find_profile(info[0].As<Napi::String>().Utf8Value())
                              : nullptr;
  if (!p) return env.Undefined();
  ctn::HeaderSet set = ctn::HeaderSet::kHttp2;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    const std::string name = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    if (name == "http1") set = ctn::HeaderSet::kHttp1;
    else if (name == "http1-plain") set = ctn::HeaderSet::kHttp1Plain;
    else if (name != "http2") return env.Undefined();
  }
  const ctn::HeaderList& headers = ctn::profile_headers(*p, set);
  Napi::Array out = Napi::Array::New(env, headers.size() * 2);
  uint32_t i = 0;
  for (const auto& h : headers) {
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
