#include "binding/marshal.h"

#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include "core/engine_option_fields.h"
#include "core/request_fields.h"

namespace ctn::binding {

void throw_unless_pending(Napi::Env env, const Napi::Error& error) {
  if (!env.IsExceptionPending()) error.ThrowAsJavaScriptException();
}

// Taken from the view itself: a view on a SharedArrayBuffer has no ArrayBuffer to ask
// (Napi::ArrayBuffer::Data() fails on one and yields a null pointer), while
// napi_get_typedarray_info's data pointer is right for both kinds. A SharedArrayBuffer another
// thread writes to meanwhile gives a snapshot of some of its states (the caller's race), never
// memory outside the view.
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

namespace {

// A JS number as an integer of 0..max; nothing for anything else (a negative number, NaN, more
// than the field holds), which the caller reports as a TypeError: a double outside the target
// type is undefined behaviour to convert, whatever lib/ promised.
std::optional<uint64_t> whole_number(Napi::Value v, uint64_t max) {
  if (!v.IsNumber()) return std::nullopt;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > static_cast<double>(max)) return std::nullopt;
  return static_cast<uint64_t>(d);
}

bool read_headers(Napi::Value v, HeaderList* out) {
  if (!v.IsArray()) return false;
  Napi::Array list = v.As<Napi::Array>();
  const uint32_t n = list.Length();
  if (n % 2 != 0) return false;
  out->reserve(n / 2);
  for (uint32_t i = 0; i < n; i += 2) {
    Napi::Value name = list.Get(i), value = list.Get(i + 1);
    if (!name.IsString() || !value.IsString()) return false;
    out->push_back({name.As<Napi::String>().Utf8Value(), value.As<Napi::String>().Utf8Value()});
  }
  return true;
}

}  // namespace

bool read_request_spec(Napi::Object js, RequestSpec* spec) {
  Napi::Env env = js.Env();
  std::string_view bad_field;
  visit_request_fields(*spec, [&](const RequestField& field, auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    // A getter that threw leaves an exception pending: nothing more is read.
    if (!bad_field.empty() || env.IsExceptionPending()) return;
    Napi::Value v = js.Get(std::string(field.name));
    if (env.IsExceptionPending()) return;
    if (v.IsUndefined() || (field.kind == FieldKind::kBody && v.IsNull())) {
      if (field.required) bad_field = field.name;
      return;
    }
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>) {
      if ((ok = v.IsBoolean())) member = v.As<Napi::Boolean>().Value();
    } else if constexpr (std::is_same_v<T, uint16_t> || std::is_same_v<T, uint64_t>) {
      const uint64_t max = field.kind == FieldKind::kPort ? 65535 : field.max;
      const std::optional<uint64_t> n = whole_number(v, max);
      if ((ok = n.has_value())) member = static_cast<T>(*n);
    } else if constexpr (std::is_same_v<T, HeaderList>) {
      ok = read_headers(v, &member);
    } else if (field.kind == FieldKind::kBody) {
      if (v.IsTypedArray()) {
        const std::optional<std::string_view> bytes = typed_bytes(v.As<Napi::TypedArray>());
        if (!bytes) return;  // an exception is pending
        member = *bytes;     // the one copy: JS memory never crosses threads
        ok = true;
      }
    } else {
      if ((ok = v.IsString())) member = v.As<Napi::String>().Utf8Value();
    }
    if (!ok) bad_field = field.name;
  });
  if (!bad_field.empty()) {
    throw_unless_pending(
        env, Napi::TypeError::New(env, "NativeEngine.request: invalid " + std::string(bad_field)));
  }
  // Every read above may have left a JS exception pending (node-addon-api reports failures that
  // way here, without C++ exceptions): a request that will throw in JS is never submitted.
  return !env.IsExceptionPending();
}

