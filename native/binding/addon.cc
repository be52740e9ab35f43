// The addon's entry point, and the only folder that knows Node (better-sqlite3's shape: a thin
// binding, the work in a Node-free library). What it exports:
//   NativeEngine          native_engine.h: one engine (or hub) per shared instance
//   info, profileHeaders  facts about the build and the browser presets
//   constants             values lib/ must agree on with the engine, defined once in C++
//   requestFields         core/request_fields.h, the request schema, for lib's schema test
//   engineOptions         core/engine_option_fields.h, the pool options and their ranges
#include <napi.h>

#include <openssl/base.h>

#include <string>

#include "binding/ech_echo_server.h"
#include "binding/marshal.h"
#include "binding/native_engine.h"
#include "binding/quic_echo_server.h"
#include "core/engine.h"
#include "core/request_fields.h"
#include "profiles/fingerprint_strings.h"
#include "share/hub.h"
#include "tls/tls_context.h"

namespace {

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
    if (name == "http1")
      set = ctn::HeaderSet::kHttp1;
    else if (name == "http1-plain")
      set = ctn::HeaderSet::kHttp1Plain;
    else if (name != "http2")
      return env.Undefined();
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

Napi::Object BuildInfo(Napi::Env env) {
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
  return info;
}

// lib/native.ts's NativeConstants.
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto num = [&](const char* name, uint64_t v) {
    c.Set(name, Napi::Number::New(env, static_cast<double>(v)));
  };
  num("consumerCreditBytes", ctn::kConsumerCreditBytes);
  num("maxTimeoutMs", ctn::kMaxTimeoutMs);
  num("defaultSharePort", ctn::share::HubOptions{}.port);
  c.Freeze();
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeEngine", ctn::binding::NativeEngine::Define(env));
  exports.Set("QuicEchoServer", ctn::binding::QuicEchoServer::Define(env));
  exports.Set("EchEchoServer", ctn::binding::EchEchoServer::Define(env));
  exports.Set("info", BuildInfo(env));
  exports.Set("profileHeaders", Napi::Function::New(env, ProfileHeaders, "profileHeaders"));
  exports.Set("constants", Constants(env));
  exports.Set("requestFields", ctn::binding::request_fields_to_js(env));
  exports.Set("engineOptions", ctn::binding::engine_options_to_js(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(cycletls_native, Init)
