#include "binding/marshal.h"

#include <cmath>
#include <cstring>
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

// A number as an integer of 0..max; nothing for anything else (a negative number, NaN, more than
// the field holds), which the caller reports as a TypeError: a double outside the target type is
// undefined behaviour to convert, whatever lib/ promised. Fractions are dropped.
std::optional<uint64_t> whole_number(double d, uint64_t max) {
  if (!(d >= 0) || d > static_cast<double>(max)) return std::nullopt;
  return static_cast<uint64_t>(d);
}

// The same for a JS value: nothing unless it is a number.
std::optional<uint64_t> whole_number(Napi::Value v, uint64_t max) {
  if (!v.IsNumber()) return std::nullopt;
  return whole_number(v.As<Napi::Number>().DoubleValue(), max);
}

// "0aff..." (either case) as the bytes it spells; false for an odd length or a non-hex digit.
bool hex_bytes(std::string_view hex, std::string* out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return false;
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

// The packed spec's text, cut at its NULs into exactly `count` parts (none: the text is empty).
// False when the count differs: a NUL inside a value (lib refuses those) can never shift one
// value into the next field.
bool split_parts(std::string_view text, size_t count, std::vector<std::string_view>* parts) {
  parts->clear();
  if (count == 0) return text.empty();
  parts->reserve(count);
  size_t from = 0;
  for (;;) {
    const size_t nul = text.find('\0', from);
    if (nul == std::string_view::npos) break;
    if (parts->size() + 1 == count) return false;
    parts->push_back(text.substr(from, nul - from));
    from = nul + 1;
  }
  parts->push_back(text.substr(from));
  return parts->size() == count;
}

}  // namespace

uint32_t HeaderListRegistry::add(HeaderList list) {
  if (lists_.size() >= kMaxLists) return 0;
  lists_.push_back(std::move(list));
  return static_cast<uint32_t>(lists_.size());
}

const HeaderList* HeaderListRegistry::find(uint64_t id) const {
  return id >= 1 && id <= lists_.size() ? &lists_[id - 1] : nullptr;
}

bool read_header_list(Napi::Value flat_js, HeaderList* list) {
  Napi::Env env = flat_js.Env();
  auto invalid = [&] {
    throw_unless_pending(env, Napi::TypeError::New(env, "NativeEngine.registerHeaders: invalid headers"));
    return false;
  };
  if (!flat_js.IsArray()) return invalid();
  Napi::Array flat = flat_js.As<Napi::Array>();
  const uint32_t n = flat.Length();
  if (n % 2 != 0) return invalid();
  list->reserve(n / 2);
  for (uint32_t i = 0; i < n; i += 2) {
    Napi::Value name = flat.Get(i);
    Napi::Value value = env.IsExceptionPending() ? Napi::Value() : flat.Get(i + 1);
    if (env.IsExceptionPending() || !name.IsString() || !value.IsString()) return invalid();
    list->push_back({name.As<Napi::String>().Utf8Value(), value.As<Napi::String>().Utf8Value()});
    // The rule of a packed spec's text, where a NUL would shift one value into the next: a list
    // holds the same strings whichever way it comes.
    const Header& h = list->back();
    if (h.name.find('\0') != std::string::npos || h.value.find('\0') != std::string::npos) return invalid();
  }
  return true;
}

