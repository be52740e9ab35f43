#include "profiles/fingerprint_strings.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>
#include <vector>

#include "common/tls_grease.h"

namespace ctn {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

bool parse_uint(std::string_view s, int base, uint32_t max, uint32_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// A dash (JA3) or comma (JA4_r) separated list of numbers; empty string = empty list.
bool parse_list(std::string_view s, char sep, int base, uint32_t max, std::vector<uint32_t>* out,
                const char* what, std::string* why) {
  out->clear();
  if (s.empty()) return true;
  for (auto item : split(s, sep)) {
    uint32_t v;
    if (!parse_uint(item, base, max, &v)) {
      *why = std::string("invalid ") + what + " '" + std::string(item) + "'";
      return false;
    }
    out->push_back(v);
  }
  return true;
}

std::string name_ext(uint32_t id) {
  char buf[32];
  snprintf(buf, sizeof buf, "extension %u", id);
  return buf;
}

// Extensions BoringSSL implements and this stack drives from the profile.
const std::set<uint32_t>& driven_extensions() {
  // Never destroyed: process.exit() runs the static destructors while the engine's threads run.
  static const std::set<uint32_t>& s = *new std::set<uint32_t>{
      0, 5, 10, 11, 13, 16, 18, 21, 23, 27, 28, 34, 35, 41, 43, 45, 51, 17513, 17613, 0xca34, 65037, 65281};
  return s;
}

}  // namespace

// Extensions BoringSSL implements but only with state a fingerprint string cannot give (a session,
// a key, a QUIC or DTLS connection, a second hello): they cannot be put on the wire as written.
// Every other id the stack does not implement is sent as an opaque, advertised-only extension.
const char* unsendable_extension(uint32_t id) {
  switch (id) {
    case 14:
      return "use_srtp (14) is DTLS only";
    case 19:
    case 20:
      return "raw public key certificate types (19, 20) are not supported";
    case 42:
      return "early_data (42) needs a resumed session with 0-RTT";
    case 44:
      return "cookie (44) only answers a HelloRetryRequest";
    case 47:
      return "certificate_authorities (47) needs a CA list";
    case 57:
    case 0xffa5:
      return "quic_transport_parameters is QUIC only";
    case 4832:
      return "server padding (4832) is not supported";
    case 13172:
      return "next_protocol_negotiation (13172) is not supported";
    case 30031:
    case 30032:
      return "channel_id needs a channel key";
    case 0x8a3b:
      return "pake (35387) needs a password";
    default:
      return nullptr;
  }
}

bool apply_extensions(const std::vector<uint32_t>& exts, TlsProfile* t, std::string* why) {
  bool tls12_suites = false;
  for (uint16_t c : t->cipher_suites) tls12_suites |= (c & 0xff00) != 0x1300;
  std::vector<uint16_t> order;
  bool any_grease = false;
  std::set<uint32_t> present;
  for (uint32_t e : exts) {
    if (is_tls_grease(e)) {
      any_grease = true;
      continue;
    }
    if (!present.insert(e).second) {
      *why = name_ext(e) + " appears twice";
      return false;
    }
    order.push_back(static_cast<uint16_t>(e));
  }
  // Flags driven by presence.
  t->ocsp_stapling = present.count(5);
  t->signed_cert_timestamps = present.count(18);
  t->session_tickets = present.count(35);
  t->ech_grease = present.count(65037);
  if (!present.count(16)) t->alpn.clear();
  if (!present.count(17513) && !present.count(17613)) t->alps.clear();
  if (present.count(17513) && present.count(17613)) {
    *why = "ALPS under both code points (17513 and 17613)";
    return false;
  }
  if (present.count(17513) || present.count(17613)) {
    t->alps_new_codepoint = present.count(17613);
    if (t->alps.empty()) t->alps = {"h2"};
  }
  if (!present.count(27))
    t->cert_compression.clear();
  else if (t->cert_compression.empty())
    t->cert_compression = {2};
  if (!present.count(28))
    t->record_size_limit = 0;
  else if (!t->record_size_limit)
    t->record_size_limit = 16385;
  if (!present.count(34))
    t->delegated_credentials.clear();
  else if (t->delegated_credentials.empty())
    t->delegated_credentials = {0x0403, 0x0503, 0x0603, 0x0203};
  if (!present.count(0xca34))
    t->trust_anchors.clear();
  else if (t->trust_anchors.empty()) {
    *why = "trust_anchors (51764) needs its payload: use a preset that carries it";
    return false;
  }
  const bool tls13 = present.count(43);
  t->max_version = tls13 ? 0x0304 : std::min<uint16_t>(t->max_version, 0x0303);
  if (tls13 && (!present.count(51) || !present.count(45))) {
    *why = "a TLS 1.3 hello always carries key_share (51) and psk_key_exchange_modes (45)";
    return false;
  }
  // What BoringSSL sends in every hello of the offered versions, unless told to leave it out.
  std::vector<uint32_t> always_sent = {10, 11, 13, 23, 65281};
  if (!tls12_suites && tls13 && !present.count(11) && !present.count(23) && !present.count(65281)) {
    // TLS 1.3 only: the stack then sends none of the TLS 1.2 extensions. A TLS 1.3-suite-only string
    // that lists some keeps TLS 1.2 in supported_versions, so that they are written; with no TLS 1.2
    // suite on the wire a TLS 1.2 server still cannot pick that version.
    t->min_version = 0x0304;
    always_sent = {10, 13};
  }
  t->omitted_extensions.clear();
  for (uint32_t e : always_sent)
    if (!present.count(e)) t->omitted_extensions.push_back(static_cast<uint16_t>(e));
  t->opaque_extensions.clear();
  for (uint32_t e : order) {
    if (driven_extensions().count(e)) continue;
    if (const char* reason = unsendable_extension(e)) {
      *why = reason;
      return false;
    }
    t->opaque_extensions.push_back(static_cast<uint16_t>(e));
  }
  t->padding = present.count(21);
  t->grease = any_grease;
  if (!any_grease) t->grease_signature_algorithms = false;
  t->extension_order = order;
  t->permute_extensions = false;
  return true;
}

bool parse_ja3(std::string_view ja3, TlsProfile* t, std::string* why) {
  auto fields = split(ja3, ',');
  if (fields.size() != 5) {
    *why = "a JA3 string has 5 comma-separated fields (version,ciphers,extensions,groups,formats)";
    return false;
  }
  uint32_t version;
  if (!parse_uint(fields[0], 10, 0xffff, &version) || version < 0x0301 || version > 0x0304) {
    *why = "JA3 version '" + std::string(fields[0]) + "' (769 to 772)";
    return false;
  }
  std::vector<uint32_t> ciphers, exts, groups, formats;
  if (!parse_list(fields[1], '-', 10, 0xffff, &ciphers, "cipher", why) ||
      !parse_list(fields[2], '-', 10, 0xffff, &exts, "extension", why) ||
      !parse_list(fields[3], '-', 10, 0xffff, &groups, "group", why) ||
      !parse_list(fields[4], '-', 10, 0xff, &formats, "point format", why)) {
    return false;
  }
  t->min_version = static_cast<uint16_t>(std::min<uint32_t>(version, 0x0303));
  t->cipher_suites.clear();
  for (uint32_t c : ciphers)
    if (!is_tls_grease(c)) t->cipher_suites.push_back(static_cast<uint16_t>(c));
  t->groups.clear();
  for (uint32_t g : groups)
    if (!is_tls_grease(g)) t->groups.push_back(static_cast<uint16_t>(g));
  if (!apply_extensions(exts, t, why)) return false;
  const bool point_formats_sent = std::find(exts.begin(), exts.end(), 11u) != exts.end();
  if (!point_formats_sent && !formats.empty()) {
    *why = "point formats are listed but ec_point_formats (extension 11) is not";
    return false;
  }
  // Without extension 11 nothing is sent; the stack's fixed [0] stands for "as this stack sends".
  if (point_formats_sent)
    t->point_formats.assign(formats.begin(), formats.end());
  else
    t->point_formats = {0};
  // A TLS 1.3-only stack offering only 1.2 ciphers, and the reverse, are caught by the stack check.
  return true;
}

bool parse_ja4r(std::string_view ja4r, TlsProfile* t, std::string* why) {
  auto parts = split(ja4r, '_');
  if (parts.size() != 4 || parts[0].size() != 10) {
    *why = "a JA4_r string is 'a_ciphers_extensions_sigalgs' with a 10-character first part";
    return false;
  }
  std::string_view a = parts[0];
  if (a[0] != 't') {
    *why = "JA4_r protocol '" + std::string(1, a[0]) + "' (only TCP 't' is supported)";
    return false;
  }
  const std::string_view ver = a.substr(1, 2);
  if (ver == "13")
    t->max_version = 0x0304;
  else if (ver == "12")
    t->max_version = 0x0303;
  else {
    *why = "JA4_r TLS version '" + std::string(ver) + "'";
    return false;
  }
  const bool sni = a[3] == 'd';
  const std::string_view alpn = a.substr(8, 2);
  std::vector<uint32_t> ciphers, exts, sigalgs;
  if (!parse_list(parts[1], ',', 16, 0xffff, &ciphers, "cipher", why) ||
      !parse_list(parts[2], ',', 16, 0xffff, &exts, "extension", why) ||
      !parse_list(parts[3], ',', 16, 0xffff, &sigalgs, "signature algorithm", why)) {
    return false;
  }
  // JA4_r lists sorted values: the wire order is lost, and the sorted order is what we send.
  t->cipher_suites.assign(ciphers.begin(), ciphers.end());
  if (alpn == "h2")
    t->alpn = {"h2", "http/1.1"};
  else if (alpn == "h1")
    t->alpn = {"http/1.1"};
  else if (alpn == "00")
    t->alpn.clear();
  else {
    *why = "JA4_r ALPN '" + std::string(alpn) + "'";
    return false;
  }
  // JA4_r leaves SNI (0000) and ALPN (0010) out of its list, since the first part says them; some
  // tools (and cycletls's README) list them anyway. Listed once, they must agree with the first part.
  for (const uint32_t listed : {0u, 16u}) {
    auto it = std::find(exts.begin(), exts.end(), listed);
    if (it == exts.end()) continue;
    if (listed == 0 ? !sni : t->alpn.empty()) {
      *why = name_ext(listed) + " is listed but the first part says " +
             (listed == 0 ? "no SNI ('i')" : "no ALPN ('00')");
      return false;
    }
    exts.erase(it);
  }
  if (sni) exts.insert(exts.begin(), 0);
  if (!t->alpn.empty()) exts.push_back(16);
  std::sort(exts.begin(), exts.end());
  const bool grease = t->grease;
  if (!apply_extensions(exts, t, why)) return false;
  t->grease = grease;  // JA4 strips GREASE: keep the base's choice
  t->signature_algorithms.assign(sigalgs.begin(), sigalgs.end());
  return true;
}

bool parse_akamai(std::string_view akamai, Http2Profile* h, std::string* why) {
  auto parts = split(akamai, '|');
  if (parts.size() != 4) {
    *why =
        "an Akamai HTTP/2 string has 4 '|'-separated parts (SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-headers)";
    return false;
  }
  h->settings.clear();
  if (!parts[0].empty()) {
    for (auto item : split(parts[0], ';')) {
      auto kv = split(item, ':');
      uint32_t id, value;
      if (kv.size() != 2 || !parse_uint(kv[0], 10, 0xffff, &id) ||
          !parse_uint(kv[1], 10, 0xffffffff, &value)) {
        *why = "SETTINGS entry '" + std::string(item) + "'";
        return false;
      }
      h->settings.push_back({static_cast<uint16_t>(id), value});
    }
  }
  uint32_t wu;
  if (!parse_uint(parts[1], 10, 0x7fffffff, &wu)) {
    *why = "WINDOW_UPDATE '" + std::string(parts[1]) + "'";
    return false;
  }
  h->connection_window_update = wu;
  h->priority_frames.clear();
  uint32_t last_priority_stream = 0;
  if (parts[2] != "0") {
    for (auto item : split(parts[2], ',')) {
      auto f = split(item, ':');
      uint32_t stream, excl, dep, weight;
      if (f.size() != 4 || !parse_uint(f[0], 10, 0x7fffffff, &stream) || !parse_uint(f[1], 10, 1, &excl) ||
          !parse_uint(f[2], 10, 0x7fffffff, &dep) || !parse_uint(f[3], 10, 256, &weight) || weight == 0 ||
          stream == 0) {
        *why = "PRIORITY frame '" + std::string(item) + "' (stream:exclusive:depends_on:weight)";
        return false;
      }
      h->priority_frames.push_back({stream, dep, static_cast<uint16_t>(weight), excl == 1});
      last_priority_stream = std::max(last_priority_stream, stream);
    }
  }
  std::string order;
  for (auto p : split(parts[3], ',')) {
    if (p.size() != 1 || std::string_view("masp").find(p[0]) == std::string_view::npos ||
        order.find(p[0]) != std::string::npos) {
      *why = "pseudo-header order '" + std::string(parts[3]) + "' (m, a, s, p once each)";
      return false;
    }
    order.push_back(p[0]);
  }
  if (order.size() != 4) {
    *why = "pseudo-header order '" + std::string(parts[3]) + "' (m, a, s, p once each)";
    return false;
  }
  h->pseudo_header_order = order;
  // What the string does not carry follows the browser family its pseudo-header order gives away.
  h->stream_window_update = 0;
  if (!h->priority_frames.empty()) {
    // Old Firefox: requests hang below the last stream of its priority tree.
    h->first_stream_id = last_priority_stream + 2;
    h->headers_priority = true;
    h->headers_priority_spec = Http2Priority{0, last_priority_stream, 42, false};
  } else if (order == "masp") {
    h->first_stream_id = 1;
    h->headers_priority = true;
    h->headers_priority_spec = Http2Priority{0, 0, 256, true};
  } else if (order == "mpas") {
    h->first_stream_id = 3;
    h->headers_priority = true;
    h->headers_priority_spec = Http2Priority{0, 0, 42, false};
  } else {
    h->first_stream_id = 1;
    h->headers_priority = false;
  }
  return true;
}

std::string quic_fingerprint_digest(std::string_view text) {
  text = text.substr(0, text.find("@@"));  // what follows @@ is not part of the hello
  uint64_t hash = 0xcbf29ce484222325u;     // FNV-1a, 64 bits
  for (const char c : text) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3u;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

bool compose_profile(const Profile& base, const FingerprintInputs& in, Profile* out, std::string* why) {
  *out = base;
  std::string id = base.id;
  if (!in.ja3.empty()) {
    if (!parse_ja3(in.ja3, &out->tls, why)) return false;
    id += "|ja3=" + in.ja3;
  }
  if (!in.ja4r.empty()) {
    if (!in.ja3.empty()) {
      *why = "ja3 and ja4r both describe the ClientHello: give one";
      return false;
    }
    if (!parse_ja4r(in.ja4r, &out->tls, why)) return false;
    id += "|ja4r=" + in.ja4r;
  }
  if (!in.http2_fingerprint.empty()) {
    if (!parse_akamai(in.http2_fingerprint, &out->http2, why)) return false;
    id += "|h2=" + in.http2_fingerprint;
  }
  if (!in.quic_fingerprint.empty()) {
    // Kept as text: quic/hello_fingerprint parses it where a QUIC connection is built. The id names
    // it by a digest (a hello is kilobytes of hex, and the id shows in the pool's keys).
    out->quic_fingerprint = in.quic_fingerprint;
    id += "|quic=" + quic_fingerprint_digest(in.quic_fingerprint);
  }
  if (in.disable_grease) {
    out->tls.grease = false;
    out->tls.grease_signature_algorithms = false;
    id += "|nogrease";
  }
  out->id = id;
  return true;
}

}  // namespace ctn
