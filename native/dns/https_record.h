// The DNS HTTPS resource record (type 65, RFC 9460), byte-in: a DNS response message in, the
// records and what the engine takes from them out. c-ares 1.18 does not parse this type, so the
// bytes come here untouched from the name server: every length is checked against what is left,
// names and parameter lists are bounded, and a malformed record is refused, never half-read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns_answer.h"

namespace ctn::dns {

inline constexpr uint16_t kTypeHttps = 65;
// Longest domain name in text form (RFC 1035 §2.3.4: 255 octets on the wire).
inline constexpr size_t kMaxNameLength = 255;
// The most records one response may hand over (a real answer holds a handful).
inline constexpr size_t kMaxHttpsRecords = 32;

struct HttpsRecord {
  uint16_t priority = 0;  // SvcPriority; 0 = AliasMode
  std::string target;     // TargetName in text form, "." for the root (= the owner name in ServiceMode)
  std::vector<std::string> alpn;
  bool no_default_alpn = false;
  std::optional<uint16_t> port;
  std::vector<std::string> ipv4_hints;  // literals
  std::vector<std::string> ipv6_hints;
  std::string ech_config_list;  // raw ECHConfigList bytes
  // A key listed in `mandatory` that this parser does not know: the client must not use the record.
  bool unknown_mandatory_key = false;
  uint32_t ttl_seconds = 0;

  bool alias_mode() const { return priority == 0; }
};

// One record's RDATA. False (and `why`) when it is malformed: truncated, trailing bytes, keys out of
// order or repeated, a parameter whose value does not have its key's shape.
bool parse_https_rdata(std::string_view rdata, HttpsRecord* out, std::string* why);

// Every HTTPS record in the answer section of a DNS response (CNAMEs before them are passed over);
// malformed records are skipped, a malformed message is refused (false, `why`).
bool parse_https_response(std::string_view message, std::vector<HttpsRecord>* out, std::string* why);

// What a connection to `host`:`port` takes from the records, as Chrome does (its HostResolver's
// HTTPS-record handling): AliasMode records are ignored (Chrome does not follow them), and so are
// ServiceMode records that name another target (we connect to the origin's own addresses), another
// port, or a mandatory key we do not know. Of the rest, the one of lowest SvcPriority gives its
// `ech` and `alpn`. Nothing usable: nullopt (the connection goes on as without the record).
struct HttpsChoice {
  std::string ech_config_list;
  std::vector<std::string> alpn;
  uint32_t ttl_seconds = 0;
};
std::optional<HttpsChoice> choose_https_record(const std::vector<HttpsRecord>& records, std::string_view host,
                                               uint16_t port);

// The name the HTTPS record of `host`:`port` lives at (RFC 9460 §9.1, port prefix naming):
// the host itself on 443, "_<port>._https.<host>" on any other port.
std::string https_query_name(std::string_view host, uint16_t port);

}  // namespace ctn::dns
