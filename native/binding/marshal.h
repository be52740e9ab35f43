// JS values <-> engine values, and nothing else: reading a request spec and the engine's options
// from JS objects, writing events and stats as JS objects. Types are checked here; values were
// validated by lib/ (options.ts), which reads its bounds from the same C++ constants (constants()).
#pragma once

#include <napi.h>

#include <optional>
#include <string_view>
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

// request()'s spec, read by the field table (core/request_fields.h). False with a JS TypeError
// pending ("NativeEngine.request: invalid <field>") when a field has the wrong type, or with
// whatever exception a getter of the spec threw.
bool read_request_spec(Napi::Object js, RequestSpec* spec);

// The NativeEngine constructor's options; `share` is set when they ask for a shared engine. False
// with a JS exception pending when they cannot be used.
bool read_engine_options(Napi::Object js, EngineOptions* engine, std::optional<share::HubOptions>* share);

ClientLimits read_client_limits(Napi::Object js);

// Moves the event's body into the Buffer it returns (no second copy).
Napi::Object event_to_js(Napi::Env env, Event& event);

// `share`: the hub's own counters when requests go through one.
Napi::Object stats_to_js(Napi::Env env, const EngineStats& stats, const share::HubStats* share, bool closed);
Napi::Array origin_stats_to_js(Napi::Env env, const std::vector<OriginStats>& list);

// [{ name, min, max }] of core/engine_option_fields.h: lib/options.ts validates by it.
Napi::Array engine_options_to_js(Napi::Env env);

// [{ name, kind, required, onLink, max? }] of core/request_fields.h, for lib's schema test.
Napi::Array request_fields_to_js(Napi::Env env);

}  // namespace ctn::binding