bool read_packed_spec(Napi::Value values_js, Napi::Value text_js, Napi::Value body_js,
                      const HeaderListRegistry& registry, RequestSpec* spec) {
  Napi::Env env = values_js.Env();
  auto invalid = [&](std::string_view what) {
    throw_unless_pending(env,
                         Napi::TypeError::New(env, "NativeEngine.request: invalid " + std::string(what)));
    return false;
  };
  if (!values_js.IsTypedArray() || values_js.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    return invalid("packed values");
  }
  const std::optional<std::string_view> raw = typed_bytes(values_js.As<Napi::TypedArray>());
  if (!raw) return false;
  const size_t slots = raw->size() / sizeof(double);
  if (!text_js.IsString()) return invalid("packed text");
  const std::string text = text_js.As<Napi::String>().Utf8Value();
  if (env.IsExceptionPending()) return false;

  // Pass 1: every slot's kind and the number of text parts the slots announce.
  auto slot = [&](size_t i) {
    double d;
    std::memcpy(&d, raw->data() + i * sizeof(double), sizeof d);
    return d;
  };
  std::string_view bad_field;
  size_t index = 0, parts_expected = 0, headers_slot = 0;
  // Both passes' visitors are inlined into the visit: called out of line, the dozen fields a default
  // request leaves absent cost more than the ones it sets.
  visit_request_fields(
      *spec, [&](const RequestField& field, auto&) __attribute__((always_inline)) {
        const size_t i = index++;
        if (field.kind == FieldKind::kHeaders) headers_slot = i;
        if (!bad_field.empty()) return;
        if (i >= slots) {
          bad_field = field.name;
          return;
        }
        const double d = slot(i);
        if (std::isnan(d)) return;
        if (field.kind == FieldKind::kString || field.kind == FieldKind::kHex) parts_expected += 1;
        if (field.kind == FieldKind::kStrings) {
          // The count of strings; the parts bound it, as for the headers.
          const std::optional<uint64_t> count = whole_number(d, text.size() + 1);
          if (!count || static_cast<double>(*count) != d) {
            bad_field = field.name;
            return;
          }
          parts_expected += *count;
        }
        if (field.kind == FieldKind::kHeaders) {
          // The count of header strings; the parts bound it (each is at least empty, with a NUL).
          const std::optional<uint64_t> count = whole_number(d, text.size() + 1);
          if (!count || *count % 2 != 0 || static_cast<double>(*count) != d) {
            bad_field = field.name;
            return;
          }
          parts_expected += *count;
        }
      });
  if (!bad_field.empty()) return invalid(bad_field);
  // The slot after the fields, when there is one: the id of a registered header list (NaN: none),
  // which stands for the headers field (then absent: the headers come from one place only).
  const HeaderList* registered = nullptr;
  if (const size_t id_slot = index; slots > id_slot && !std::isnan(slot(id_slot))) {
    const std::optional<uint64_t> id = whole_number(slot(id_slot), kMaxSafeInteger);
    if (id && static_cast<double>(*id) == slot(id_slot)) registered = registry.find(*id);
    if (!registered) {
      // Only a bug of lib's (or a caller of the binding's own) sends an id this engine never gave.
      Napi::Error err =
          Napi::Error::New(env, "NativeEngine.request: the header list id names no registered list");
      err.Set("code", Napi::String::New(env, "ERR_INTERNAL"));
      throw_unless_pending(env, err);
      return false;
    }
    if (!std::isnan(slot(headers_slot))) return invalid("headers");
  }
  std::vector<std::string_view> parts;
  if (!split_parts(text, parts_expected, &parts)) return invalid("packed text");

  // Pass 2: the values.
  size_t next_part = 0;
  index = 0;
  visit_request_fields(
      *spec, [&](const RequestField& field, auto& member) __attribute__((always_inline)) {
        using T = std::remove_cvref_t<decltype(member)>;
        const double d = slot(index++);
        if (!bad_field.empty()) return;
        if (std::isnan(d)) {
          if (field.required) bad_field = field.name;
          return;
        }
        bool ok = false;
        if constexpr (std::is_same_v<T, bool>) {
          if ((ok = d == 0 || d == 1)) member = d == 1;
        } else if constexpr (std::is_same_v<T, uint16_t> || std::is_same_v<T, uint64_t>) {
          const std::optional<uint64_t> n =
              whole_number(d, field.kind == FieldKind::kPort ? 65535 : field.max);
          if ((ok = n.has_value())) member = static_cast<T>(*n);
        } else if constexpr (std::is_same_v<T, HeaderList>) {
          const size_t n = static_cast<size_t>(d);
          member.reserve(n / 2);
          for (size_t k = 0; k < n; k += 2, next_part += 2) {
            member.push_back({std::string(parts[next_part]), std::string(parts[next_part + 1])});
          }
          ok = true;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          const size_t n = static_cast<size_t>(d);
          member.reserve(n);
          for (size_t k = 0; k < n; ++k) member.emplace_back(parts[next_part++]);
          ok = true;
        } else if (field.kind == FieldKind::kHex) {
          ok = hex_bytes(parts[next_part++], &member);
        } else if (field.kind == FieldKind::kBody) {
          if (body_js.IsTypedArray()) {
            const std::optional<std::string_view> bytes = typed_bytes(body_js.As<Napi::TypedArray>());
            if (!bytes) return;  // an exception is pending
            member = *bytes;     // the one copy: JS memory never crosses threads
            ok = true;
          }
        } else {
          member = parts[next_part++];
          ok = true;
        }
        if (!ok) bad_field = field.name;
      });
  if (!bad_field.empty()) return invalid(bad_field);
  if (registered) spec->headers = *registered;
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

// Bodies below this size are copied into a plain Buffer; larger ones are handed over with a
// finalizer (an external buffer's weak callback costs more than copying a few KiB).
constexpr size_t kCopyBodyBelow = 64 * 1024;

// An ASCII-only text the engine made (a code, a stage, a TLS parameter): no UTF-8 decoding.
Napi::Value ascii(Napi::Env env, std::string_view s) {
  napi_value v;
  napi_create_string_latin1(env, s.data(), s.size(), &v);
  return Napi::Value(env, v);
}

// A head's headers as one NUL-joined string ("name\0value\0..."; lib splits it): one string made
// instead of two per header. A header holding a NUL (a server may send one in HTTP/1.1) would shift
// the pairs: such a list goes as the array [name, value, ...] instead.
Napi::Value headers_to_js(Napi::Env env, const HeaderList& headers) {
  size_t size = 0;
  bool has_nul = false;
  for (const auto& h : headers) {
    size += h.name.size() + h.value.size() + 2;
    has_nul = has_nul || h.name.find('\0') != std::string::npos || h.value.find('\0') != std::string::npos;
  }
  if (has_nul) {
    Napi::Array list = Napi::Array::New(env, headers.size() * 2);
    uint32_t i = 0;
    for (const auto& h : headers) {
      list.Set(i++, Napi::String::New(env, h.name));
      list.Set(i++, Napi::String::New(env, h.value));
    }
    return list;
  }
  std::string joined;
  joined.reserve(size);
  for (const auto& h : headers) {
    if (!joined.empty()) joined.push_back('\0');
    joined.append(h.name).push_back('\0');
    joined.append(h.value);
  }
  return Napi::String::New(env, joined);
}

napi_value body_to_js(Napi::Env env, std::string& body) {
  if (body.size() < kCopyBodyBelow) return Napi::Buffer<char>::Copy(env, body.data(), body.size());
  // Handed over without a second copy: the Buffer owns the bytes the engine read.
  auto* owned = new std::string(std::move(body));
  return Napi::Buffer<char>::New(
      env, owned->data(), owned->size(), [](Napi::Env, char*, std::string* s) { delete s; }, owned);
}

void append_event(Napi::Env env, std::vector<napi_value>& out, Event& e, FingerprintStrings& fingerprints) {
  auto put = [&](napi_value v) { out.push_back(v); };
  auto number = [&](double v) -> napi_value { return Napi::Number::New(env, v); };
  auto text = [&](const std::string& v) -> napi_value { return Napi::String::New(env, v); };
  switch (e.kind) {
    case Event::Kind::kHead: {
      put(number(kHead));
      put(number(static_cast<double>(e.id)));
      put(number(e.head.status));
      put(text(e.head.reason));
      const std::string version =
          std::to_string(e.head.version_major) + "." + std::to_string(e.head.version_minor);
      put(ascii(env, version));
      put(headers_to_js(env, e.head.headers));
      put(ascii(env, e.connection.alpn));
      put(ascii(env, e.connection.tls_version));
      put(ascii(env, e.connection.cipher));
      put(number(static_cast<double>(e.connection.connection_id)));
      put(Napi::Boolean::New(env, e.connection.reused));
      put(Napi::Boolean::New(env, e.connection.tls_resumed));
      const FingerprintStrings::Values fingerprint = fingerprints.get(env, e.connection.fingerprint);
      put(fingerprint.own);
      put(fingerprint.shape);
      // What joined the head in the queue (core/event_queue.h): its first body bytes, and its end.
      put(e.body.empty() ? env.Undefined() : body_to_js(env, e.body));
      put(Napi::Boolean::New(env, e.ended));
      return;
    }
    case Event::Kind::kBody:
      put(number(kBody));
      put(number(static_cast<double>(e.id)));
      put(body_to_js(env, e.body));
      return;
    case Event::Kind::kEnd:
      put(number(kEnd));
      put(number(static_cast<double>(e.id)));
      return;
    case Event::Kind::kError:
      put(number(kError));
      put(number(static_cast<double>(e.id)));
      put(ascii(env, error_code_name(e.error.code)));
      put(ascii(env, stage_name(e.error.stage)));
      put(text(e.error.message));
      return;
    case Event::Kind::kSent:
      put(number(kSent));
      put(number(static_cast<double>(e.id)));
      put(number(static_cast<double>(e.sent)));
      return;
    case Event::Kind::kNotice:
      put(number(kNotice));
      put(number(static_cast<double>(e.id)));
      put(text(e.notice));
      if (e.error.message.empty()) {
        put(env.Undefined());
        put(env.Undefined());
      } else {
        put(ascii(env, error_code_name(e.error.code)));
        put(text(e.error.message));
      }
      return;
  }
}

}  // namespace

