// The order a dialler tries a name's addresses in (RFC 8305 §4, Happy Eyeballs v2): the families
// interleaved, IPv6 first, each family in the resolver's order. `family` 4 or 6 keeps that family only
// (Node's `family` option); anything that is not an IP literal is dropped.
#pragma once

#include <string>
#include <vector>

namespace ctn::dns {

// The delay before the next connection attempt starts while the previous one is still pending
// (RFC 8305 §5: "Connection Attempt Delay", 250 ms recommended; Chrome uses the same).
inline constexpr int kConnectionAttemptDelayMs = 250;

std::vector<std::string> happy_eyeballs_order(const std::vector<std::string>& addresses, int family);

}  // namespace ctn::dns
