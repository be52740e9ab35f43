// RequestSpec's fields, described once. The binding reads a JS spec (lib's NativeRequestSpec) by this
// list, the process link encodes and decodes a REQUEST by it, and the addon exports it so a test
// holds it against the keys lib/ sends. A new request option is one line here (plus its member in
// request.h), and lib's NativeRequestSpec/toSpec.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "core/request.h"

namespace ctn {

// The longest deadline a request may carry: a year. Longer ones are unit mistakes, and they would
// overflow steady_clock arithmetic. lib/ reads it from the addon (constants().maxTimeoutMs).
inline constexpr uint64_t kMaxTimeoutMs = uint64_t{365} * 24 * 3600 * 1000;
// The largest integer a JS number holds exactly: counts and sizes above it never come from lib/.
inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

// What a field holds, and so how it is read from JS and carried over the link.
enum class FieldKind : uint8_t {
  kString,   // JS string; link: length-prefixed bytes
  kBool,     // JS boolean; link: one byte, 0 or 1
  kPort,     // JS number 0..65535; link: u16
  kCount,    // JS number 0..max (an integer: fractions are dropped); link: u64, more than max refused
  kHeaders,  // JS [name, value, ...] strings; link: a count and the pairs
  kBody,     // JS typed array (copied); link: only its size (the bytes follow in REQUEST_BODY frames)
  kStrings,  // JS string[]; link: a count and the strings
  kHex,      // JS string of hex digits, held as the bytes they spell; link: length-prefixed bytes
};

struct RequestField {
  std::string_view name;  // the key in lib's NativeRequestSpec
  FieldKind kind;
  bool required = false;           // the binding refuses a spec without it
  bool on_link = true;             // carried by the link's REQUEST; if not, the host's hub decides it
  uint64_t max = kMaxSafeInteger;  // kCount: the largest value (the link refuses more)
};

// Calls visit(field, member) for every field, in the link's wire order: a new field goes at the
// end (and mux::kProtocolVersion goes up if it travels). `Spec` is RequestSpec or const RequestSpec.
// Not here: `id` (request()'s own argument and the link's stream id) and `custom_profile` (composed
// from the fingerprint strings by whoever receives them).
template <class Spec, class Visit>
void visit_request_fields(Spec& s, Visit&& visit) {
  static_assert(std::is_same_v<std::remove_const_t<Spec>, RequestSpec>);
  using K = FieldKind;
  visit(RequestField{.name = "method", .kind = K::kString, .required = true}, s.method);
  visit(RequestField{.name = "tls", .kind = K::kBool}, s.tls);
  visit(RequestField{.name = "host", .kind = K::kString, .required = true}, s.host);
  visit(RequestField{.name = "port", .kind = K::kPort, .required = true}, s.port);
  visit(RequestField{.name = "target", .kind = K::kString, .required = true}, s.target);
  visit(RequestField{.name = "headers", .kind = K::kHeaders}, s.headers);
  visit(RequestField{.name = "body", .kind = K::kBody}, s.body);
  visit(RequestField{.name = "serverName", .kind = K::kString}, s.server_name);
  visit(RequestField{.name = "insecureSkipVerify", .kind = K::kBool}, s.insecure_skip_verify);
  visit(RequestField{.name = "forceHttp1", .kind = K::kBool}, s.force_http1);
  visit(RequestField{.name = "profile", .kind = K::kString}, s.profile);
  visit(RequestField{.name = "presetHeaders", .kind = K::kBool}, s.preset_headers);
  visit(RequestField{.name = "ja3", .kind = K::kString}, s.fingerprint.ja3);
  visit(RequestField{.name = "ja4r", .kind = K::kString}, s.fingerprint.ja4r);
  visit(RequestField{.name = "http2Fingerprint", .kind = K::kString}, s.fingerprint.http2_fingerprint);
  visit(RequestField{.name = "disableGrease", .kind = K::kBool}, s.fingerprint.disable_grease);
  visit(RequestField{.name = "timeoutMs", .kind = K::kCount, .max = kMaxTimeoutMs}, s.timeout_ms);
  visit(RequestField{.name = "wholeBody", .kind = K::kBool}, s.whole_body);
  visit(RequestField{.name = "decompress", .kind = K::kBool}, s.decompress);
  visit(RequestField{.name = "maxDecodedBytes", .kind = K::kCount}, s.max_decoded_bytes);
  visit(RequestField{.name = "maxResponseBytes", .kind = K::kCount}, s.max_response_bytes);
  visit(RequestField{.name = "clientId", .kind = K::kCount}, s.client_id);
  visit(RequestField{.name = "connectTimeoutMs", .kind = K::kCount, .max = kMaxTimeoutMs},
        s.connect_timeout_ms);
  visit(RequestField{.name = "tlsTimeoutMs", .kind = K::kCount, .max = kMaxTimeoutMs}, s.tls_timeout_ms);
  visit(RequestField{.name = "headersTimeoutMs", .kind = K::kCount, .max = kMaxTimeoutMs},
        s.headers_timeout_ms);
  visit(RequestField{.name = "bodyIdleTimeoutMs", .kind = K::kCount, .max = kMaxTimeoutMs},
        s.body_idle_timeout_ms);
  visit(RequestField{.name = "proxy", .kind = K::kString}, s.proxy);
  visit(RequestField{.name = "bodyStream", .kind = K::kBool}, s.body_stream);
  visit(RequestField{.name = "upgrade", .kind = K::kBool}, s.upgrade);
  visit(RequestField{.name = "http1RetryHello", .kind = K::kBool}, s.http1_retry_hello);
  visit(RequestField{.name = "websocketOverHttp2", .kind = K::kBool}, s.websocket_over_http2);
  visit(RequestField{.name = "http3", .kind = K::kString}, s.http3);
  // This process's own business: the host's hub paces its streams itself, and retries are decided
  // by the process that asked.
  visit(RequestField{.name = "consumerCredit", .kind = K::kBool, .on_link = false}, s.consumer_credit);
  visit(RequestField{.name = "retryOnHostGone", .kind = K::kBool, .on_link = false}, s.retry_on_host_gone);
  visit(RequestField{.name = "identity", .kind = K::kString}, s.identity);
  visit(RequestField{.name = "maxRequestsPerConnection", .kind = K::kCount}, s.max_requests_per_connection);
  visit(RequestField{.name = "maxConnectionAgeMs", .kind = K::kCount, .max = kMaxTimeoutMs},
        s.max_connection_age_ms);
  visit(RequestField{.name = "dnsServers", .kind = K::kString}, s.dns_servers);
  visit(RequestField{.name = "family", .kind = K::kCount, .max = 6}, s.family);
  visit(RequestField{.name = "dnsAddresses", .kind = K::kStrings}, s.dns.addresses);
  visit(RequestField{.name = "dnsEchConfig", .kind = K::kHex}, s.dns.ech_config_list);
  visit(RequestField{.name = "dnsAlpn", .kind = K::kStrings}, s.dns.alpn);
  visit(RequestField{.name = "echConfigList", .kind = K::kString}, s.ech_config_list);
  visit(RequestField{.name = "quicFingerprint", .kind = K::kString}, s.fingerprint.quic_fingerprint);
}

// The kind's name as the addon exports it (requestFields()): what lib's test compares with TS types.
inline std::string_view field_kind_name(FieldKind kind) {
  switch (kind) {
    case FieldKind::kString:
      return "string";
    case FieldKind::kBool:
      return "boolean";
    case FieldKind::kPort:
      return "port";
    case FieldKind::kCount:
      return "count";
    case FieldKind::kHeaders:
      return "headers";
    case FieldKind::kBody:
      return "bytes";
    case FieldKind::kStrings:
      return "strings";
    case FieldKind::kHex:
      return "hex";
  }
  return "unknown";
}

}  // namespace ctn