bool read_engine_options(Napi::Object o, EngineOptions* options, std::optional<share::HubOptions>* share) {
  Napi::Env env = o.Env();
  // Pool limits and health, by the names of core/engine_option_fields.h (ranges validated by
  // lib/options.ts against that table's; 0 = unlimited / off). A value that is not a whole number
  // leaves the default.
  auto count = [&](std::string_view key, auto& out) {
    if (std::optional<uint64_t> n = whole_number(o.Get(std::string(key)), kMaxSafeInteger)) {
      out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
    }
  };
  visit_engine_options(*options,
                       [&](const EngineOptionField& field, auto& member) { count(field.name, member); });
  count("sweepIntervalMs", options->sweep_interval_ms);  // not a user option: tests of the pool
  Napi::Value s = o.Get("share");
  if (!s.IsObject()) return !env.IsExceptionPending();
  Napi::Object so = s.As<Napi::Object>();
  share->emplace();
  share::HubOptions& hub = **share;
  const std::optional<uint64_t> port = whole_number(so.Get("port"), 65535);
  if (!port) {
    throw_unless_pending(env, Napi::TypeError::New(env, "NativeEngine: share.port must be a port number"));
    return false;
  }
  hub.port = static_cast<uint16_t>(*port);
  Napi::Value socket_dir = so.Get("socketDir");
  if (socket_dir.IsString()) hub.socket_dir = socket_dir.As<Napi::String>().Utf8Value();
  auto ms = [&](const char* key, uint64_t& out) {
    if (std::optional<uint64_t> n = whole_number(so.Get(key), kMaxTimeoutMs)) out = *n;
  };
  ms("handoverTimeoutMs", hub.handover_timeout_ms);
  ms("handshakeTimeoutMs", hub.handshake_timeout_ms);
  ms("pingIntervalMs", hub.ping_interval_ms);
  ms("pingTimeoutMs", hub.ping_timeout_ms);
  ms("linkIdleTimeoutMs", hub.link_idle_timeout_ms);
  ms("drainGraceMs", hub.drain_grace_ms);
  hub.engine = *options;
  return !env.IsExceptionPending();
}

ClientLimits read_client_limits(Napi::Object o) {
  ClientLimits limits;
  if (std::optional<uint64_t> n = whole_number(o.Get("maxInFlight"), kMaxSafeInteger))
    limits.max_in_flight = *n;
  if (std::optional<uint64_t> n = whole_number(o.Get("maxQueued"), kMaxSafeInteger)) limits.max_queued = *n;
  return limits;
}

namespace {

// The `type` of an event object: lib/native.ts's EventType.
enum EventType : int { kHead = 0, kBody = 1, kEnd = 2, kError = 3, kNotice = 4, kSent = 5 };

Napi::String js_string(Napi::Env env, std::string_view s) {
  return Napi::String::New(env, s.data(), s.size());
}

}  // namespace

Napi::Object event_to_js(Napi::Env env, Event& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, static_cast<double>(e.id)));
  switch (e.kind) {
    case Event::Kind::kHead: {
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
    case Event::Kind::kBody: {
      o.Set("type", Napi::Number::New(env, kBody));
      // Handed over without a second copy: the Buffer owns the bytes the engine read.
      auto* owned = new std::string(std::move(e.body));
      o.Set("data", Napi::Buffer<char>::New(
                        env, owned->data(), owned->size(), [](Napi::Env, char*, std::string* s) { delete s; },
                        owned));
      break;
    }
    case Event::Kind::kEnd:
      o.Set("type", Napi::Number::New(env, kEnd));
      break;
    case Event::Kind::kError:
      o.Set("type", Napi::Number::New(env, kError));
      o.Set("code", js_string(env, error_code_name(e.error.code)));
      o.Set("stage", js_string(env, stage_name(e.error.stage)));
      o.Set("message", Napi::String::New(env, e.error.message));
      break;
    case Event::Kind::kSent:
      o.Set("type", Napi::Number::New(env, kSent));
      o.Set("bytes", Napi::Number::New(env, static_cast<double>(e.sent)));
      break;
    case Event::Kind::kNotice:
      o.Set("type", Napi::Number::New(env, kNotice));
      o.Set("notice", Napi::String::New(env, e.notice));
      if (!e.error.message.empty()) {
        o.Set("code", js_string(env, error_code_name(e.error.code)));
        o.Set("message", Napi::String::New(env, e.error.message));
      }
      break;
  }
  return o;
}

