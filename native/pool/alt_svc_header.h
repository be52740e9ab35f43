// The Alt-Svc response header (RFC 7838 §3), byte-in: what a server offers as alternative services
// for its origin. The input is the server's, so the parser is bounded and total: any malformed value
// yields kInvalid (and no alternatives), never a partial guess, the way Chrome drops a header it
// cannot parse whole. No I/O, no clock; the store (alt_svc_store.h) applies a parse to an origin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ctn {

// One `protocol-id="[host]:port"; ma=..; persist=1` element.
struct AltSvcAlternative {
  std::string alpn;  // the percent-decoded protocol id ("h3", "h2", "h3-29", ...)
  std::string host;  // "" = the origin's host; an IPv6 literal without its brackets
  uint16_t port = 0;
  uint32_t max_age_s = 86'400;  // `ma`: RFC 7838's default is 24 hours
  bool persist = false;         // `persist=1`: survives a network change (nothing to us yet)
  bool operator==(const AltSvcAlternative&) const = default;
};

struct AltSvcHeader {
  enum class Kind {
    kInvalid,       // malformed, or longer than kMaxAltSvcValueBytes: ignored whole
    kClear,         // `clear`: forget the origin's alternatives
    kAlternatives,  // one or more alternatives (the first kMaxAltSvcAlternatives of them)
  };
  Kind kind = Kind::kInvalid;
  std::vector<AltSvcAlternative> alternatives;  // in the header's order (its preference order)
};

// Bounds on what one response's Alt-Svc can make us parse or hold.
inline constexpr size_t kMaxAltSvcValueBytes = 8192;  // all the response's Alt-Svc lines together
inline constexpr size_t kMaxAltSvcAlternatives = 16;  // kept per header; the rest are parsed, not kept
inline constexpr size_t kMaxAltSvcAlpnBytes = 255;    // an ALPN id's limit (RFC 7301)
inline constexpr size_t kMaxAltSvcHostBytes = 253;    // a DNS name's

// Parses one field value (the lines of a response with several Alt-Svc fields joined with ", ",
// which is what alt_svc_parse_fields does). `clear` must stand alone: inside a list it makes the
// value malformed (RFC 7838's grammar; Chrome agrees).
AltSvcHeader alt_svc_parse(std::string_view value);
// Every Alt-Svc field line of one response, as one list (RFC 9110 §5.3).
AltSvcHeader alt_svc_parse_fields(const std::vector<std::string_view>& lines);

// The ALPN id of HTTP/3 over QUIC version 1, the only alternative protocol we use. Chrome 156 takes
// no draft ids (h3-29, h3-Q050) any more, nor do we.
inline constexpr std::string_view kAltSvcHttp3 = "h3";

}  // namespace ctn
