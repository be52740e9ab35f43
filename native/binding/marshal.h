// JS values <-> engine values, and nothing else: reading a request spec and the engine's options
// from JS objects, writing events and stats as JS objects. Types are checked here; values were
// validated by lib/ (options.ts), which reads its bounds from the same C++ constants (constants()).
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/engine.h"
#include "core/request.h"
#include "share/hub.h"

namespace ctn::binding {

// Throws `error` to JS unless an exception is already pending there (a getter of the spec threw):
// node-addon-api aborts the process on a second throw, and the first one is the one to report.
void throw_unless_pending(Napi::Env env, const Napi::Error& error);

// The bytes a JS typed array views, valid until control returns to JS. Nothing when the view cannot
// be read: a JS exception is then pending, and the caller must not go on.
std::optional<std::string_view> typed_bytes(const Napi::TypedArray& ta);

// Header lists JS registered once (registerHeaders) and names by id in a packed spec: a preset's
// composed list (lib/headers.ts presetOnly, shared by most requests) crosses once per engine instead
// of as ~1 KB of text with every request. One per NativeEngine; JS thread only. Bounded: lib only
// registers its frozen lists (a few per preset); past kMaxLists it packs a list inline instead.
class HeaderListRegistry {
 public:
  static constexpr size_t kMaxLists = 1024;
  // The id of `list`, 1 and up, or 0 when the registry is full.
  uint32_t add(HeaderList list);
  // The list registered as `id`; null for an id this registry never gave.
  const HeaderList* find(uint64_t id) const;

 private:
  std::vector<HeaderList> lists_;
};

// registerHeaders()'s list, [name, value, ...] strings without NUL. False with a JS TypeError
// pending ("NativeEngine.registerHeaders: invalid headers") for anything else.
bool read_header_list(Napi::Value flat, HeaderList* list);

// request()'s spec as lib/native.ts packs it (packSpec): `values`, a Float64Array with one slot per
// field of the table (core/request_fields.h), in its order: NaN = absent, booleans 0/1, numbers as
// they are, 1 for a string, the count of header strings for the headers; then, optionally, one more
// slot: the id of a list in `registry` that stands for the headers (whose slot is then NaN), NaN for
// none. `text`, the strings (fields in order, then the header strings) joined by NUL; `body`, the
// body's typed array or undefined. One string and one typed array cross instead of one property
// per field (that was most of request()'s cost). False with a JS TypeError pending
// ("NativeEngine.request: invalid <field>") when a slot does not fit its field or the text does not
// hold the strings announced, and with an Error coded ERR_INTERNAL pending when the id names no
// registered list.
bool read_packed_spec(Napi::Value values, Napi::Value text, Napi::Value body,
                      const HeaderListRegistry& registry, RequestSpec* spec);

bool read_engine_options(Napi::Object js, EngineOptions* engine, std::optional<share::HubOptions>* share);

ClientLimits read_client_limits(Napi::Object js);

// A connection's fingerprint as one ASCII string, "ja3\0ja3n\0ja4\0ja4r\0akamai\0quicJa4\0ech\0resumed"
// (lib/native-wire.ts reads it), or undefined for none. Every response of a connection shares one
// fingerprint, and one string for it is made and kept (JS thread only) while the connection lives:
// lib's cache of decoded fingerprints then finds it by a hash V8 computed once, for every response.
class FingerprintStrings {
 public:
  napi_value get(Napi::Env env, const std::shared_ptr<const fingerprint::ConnectionFingerprint>& f);
  // One batch of events starts (and ends): the last string handed out is remembered only within
  // one, where its handle is valid and its connection (held by the event) still the same object.
  void begin_batch();

 private:
  napi_value lookup_or_make(Napi::Env env,
                            const std::shared_ptr<const fingerprint::ConnectionFingerprint>& f);
  const fingerprint::ConnectionFingerprint* batch_last_ = nullptr;
  napi_value batch_last_value_ = nullptr;
  // The strings of gone connections are dropped whenever a new one is made; past this many live
  // ones, all are (their next responses make their strings again).
  static constexpr size_t kMaxKept = 512;
  struct Kept {
    std::weak_ptr<const fingerprint::ConnectionFingerprint> owner;
    Napi::Reference<Napi::Array> text;  // [the string]
  };
  std::unordered_map<const fingerprint::ConnectionFingerprint*, Kept> kept_;
};

// A batch of events as one flat array, each event [type, id, ...its fields] (lib/native-wire.ts's
// decodeEvents reads it back; a head's headers as one NUL-joined string, and after its fields the body and
// the end that joined it in the queue, core/event_queue.h): array elements cost far less than a JS object's
// named properties made through Node-API. Bodies move into their Buffers (no second copy of large ones).
Napi::Array events_to_js(Napi::Env env, std::vector<Event>& events, FingerprintStrings& fingerprints);

// `share`: the hub's own counters when requests go through one.
Napi::Object stats_to_js(Napi::Env env, const EngineStats& stats, const share::HubStats* share, bool closed);
Napi::Array origin_stats_to_js(Napi::Env env, const std::vector<OriginStats>& list);

// [{ name, min, max }] of core/engine_option_fields.h: lib/options.ts validates by it.
Napi::Array engine_options_to_js(Napi::Env env);

// [{ name, kind, required, onLink, max? }] of core/request_fields.h, for lib's schema test.
Napi::Array request_fields_to_js(Napi::Env env);

}  // namespace ctn::binding