Napi::Object stats_to_js(Napi::Env env, const EngineStats& s, const share::HubStats* hs, bool closed) {
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](Napi::Object& to, const char* k, uint64_t v) {
    to.Set(k, Napi::Number::New(env, static_cast<double>(v)));
  };
  num(o, "requestsStarted", s.requests_started);
  num(o, "requestsInFlight", s.requests_in_flight);
  num(o, "connectionsOpened", s.connections_opened);
  num(o, "tlsHandshakes", s.tls_handshakes);
  num(o, "connectionsReused", s.connections_reused);
  num(o, "connectionsOpen", s.connections_open);
  num(o, "connectionsIdle", s.connections_idle);
  num(o, "bytesIn", s.bytes_in);
  num(o, "bytesOut", s.bytes_out);
  num(o, "connectionsLive", s.connections_live);
  num(o, "connectionsConnecting", s.connections_connecting);
  num(o, "requestsQueued", s.requests_queued);
  num(o, "tlsResumed", s.tls_resumed);
  num(o, "exchanges", s.exchanges);
  num(o, "exchangesReused", s.exchanges_reused);
  num(o, "h2PingsTimedOut", s.h2_pings_timed_out);
  num(o, "connectionsSwept", s.connections_swept);
  Napi::Object errors = Napi::Object::New(env);
  for (size_t i = 0; i < s.errors.size(); ++i) {
    if (s.errors[i] == 0) continue;
    errors.Set(std::string(error_code_name(static_cast<ErrorCode>(i))),
               Napi::Number::New(env, static_cast<double>(s.errors[i])));
  }
  o.Set("errors", errors);
  o.Set("closed", Napi::Boolean::New(env, closed));
  if (!hs) return o;
  Napi::Object sh = Napi::Object::New(env);
  sh.Set("role", Napi::String::New(env, hs->role));
  sh.Set("link", Napi::String::New(env, hs->link));
  num(sh, "streamsInFlight", hs->streams_in_flight);
  num(sh, "pending", hs->pending);
  num(sh, "elections", hs->elections);
  num(sh, "linksEstablished", hs->links_established);
  num(sh, "reconnects", hs->reconnects);
  num(sh, "retried", hs->retried);
  num(sh, "hostGone", hs->host_gone);
  num(sh, "peersOpen", hs->peers_open);
  num(sh, "peersAccepted", hs->peers_accepted);
  num(sh, "peersRefused", hs->peers_refused);
  num(sh, "hostPid", hs->host_pid);
  o.Set("share", sh);
  return o;
}

Napi::Array origin_stats_to_js(Napi::Env env, const std::vector<OriginStats>& list) {
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

Napi::Array engine_options_to_js(Napi::Env env) {
  Napi::Array out = Napi::Array::New(env);
  const EngineOptions unused;
  uint32_t i = 0;
  visit_engine_options(unused, [&](const EngineOptionField& field, const auto&) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", js_string(env, field.name));
    o.Set("min", Napi::Number::New(env, static_cast<double>(field.min)));
    o.Set("max", Napi::Number::New(env, static_cast<double>(field.max)));
    out.Set(i++, o);
  });
  return out;
}

Napi::Array request_fields_to_js(Napi::Env env) {
  Napi::Array out = Napi::Array::New(env);
  const RequestSpec unused;
  uint32_t i = 0;
  visit_request_fields(unused, [&](const RequestField& field, const auto&) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", js_string(env, field.name));
    o.Set("kind", js_string(env, field_kind_name(field.kind)));
    o.Set("required", Napi::Boolean::New(env, field.required));
    o.Set("onLink", Napi::Boolean::New(env, field.on_link));
    if (field.kind == FieldKind::kCount) o.Set("max", Napi::Number::New(env, static_cast<double>(field.max)));
    out.Set(i++, o);
  });
  return out;
}

}  // namespace ctn::binding
