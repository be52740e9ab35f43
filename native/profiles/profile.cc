// Browser presets, one table. Chrome and Firefox are read off the golden captures in
// test/fixtures/fingerprints (Debian's Chromium 156.0.8078.79 and Firefox ESR 153.7.0esr on Linux).
#include "profiles/profile.h"

#include <map>

namespace ctn {

namespace {

// Chromium 156's trust_anchors (0xca34) payload: the list of trust anchor ids, constant across
// connections (186 bytes on the wire: this list behind a 2-byte length).
constexpr const char kChrome156TrustAnchorsHex[] =
    "0582df1302010582df1302060582df13020d0582df13020e0582df13020f0582df1302120582df130213"
    "0582df13021408839a648c9b2d010708839a648c9b2d010808839a648c9b2d010908839a648c9b2d010a"
    "08839a648c9b2d010b08839a648c9b2d010c08839a648c9b2d010d08839a648c9b2d011208839a648c9b"
    "2d011304d679090104d679090404d679090504d679090604d679090704d679090804d679090a04d67909"
    "0b04d679090c04d679090d04d679090f";

std::string from_hex(const char* hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (const char* p = hex; p[0] && p[1]; p += 2) {
    out.push_back(static_cast<char>(nibble(p[0]) << 4 | nibble(p[1])));
  }
  return out;
}

Profile chrome_156() {
  Profile p;
  p.id = "chrome_156";
  TlsProfile& t = p.tls;
  t.cipher_suites = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                     0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  t.permute_extensions = true;  // 17 extensions between a leading and a trailing GREASE
  t.groups = {0x11ec /* X25519MLKEM768 */, 29, 23, 24};
  t.signature_algorithms = {0x0904, 0x0905, 0x0906,  // ML-DSA-44/65/87
                            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
  t.alpn = {"h2", "http/1.1"};
  t.alps = {"h2"};
  t.alps_new_codepoint = true;  // 17613
  t.cert_compression = {2};     // brotli
  t.grease = true;
  t.grease_signature_algorithms = true;
  t.ech_grease = true;
  t.ocsp_stapling = true;
  t.signed_cert_timestamps = true;
  t.trust_anchors = from_hex(kChrome156TrustAnchorsHex);

  Http2Profile& h = p.http2;
  h.settings = {{1, 65536}, {2, 0}, {4, 6291456}, {6, 262144}};
  h.connection_window_update = 15663105;
  h.headers_priority = true;
  h.headers_priority_spec = Http2Priority{0, 0, 256, true};
  h.first_stream_id = 1;
  h.pseudo_header_order = "masp";

  p.headers = {
      {"sec-ch-ua", "\"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\""},
      {"sec-ch-ua-mobile", "?0"},
      {"sec-ch-ua-platform", "\"Linux\""},
      {"upgrade-insecure-requests", "1"},
      {"user-agent",
       "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/156.0.0.0 Safari/537.36"},
      {"accept",
       "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,"
       "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
      {"sec-fetch-site", "none"},
      {"sec-fetch-mode", "navigate"},
      {"sec-fetch-user", "?1"},
      {"sec-fetch-dest", "document"},
      {"accept-encoding", "gzip, deflate, br, zstd"},
      {"accept-language", "en-US,en;q=0.9"},
      {"priority", "u=0, i"},
  };
  return p;
}

Profile firefox_153() {
  Profile p;
  p.id = "firefox_153";
  TlsProfile& t = p.tls;
  t.cipher_suites = {0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c,
                     0xc030, 0xc00a, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  t.extension_order = {0, 23, 65281, 10, 11, 35, 16, 5, 34, 18, 51, 43, 13, 45, 28, 27, 65037};
  t.groups = {0x11ec, 29, 23, 24, 25, 0x0100 /* ffdhe2048 */, 0x0101 /* ffdhe3072 */};
  t.key_shares = 3;  // X25519MLKEM768, x25519, secp256r1
  t.signature_algorithms = {0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806,
                            0x0401, 0x0501, 0x0601, 0x0203, 0x0201};
  t.delegated_credentials = {0x0403, 0x0503, 0x0603, 0x0203};
  t.record_size_limit = 16385;
  t.alpn = {"h2", "http/1.1"};
  t.cert_compression = {1, 2, 3};  // zlib, brotli, zstd
  t.ech_grease = true;
  t.ocsp_stapling = true;
  t.signed_cert_timestamps = true;

  Http2Profile& h = p.http2;
  h.settings = {{1, 65536}, {2, 0}, {4, 131072}, {5, 16384}};
  h.connection_window_update = 12517377;
  h.headers_priority = true;
  h.headers_priority_spec = Http2Priority{0, 0, 42, false};
  h.first_stream_id = 3;
  h.pseudo_header_order = "mpas";
  h.stream_window_update = 12451840;

  p.headers = {
      {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"},
      {"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
      {"accept-language", "en-US,en;q=0.9"},
      {"accept-encoding", "gzip, deflate, br, zstd"},
      {"upgrade-insecure-requests", "1"},
      {"sec-fetch-dest", "document"},
      {"sec-fetch-mode", "navigate"},
      {"sec-fetch-site", "none"},
      {"sec-fetch-user", "?1"},  // a user-initiated navigation, as the headed capture shows
      {"priority", "u=0, i"},
      {"te", "trailers"},
  };
  return p;
}

// Safari 26 on macOS. Not captured here (no Safari on Linux): the values are public facts, and the
// tests check the result against the JA4 and Akamai string measured from another Safari emulation.
Profile safari_26() {
  Profile p;
  p.id = "safari_26";
  TlsProfile& t = p.tls;
  t.cipher_suites = {0x1302, 0x1303, 0x1301, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc00a,
                     0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f,
                     0xc008, 0xc012, 0x000a};  // the three 3DES suites last
  t.extension_order = {0, 23, 65281, 10, 11, 16, 5, 13, 18, 51, 45, 43, 27};
  t.groups = {0x11ec, 29, 23, 24, 25};
  // rsa_pss_rsae_sha384 twice: Safari sends the duplicate.
  t.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0805,
                            0x0501, 0x0806, 0x0601, 0x0201};
  t.alpn = {"h2", "http/1.1"};
  t.cert_compression = {1};  // zlib
  t.grease = true;
  t.ocsp_stapling = true;
  t.signed_cert_timestamps = true;
  t.session_tickets = false;  // no session_ticket (35)
  t.padding = true;           // RFC 7685 padding, when the hello is 256–511 bytes

  Http2Profile& h = p.http2;
  h.settings = {{2, 0}, {3, 100}, {4, 2097152}, {9, 1}};
  h.connection_window_update = 10420225;
  h.headers_priority = false;
  h.first_stream_id = 1;
  h.pseudo_header_order = "msap";

  p.headers = {
      {"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
      {"sec-fetch-site", "none"},
      {"accept-encoding", "gzip, deflate, br"},
      {"sec-fetch-mode", "navigate"},
      {"user-agent",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/26.0 Safari/605.1.15"},
      {"accept-language", "en-US,en;q=0.9"},
      {"sec-fetch-dest", "document"},
      {"priority", "u=0, i"},
  };
  return p;
}

struct Table {
  std::map<std::string, Profile> presets;
  std::map<std::string, std::string> aliases;
};

const Table& table() {
  static const Table t = [] {
    Table t;
    for (Profile p : {chrome_156(), firefox_153(), safari_26()}) t.presets.emplace(p.id, std::move(p));
    t.aliases = {{"chrome", "chrome_156"}, {"chromium", "chrome_156"}, {"firefox", "firefox_153"},
                 {"safari", "safari_26"}};
    return t;
  }();
  return t;
}

}  // namespace

const Profile& default_profile() { return table().presets.at("chrome_156"); }

const Profile* find_profile(const std::string& id) {
  if (id.empty()) return &default_profile();
  const Table& t = table();
  auto alias = t.aliases.find(id);
  auto it = t.presets.find(alias != t.aliases.end() ? alias->second : id);
  return it == t.presets.end() ? nullptr : &it->second;
}

std::vector<std::string> profile_ids() {
  std::vector<std::string> ids;
  for (const auto& [id, p] : table().presets) ids.push_back(id);
  for (const auto& [alias, target] : table().aliases) ids.push_back(alias);
  return ids;
}

}  // namespace ctn