FingerprintStrings::Values FingerprintStrings::get(
    Napi::Env env, const std::shared_ptr<const fingerprint::ConnectionFingerprint>& f) {
  if (!f || !f->tls.order_free) return {env.Undefined(), env.Undefined()};
  // The heads of one batch mostly come over one connection (HTTP/2, HTTP/3): its values again.
  if (f.get() == batch_last_ && batch_last_values_.own != nullptr) return batch_last_values_;
  std::string text;
  text.reserve(f->tls.ja3.size() + f->akamai.size() + 16);
  text.append(f->tls.ja3).push_back('\0');
  text.append(f->akamai).push_back('\0');
  text.append(fingerprint::ech_name(f->ech)).push_back('\0');
  text.push_back(f->resumed ? '1' : '0');
  text.push_back(f->quic ? 'q' : 't');
  const Values values{ascii(env, text), shape_of(env, f->tls.order_free)};
  batch_last_ = f.get();
  batch_last_values_ = values;
  return values;
}

void FingerprintStrings::begin_batch() {
  batch_last_ = nullptr;
  batch_last_values_ = {nullptr, nullptr};
}

Napi::Array FingerprintStrings::shape_of(
    Napi::Env env, const std::shared_ptr<const fingerprint::OrderFreeFingerprint>& shape) {
  if (auto it = shapes_.find(shape.get()); it != shapes_.end()) {
    // The same object, not a new one at a freed one's address: the same control block.
    const auto& owner = it->second.owner;
    if (!owner.owner_before(shape) && !shape.owner_before(owner)) return it->second.array.Value();
    shapes_.erase(it);
  }
  Napi::Array array = Napi::Array::New(env, 3);
  array.Set(0u, ascii(env, shape->ja3n));
  array.Set(1u, ascii(env, shape->ja4));
  array.Set(2u, ascii(env, shape->ja4r));
  std::erase_if(shapes_, [](const auto& kv) { return kv.second.owner.expired(); });
  if (shapes_.size() >= kMaxShapesKept) shapes_.clear();
  shapes_.emplace(shape.get(), KeptShape{shape, Napi::Persistent(array)});
  return array;
}

size_t events_to_values(Napi::Env env, std::vector<Event>& events, size_t from,
                        FingerprintStrings& fingerprints, std::vector<napi_value>* out) {
  out->clear();
  fingerprints.begin_batch();
  size_t next = from;
  for (; next < events.size() && out->size() < kMaxValuesPerCall; ++next) {
    append_event(env, *out, events[next], fingerprints);
  }
  fingerprints.begin_batch();  // the values' handles end with the caller's scope
  return next;
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
  Napi::Array identities = Napi::Array::New(env, s.identities.size());
  for (uint32_t i = 0; i < s.identities.size(); ++i) {
    const IdentityStats& id = s.identities[i];
    Napi::Object one = Napi::Object::New(env);
    one.Set("identity", Napi::String::New(env, id.identity));
    num(one, "connectionsOpened", id.connections_opened);
    num(one, "tlsHandshakes", id.tls_handshakes);
    num(one, "tlsResumed", id.tls_resumed);
    num(one, "exchanges", id.exchanges);
    identities.Set(i, one);
  }
  o.Set("identities", identities);
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
