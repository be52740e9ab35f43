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

// A connection's fingerprint as two values (lib/fingerprint.ts decodes them):
//   - its own part, one ASCII string "ja3\0akamai\0ech\0RT" (R: resumed '1'/'0'; T: transport
//     't'/'q'), made for every head: a few hundred bytes that die young cost less than finding a kept
//     string again through a reference (Node-API before v10 references objects only);
//   - its hello shape's part, the array [ja3n, ja4, ja4r], made once per shape (native/fingerprint
//     shares it by every connection of one preset) and kept while connections of that shape live.
// Both undefined for a connection without one. JS thread only.
class FingerprintStrings {
 public:
  struct Values {
    napi_value own;
    napi_value shape;
  };
  Values get(Napi::Env env, const std::shared_ptr<const fingerprint::ConnectionFingerprint>& f);
  // One batch of events starts (and ends): the last values handed out are remembered only within
  // one, where their handles are valid and their connection (held by the event) still the same object.
  void begin_batch();

 private:
  Napi::Array shape_of(Napi::Env env, const std::shared_ptr<const fingerprint::OrderFreeFingerprint>& shape);

  const fingerprint::ConnectionFingerprint* batch_last_ = nullptr;
  Values batch_last_values_{nullptr, nullptr};
  // The arrays of shapes no connection holds any more are dropped whenever a new one is made; past
  // this many live ones, all are (their next heads make their arrays again).
  static constexpr size_t kMaxShapesKept = 128;
  struct KeptShape {
    std::weak_ptr<const fingerprint::OrderFreeFingerprint> owner;
    Napi::Reference<Napi::Array> array;
  };
  std::unordered_map<const fingerprint::OrderFreeFingerprint*, KeptShape> shapes_;
};

// A batch of events as flat values, each event [type, id, ...its fields] (lib/native-wire.ts's
// decodeEvents reads them back; a head's headers as one NUL-joined string, and after its fields the
// body and the end that joined it in the queue, core/event_queue.h). They go to JS as the arguments of
// one call, not as elements of an array: Node-API sets an array's element through V8's generic
// property path, some thousand instructions each, a head's sixteen the largest cost of a request
// on the JS thread. Bodies move into their Buffers (no second copy of large ones).
//
// The events from `from` on, whole, until past kMaxValuesPerCall values: into `out` (cleared first);
// returns the index of the first event left for the next call.
constexpr size_t kMaxValuesPerCall = 4096;
size_t events_to_values(Napi::Env env, std::vector<Event>& events, size_t from,
                        FingerprintStrings& fingerprints, std::vector<napi_value>* out);

// `share`: the hub's own counters when requests go through one.
Napi::Object stats_to_js(Napi::Env env, const EngineStats& stats, const share::HubStats* share, bool closed);
Napi::Array origin_stats_to_js(Napi::Env env, const std::vector<OriginStats>& list);

// [{ name, min, max }] of core/engine_option_fields.h: lib/options.ts validates by it.
Napi::Array engine_options_to_js(Napi::Env env);

// [{ name, kind, required, onLink, max? }] of core/request_fields.h, for lib's schema test.
Napi::Array request_fields_to_js(Napi::Env env);

}  // namespace ctn::binding
