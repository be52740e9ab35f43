// What a name resolved to, whoever resolved it: the engine's own resolver (A, AAAA and HTTPS records)
// or lib/ (a caller's `lookup` function, DNS over HTTPS) ahead of the request. The dialler connects
// to `addresses` (Happy Eyeballs), TLS takes `ech_config_list`, and HTTP/3 discovery takes `alpn`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ctn {

struct DnsAnswer {
  // Literal IPv6 and IPv4 addresses ("::1", "127.0.0.1"), in the resolver's order; the dialler
  // orders them for Happy Eyeballs (RFC 8305 §4: families interleaved, IPv6 first).
  std::vector<std::string> addresses;
  // The HTTPS record's `ech` SvcParam: an ECHConfigList, raw bytes ("" = none: ECH GREASE).
  std::string ech_config_list;
  // The HTTPS record's `alpn` SvcParam ("h3", "h2", ...), in its order; empty when there is none.
  std::vector<std::string> alpn;
  // How long the answer may be kept, in seconds (the smallest TTL among the records it came from).
  uint32_t ttl_seconds = 0;
};

}  // namespace ctn
