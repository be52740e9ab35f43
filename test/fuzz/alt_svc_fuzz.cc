// The Alt-Svc parser (native/pool/alt_svc_header) fed a server's field values, and the store
// (alt_svc_store) fed what it parses. Traps unless: an invalid value yields no alternatives; a valid
// one keeps at most kMaxAltSvcAlternatives, each with a non-empty ALPN id within 255 bytes, a port,
// and a host that is a lower-case name or an IPv6 literal; each kept alternative, written back as
// a canonical Alt-Svc value, parses to itself; the store never holds more than its bounds.
//
// Input: one control byte, then the value.
//   bit 0     the value is several field lines, cut at '\n' (alt_svc_parse_fields)
//   bits 1-7  seconds the store's clock moves between the steps (a lookup, a failure, a success)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "pool/alt_svc_header.h"
#include "pool/alt_svc_store.h"

namespace {

using ctn::AltSvcAlternative;
using ctn::AltSvcHeader;

// The canonical form of one alternative: protocol id percent-encoded where it is not a plain
// token character, the authority quoted and escaped.
std::string canonical(const AltSvcAlternative& alt) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : alt.alpn) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                       u == '-' || u == '.' || u == '_' || u == '~';
    if (plain) {
      out.push_back(c);
    } else {
      out.append({'%', kHex[u >> 4], kHex[u & 15]});
    }
  }
  out.append("=\"");
  const bool ipv6 = alt.host.find(':') != std::string::npos;
  if (ipv6) out.push_back('[');
  out.append(alt.host);
  if (ipv6) out.push_back(']');
  out.append(":").append(std::to_string(alt.port)).append("\"; ma=").append(std::to_string(alt.max_age_s));
  if (alt.persist) out.append("; persist=1");
  return out;
}

void check(const AltSvcHeader& header) {
  if (header.kind != AltSvcHeader::Kind::kAlternatives) {
    if (!header.alternatives.empty()) __builtin_trap();
    return;
  }
  if (header.alternatives.empty() || header.alternatives.size() > ctn::kMaxAltSvcAlternatives)
    __builtin_trap();
  for (const AltSvcAlternative& alt : header.alternatives) {
    if (alt.alpn.empty() || alt.alpn.size() > ctn::kMaxAltSvcAlpnBytes || alt.port == 0) __builtin_trap();
    if (alt.host.size() > ctn::kMaxAltSvcHostBytes) __builtin_trap();
    for (char c : alt.host) {
      if (c >= 'A' && c <= 'Z') __builtin_trap();
    }
    const AltSvcHeader again = ctn::alt_svc_parse(canonical(alt));
    if (again.kind != AltSvcHeader::Kind::kAlternatives || again.alternatives.size() != 1 ||
        !(again.alternatives[0] == alt)) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput input(data, size);
  const uint8_t control = input.control();
  const std::string_view value = input.rest();

  AltSvcHeader header;
  if (control & 1) {
    std::vector<std::string_view> lines;
    for (size_t at = 0; at <= value.size();) {
      const size_t end = std::min(value.find('\n', at), value.size());
      lines.push_back(value.substr(at, end - at));
      at = end + 1;
    }
    header = ctn::alt_svc_parse_fields(lines);
  } else {
    header = ctn::alt_svc_parse(value);
  }
  check(header);

  // The store, with small bounds, on a clock the input moves.
  auto now = ctn::AltSvcStore::Clock::time_point{};
  const auto step = std::chrono::seconds(control >> 1);
  ctn::AltSvcStore store({.max_origins = 2, .max_broken = 2}, [&now] { return now; });
  ctn::PoolKey origin;
  origin.host = "example.com";
  origin.port = 443;
  for (const std::string identity : {"", "a", "b"}) {
    origin.identity = identity;
    const ctn::AltSvcKey key = ctn::alt_svc_key(origin);
    store.record(key, header);
    now += step;
    const auto usable = store.lookup(key);
    if (usable.size() > ctn::AltSvcStore::kMaxAlternativesPerOrigin) __builtin_trap();
    for (const auto& endpoint : usable) {
      if (endpoint.host.empty() || endpoint.port == 0) __builtin_trap();
      store.mark_broken(key, endpoint);
      if (!store.is_broken(key, endpoint)) __builtin_trap();
    }
    now += step;
    if (!usable.empty()) store.confirm(key, usable.front());
    if (store.size() > 2 || store.broken_size() > 2) __builtin_trap();
  }
  return 0;
}
