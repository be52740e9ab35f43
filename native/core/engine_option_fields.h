// EngineOptions a user may set (initCycleTLS's pool options), described once: their JS names and
// the range each accepts. lib/options.ts validates the user's values against these ranges (it reads
// them from the addon: engineOptions), and the binding reads the options by the same names.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/engine.h"

namespace ctn {

struct EngineOptionField {
  std::string_view name;  // the key in lib's NativeEngineOptions and initCycleTLS's options
  uint64_t min;
  uint64_t max;
};

// Calls visit(field, member) for every user-settable option; integers, 0 = unlimited (limits) or
// off (pings, resumption) where min allows it. `Options` is EngineOptions or const EngineOptions.
template <class Options, class Visit>
void visit_engine_options(Options& o, Visit&& visit) {
  static_assert(std::is_same_v<std::remove_const_t<Options>, EngineOptions>);
  visit(EngineOptionField{"maxConnectionsPerOrigin", 0, 1'000'000}, o.max_connections_per_origin);
  visit(EngineOptionField{"maxConnections", 0, 1'000'000}, o.max_connections);
  visit(EngineOptionField{"maxInFlightPerClient", 0, 1'000'000}, o.max_in_flight_per_client);
  visit(EngineOptionField{"maxQueued", 0, 100'000'000}, o.max_queued);
  visit(EngineOptionField{"maxH2SessionsPerOrigin", 1, 1000}, o.max_h2_sessions_per_origin);
  visit(EngineOptionField{"maxIdlePerOrigin", 0, 1'000'000}, o.max_idle_per_origin);
  visit(EngineOptionField{"idleTimeoutMs", 0, 86'400'000}, o.idle_timeout_ms);
  visit(EngineOptionField{"h2PingIntervalMs", 0, 86'400'000}, o.ping_interval_ms);
  visit(EngineOptionField{"h2PingTimeoutMs", 0, 3'600'000}, o.ping_timeout_ms);
  visit(EngineOptionField{"maxTlsSessions", 0, 1'000'000}, o.max_tls_sessions);
}

}  // namespace ctn
