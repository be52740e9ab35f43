// Browser presets, one table. Where each preset's facts come from is said above its function; in short:
//  - chrome_156 and firefox_153 are read off the golden captures in test/fixtures/fingerprints
//    (Debian's Chromium 156.0.8078.79 and Firefox ESR 153.7.0esr on Linux).
//  - The other versions are public facts, cross-checked between independent sources: recordings of
//    the real browsers published with curl-impersonate (its tests/signatures), what two other
//    emulation libraries (wreq-js 3.1.0, impit 0.14.5) were measured to send to our echo server, and
//    what is known of the browsers themselves (Chromium's sec-ch-ua algorithm, UA strings). Where the
//    sources disagree, the comment says which one was followed and why; what none of them shows is
//    called unverified.
//  - HTTP/1.1 header lines: neither emulation library writes browser-like HTTP/1.1 (measured: lower
//    case names, Host last), so these come from raw requests of the real browsers found in public
//    code (Chrome 105/110 and Firefox 142 to a local server, Safari 18.0.1 to a local server) and the
//    Chromium and Firefox documentation of br/zstd being advertised over TLS only.
// The test fixture test/fixtures/fingerprints/presets.json holds the JA4 / Akamai string / header
// order each preset must produce.
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

constexpr uint16_t kX25519MLKEM768 = 0x11ec;
constexpr uint16_t kX25519Kyber768Draft00 = 0x6399;  // Chrome 124–130, before ML-KEM

// ---- Chromium family (Chrome, Chromium, Edge) ----

// The ClientHello every Chromium since 131 shares (and 124–130 with the Kyber draft group): the
// differences between versions are the post-quantum group and the ALPS code point, plus what
// chromium_156 adds on top.
TlsProfile chromium_tls(uint16_t pq_group, bool alps_new_codepoint) {
  TlsProfile t;
  t.cipher_suites = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                     0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  t.permute_extensions = true;  // shuffled per connection between a leading and a trailing GREASE
  t.groups = {pq_group, 29, 23, 24};
  t.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
  t.alpn = {"h2", "http/1.1"};
  t.alps = {"h2"};
  t.alps_new_codepoint = alps_new_codepoint;  // 17613 from Chrome 133, 17513 before
  t.cert_compression = {2};                   // brotli
  t.grease = true;
  t.ech_grease = true;
  t.ocsp_stapling = true;
  t.signed_cert_timestamps = true;
  return t;
}

// Chrome's first HTTP/2 flight, unchanged from Chrome 120 to 156 (the golden capture, the Chrome 131
// and 133 recordings and every measured emulation agree). A navigation is HIGHEST priority: HEADERS
// exclusive with weight 256 (the emulation libraries send 220, Chrome's MEDIUM; the captures say 256).
Http2Profile chromium_http2() {
  Http2Profile h;
  h.settings = {{1, 65536}, {2, 0}, {4, 6291456}, {6, 262144}};
  h.connection_window_update = 15663105;
  h.headers_priority = true;
  h.headers_priority_spec = Http2Priority{0, 0, 256, true};
  h.first_stream_id = 1;
  h.pseudo_header_order = "masp";
  return h;
}

struct ChromiumNavigation {
  int major = 0;
  std::string brand;     // sec-ch-ua product brand; empty for Chromium itself
  std::string platform;  // sec-ch-ua-platform, quoted as sent
  std::string user_agent;
  std::string accept;
};

// A typed-in navigation. HTTP/2 order: the golden capture (Chromium 156) and the Chrome 131/133
// recordings; the emulation libraries' order (user-agent before sec-fetch-*, no
// upgrade-insecure-requests) is not a navigation's. HTTP/1.1: //net writes Host and
// `Connection: keep-alive` first, then the same headers in the same order with Blink's spelling
// (client hints lower case), and no priority (an HTTP/2 and HTTP/3 header in Chromium). Over plain
// http:// the client hints and Sec-Fetch-* go (secure contexts only) and Accept-Encoding is
// "gzip, deflate" (Chromium advertises br and zstd over TLS only).
void set_chromium_headers(Profile& p, const ChromiumNavigation& n) {
  const std::string brands = chromium_sec_ch_ua(n.major, n.brand);
  p.headers = {
      {"sec-ch-ua", brands},
      {"sec-ch-ua-mobile", "?0"},
      {"sec-ch-ua-platform", n.platform},
      {"upgrade-insecure-requests", "1"},
      {"user-agent", n.user_agent},
      {"accept", n.accept},
      {"sec-fetch-site", "none"},
      {"sec-fetch-mode", "navigate"},
      {"sec-fetch-user", "?1"},
      {"sec-fetch-dest", "document"},
      {"accept-encoding", "gzip, deflate, br, zstd"},
      {"accept-language", "en-US,en;q=0.9"},
      {"priority", "u=0, i"},
  };
  p.http1_headers = {
      {"Connection", "keep-alive"},
      {"sec-ch-ua", brands},
      {"sec-ch-ua-mobile", "?0"},
      {"sec-ch-ua-platform", n.platform},
      {"Upgrade-Insecure-Requests", "1"},
      {"User-Agent", n.user_agent},
      {"Accept", n.accept},
      {"Sec-Fetch-Site", "none"},
      {"Sec-Fetch-Mode", "navigate"},
      {"Sec-Fetch-User", "?1"},
      {"Sec-Fetch-Dest", "document"},
      {"Accept-Encoding", "gzip, deflate, br, zstd"},
      {"Accept-Language", "en-US,en;q=0.9"},
  };
  p.http1_plain_headers = {
      {"Connection", "keep-alive"},         {"Upgrade-Insecure-Requests", "1"},
      {"User-Agent", n.user_agent},         {"Accept", n.accept},
      {"Accept-Encoding", "gzip, deflate"}, {"Accept-Language", "en-US,en;q=0.9"},
  };
}

constexpr const char kChromeAccept[] =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;"
    "q=0.8,application/signed-exchange;v=b3;q=0.7";
// Chromium 156 lists JPEG XL (the golden capture).
constexpr const char kChrome156Accept[] =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

std::string windows_chrome_ua(int major, const char* suffix = "") {
  const std::string v = std::to_string(major);
  return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + v +
         ".0.0.0 Safari/537.36" + suffix;
}

// macOS Chrome reports its OS frozen at 10_15_7 (as the recordings show).
std::string mac_chrome_ua(int major) {
  return "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" +
         std::to_string(major) + ".0.0.0 Safari/537.36";
}

// Chromium 156 over QUIC (shared/fingerprints/quic): TLS 1.3 only, its 12 extensions shuffled per
// connection with no GREASE at all, no status_request or SCT, the stock verify list with
// rsa_pkcs1_sha1 and without ML-DSA, ALPN and ALPS h3, and the same trust_anchors as over TCP.
TlsProfile chrome_156_quic_tls() {
  TlsProfile t;
  t.min_version = 0x0304;
  t.cipher_suites = {0x1301, 0x1302, 0x1303};
  t.permute_extensions = true;
  t.groups = {kX25519MLKEM768, 29, 23, 24};
  t.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201};
  t.alpn = {"h3"};
  t.alps = {"h3"};
  t.cert_compression = {2};  // brotli
  t.ech_grease = true;       // 186/218/250/282 bytes, as over TCP
  t.trust_anchors = from_hex(kChrome156TrustAnchorsHex);
  return t;
}

// Chromium 156's HTTP/3 (the QUIC captures, ../shared/fingerprints/quic): SETTINGS 0x1, 0x6, 0x7,
// 0x33 then one GREASE setting, one GREASE frame of 0-3 bytes, PRIORITY_UPDATE with each request,
// QPACK streams only once the peer allows a table, every non-static field inserted. Its request
// headers over HTTP/3 are its HTTP/2 ones (http3.headers empty), pseudo-headers m, a, s, p.
Http3Profile chromium_156_http3() {
  Http3Profile h;
  h.settings = {{0x1, 65536}, {0x6, 262144}, {0x7, 100}, {0x33, 1}};
  h.grease_setting = true;
  h.grease_frame = true;
  h.grease_frame_max_payload = 3;
  h.priority_update = true;
  h.qpack_streams = QpackStreams::kLazy;
  h.qpack_insert = QpackInsert::kAllButStatic;
  h.pseudo_header_order = "masp";
  return h;
}

// Chromium 156 on Linux: the golden capture (headed run; headless only says HeadlessChrome).
Profile chrome_156() {
  Profile p;
  p.id = "chrome_156";
  p.tls = chromium_tls(kX25519MLKEM768, true);
  TlsProfile& t = p.tls;
  t.signature_algorithms.insert(t.signature_algorithms.begin(),
                                {0x0904, 0x0905, 0x0906});  // ML-DSA-44/65/87 first
  t.grease_signature_algorithms = true;                     // and a GREASE value before them
  t.trust_anchors = from_hex(kChrome156TrustAnchorsHex);
  p.quic_tls = chrome_156_quic_tls();
  p.http3 = chromium_156_http3();
  p.http2 = chromium_http2();
  set_chromium_headers(p, {156, "", "\"Linux\"",
                           "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                           "Chrome/156.0.0.0 Safari/537.36",
                           kChrome156Accept});
  return p;
}

// Microsoft Edge 156 on Windows: Chromium 156's network stack (TLS and HTTP/2 as chrome_156), Edge's
// user agent (` Edg/156.0.0.0`) and its brand in sec-ch-ua. Unverified (no Edge 156 capture exists
// here): that Edge sends Chromium's trust_anchors list unchanged (the ids name Chrome Root Store
// anchors, and Edge may use its own or none), and that its Accept lists image/jxl as Chromium 156 does.
Profile edge_156() {
  Profile p = chrome_156();
  p.id = "edge_156";
  set_chromium_headers(
      p, {156, "Microsoft Edge", "\"Windows\"", windows_chrome_ua(156, " Edg/156.0.0.0"), kChrome156Accept});
  return p;
}

// Google Chrome 150 on macOS: ML-DSA-44/65/87 ahead of the signature algorithms, but no GREASE
// value there and no trust_anchors yet (both are in 156). Sources: the curl-impersonate recording of
// Chrome 150.0.7871.127 (hello, HTTP/2, headers) and impit chrome151 with verification on, whose JA4
// t13d1516h2_8daaf6152771_806a8c22fdea is the one the recording gives.
Profile chrome_150() {
  Profile p;
  p.id = "chrome_150";
  p.tls = chromium_tls(kX25519MLKEM768, true);
  p.tls.signature_algorithms.insert(p.tls.signature_algorithms.begin(), {0x0904, 0x0905, 0x0906});
  p.http2 = chromium_http2();
  set_chromium_headers(p, {150, "Google Chrome", "\"macOS\"", mac_chrome_ua(150), kChromeAccept});
  return p;
}

// Google Chrome 149 on macOS: the hello of Chrome 133 to 149 (the recording of Chrome 149.0.7827.102,
// taken from a real browser, says it is byte-identical to 142's and 146's; JA4
// t13d1516h2_8daaf6152771_d8a2da3f94cd, also what wreq-js chrome_149 was measured to send).
Profile chrome_149() {
  Profile p;
  p.id = "chrome_149";
  p.tls = chromium_tls(kX25519MLKEM768, true);
  p.http2 = chromium_http2();
  set_chromium_headers(p, {149, "Google Chrome", "\"macOS\"", mac_chrome_ua(149), kChromeAccept});
  return p;
}

// Google Chrome 133 on macOS: ALPS under its new code point 17613 (from 133), X25519MLKEM768, no
// ML-DSA / GREASE signature algorithms, no trust anchors. Sources: the curl-impersonate recording
// of Chrome 133.0.6943.55 (TLS, HTTP/2, header order) and wreq-js chrome_133 (measured: JA4
// t13d1516h2_8daaf6152771_d8a2da3f94cd). sec-ch-ua is Chromium's algorithm ("Not(A:Brand";v="99",
// as wreq-js sends; the recording's ')' is a hand edit of that file, which is a copy of 131's).
Profile chrome_133() {
  Profile p;
  p.id = "chrome_133";
  p.tls = chromium_tls(kX25519MLKEM768, true);
  p.http2 = chromium_http2();
  set_chromium_headers(p, {133, "Google Chrome", "\"macOS\"", mac_chrome_ua(133), kChromeAccept});
  return p;
}

// Google Chrome 131 on macOS: the first X25519MLKEM768 Chrome, ALPS still under 17513. Sources:
// the curl-impersonate recording of Chrome 131.0.6778.86 and both emulation libraries (JA4
// t13d1516h2_8daaf6152771_02713d6af862, measured from wreq-js chrome_131 and impit chrome131).
Profile chrome_131() {
  Profile p;
  p.id = "chrome_131";
  p.tls = chromium_tls(kX25519MLKEM768, false);
  p.http2 = chromium_http2();
  set_chromium_headers(p, {131, "Google Chrome", "\"macOS\"", mac_chrome_ua(131), kChromeAccept});
  return p;
}

// Microsoft Edge 131 on Windows: Chrome 131's stack with Edge's user agent and brand (wreq-js edge_131
// measured the same ClientHello as its chrome_131; its sec-ch-ua equals Chromium's algorithm).
Profile edge_131() {
  Profile p = chrome_131();
  p.id = "edge_131";
  set_chromium_headers(
      p, {131, "Microsoft Edge", "\"Windows\"", windows_chrome_ua(131, " Edg/131.0.0.0"), kChromeAccept});
  return p;
}

// Google Chrome 130 on Windows: the last Chrome with the X25519Kyber768Draft00 hybrid (0x6399,
// Chrome 124–130), ALPS 17513. Sources: wreq-js chrome_130 (measured: group 25497 with a 1216-byte
// key share, JA4 t13d1516h2_8daaf6152771_02713d6af862) and Chrome 130 request headers published in
// public code (sec-ch-ua "Chromium";v="130", "Google Chrome";v="130", "Not?A_Brand";v="99", and the
// priority header, which wreq-js's chrome_124 lacks: why no 124 preset is offered).
Profile chrome_130() {
  Profile p;
  p.id = "chrome_130";
  p.tls = chromium_tls(kX25519Kyber768Draft00, false);
  p.http2 = chromium_http2();
  set_chromium_headers(p, {130, "Google Chrome", "\"Windows\"", windows_chrome_ua(130), kChromeAccept});
  return p;
}

// ---- Firefox ----

// Firefox since 132 and Safari.
constexpr const char kShortAccept[] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

// Firefox's first HTTP/2 flight: no PRIORITY frames, HEADERS on stream 3 with weight 42, and a
// WINDOW_UPDATE on each new stream (the golden capture; the measured emulations agree on the
// Akamai string).
Http2Profile firefox_http2() {
  Http2Profile h;
  h.settings = {{1, 65536}, {2, 0}, {4, 131072}, {5, 16384}};
  h.connection_window_update = 12517377;
  h.headers_priority = true;
  h.headers_priority_spec = Http2Priority{0, 0, 42, false};
  h.first_stream_id = 3;
  h.pseudo_header_order = "mpas";
  h.stream_window_update = 12451840;
  return h;
}

// Firefox's ClientHello since 132 (X25519MLKEM768, three key shares, SCT, certificate compression):
// NSS's fixed extension order. `with_ecdsa_cbc_sha` adds TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
// (0xc009), which Firefox still offered in the 139–144 measurements and no longer in ESR 153.
TlsProfile firefox_tls(bool with_ecdsa_cbc_sha) {
  TlsProfile t;
  t.cipher_suites = {0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a};
  if (with_ecdsa_cbc_sha) t.cipher_suites.push_back(0xc009);
  t.cipher_suites.insert(t.cipher_suites.end(), {0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035});
  t.extension_order = {0, 23, 65281, 10, 11, 35, 16, 5, 34, 18, 51, 43, 13, 45, 28, 27, 65037};
  t.groups = {kX25519MLKEM768, 29, 23, 24, 25, 0x0100 /* ffdhe2048 */, 0x0101 /* ffdhe3072 */};
  t.key_shares = 3;  // X25519MLKEM768, x25519, secp256r1
  t.signature_algorithms = {0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806,
                            0x0401, 0x0501, 0x0601, 0x0203, 0x0201};
  t.delegated_credentials = {0x0403, 0x0503, 0x0603, 0x0203};
  t.record_size_limit = 16385;
  t.alpn = {"h2", "http/1.1"};
  t.cert_compression = {1, 2, 3};  // zlib, brotli, zstd
  // Its WebSocket reconnect with http/1.1 only (after an h2 server without RFC 8441) has no
  // compress_certificate: the capture's t13d1616h1_86a278354501_e6d2851837fd.
  t.http1_retry_drops_cert_compression = true;
  t.ech_grease = true;
  t.ech_grease_nss = true;                       // 281 bytes fresh, 601 resumed in the captures
  t.session_ticket_when_resuming_tls13 = false;  // resumed: t13d1617h2_86a278354501_e6dcd7ae0a9e
  t.ocsp_stapling = true;
  t.signed_cert_timestamps = true;
  return t;
}

struct FirefoxNavigation {
  std::string user_agent;
  std::string accept;
  std::string accept_language;
};

// A typed-in navigation. HTTP/2: the golden capture's order (te: trailers last). HTTP/1.1: a raw
// Firefox 142 request — Host, then User-Agent … Accept-Encoding, `Connection: keep-alive`, then
// Upgrade-Insecure-Requests, Sec-Fetch-*, Priority; no TE (Firefox adds it in its HTTP/2 layer).
// Over plain http:// no Sec-Fetch-* (secure contexts only) and Accept-Encoding "gzip, deflate"
// (br and zstd are advertised over TLS only).
void set_firefox_headers(Profile& p, const FirefoxNavigation& n) {
  p.headers = {
      {"user-agent", n.user_agent},
      {"accept", n.accept},
      {"accept-language", n.accept_language},
      {"accept-encoding", "gzip, deflate, br, zstd"},
      {"upgrade-insecure-requests", "1"},
      {"sec-fetch-dest", "document"},
      {"sec-fetch-mode", "navigate"},
      {"sec-fetch-site", "none"},
      {"sec-fetch-user", "?1"},  // a user-initiated navigation, as the headed capture shows
      {"priority", "u=0, i"},
      {"te", "trailers"},
  };
  p.http1_headers = {
      {"User-Agent", n.user_agent},
      {"Accept", n.accept},
      {"Accept-Language", n.accept_language},
      {"Accept-Encoding", "gzip, deflate, br, zstd"},
      {"Connection", "keep-alive"},
      {"Upgrade-Insecure-Requests", "1"},
      {"Sec-Fetch-Dest", "document"},
      {"Sec-Fetch-Mode", "navigate"},
      {"Sec-Fetch-Site", "none"},
      {"Sec-Fetch-User", "?1"},
      {"Priority", "u=0, i"},
  };
  p.http1_plain_headers = {
      {"User-Agent", n.user_agent},
      {"Accept", n.accept},
      {"Accept-Language", n.accept_language},
      {"Accept-Encoding", "gzip, deflate"},
      {"Connection", "keep-alive"},
      {"Upgrade-Insecure-Requests", "1"},
      {"Priority", "u=0, i"},
  };
}

// Firefox ESR 153 over QUIC (shared/fingerprints/quic): TLS 1.3 only; 15 extensions shuffled per
// connection with quic_transport_parameters and ECH last (over TCP NSS's order is fixed); no SCT;
// certificate compression zlib, zstd, brotli; ecdsa_sha1 (0x0203) fourth among the signature algorithms.
TlsProfile firefox_153_quic_tls() {
  TlsProfile t;
  t.min_version = 0x0304;
  t.cipher_suites = {0x1301, 0x1303, 0x1302};
  t.extension_order = {0, 5, 10, 13, 16, 23, 27, 28, 34, 43, 45, 51, 65281, 57, 65037};
  t.permute_extensions = true;
  t.permute_keeps_last = 2;  // 57, 65037
  t.groups = {kX25519MLKEM768, 29, 23, 24, 25};
  t.key_shares = 3;  // X25519MLKEM768, x25519, secp256r1
  t.signature_algorithms = {0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0805,
                            0x0806, 0x0401, 0x0501, 0x0601, 0x0201};
  t.delegated_credentials = {0x0403, 0x0503, 0x0603, 0x0203};
  t.record_size_limit = 16385;
  t.alpn = {"h3"};
  t.cert_compression = {1, 3, 2};  // zlib, zstd, brotli
  t.ech_grease = true;
  t.ech_grease_nss = true;
  t.session_ticket_when_resuming_tls13 = false;
  t.ocsp_stapling = true;
  t.tls12_extensions_in_tls13_hello = true;  // 23 and 65281
  return t;
}

// Firefox ESR 153's HTTP/3 (the QUIC captures): SETTINGS 0x1, 0x7, WebTransport (draft) 0,
// H3_DATAGRAM draft-04 and RFC, extended CONNECT; a GREASE frame of 0-7 bytes; QPACK streams at
// once (capacity 4096 as soon as the peer allows it); five names inserted, the rest literal. Its
// HTTP/3 request headers: the HTTP/2 list with alt-used after accept-encoding and no te; m, s, a, p.
Http3Profile firefox_153_http3(const HeaderList& http2_headers) {
  Http3Profile h;
  h.settings = {{0x1, 65536}, {0x7, 20}, {0x2b603742, 0}, {0xffd277, 1}, {0x33, 1}, {0x8, 1}};
  h.grease_frame = true;
  h.grease_frame_wide_type = true;
  h.grease_frame_max_payload = 7;
  h.qpack_streams = QpackStreams::kAtStart;
  h.qpack_insert = QpackInsert::kListedNames;
  h.qpack_insert_names = {"alt-used", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "priority"};
  h.qpack_capacity_at_once = true;
  h.qpack_huffman_on_ties = true;         // "?1" of sec-fetch-user, for one
  h.qpack_encoder_before_decoder = true;  // its first 1-RTT packet: streams 2, 6, 10
  h.request_before_qpack_encoder = true;  // the request's packet: stream 0, then 6
  h.pseudo_header_order = "msap";
  for (const Header& header : http2_headers) {
    if (header.name == "te") continue;
    h.headers.push_back(header);
    if (header.name == "accept-encoding") h.headers.push_back({"alt-used", ""});  // = :authority
  }
  return h;
}

// Firefox ESR 153 on Linux: the golden capture.
Profile firefox_153() {
  Profile p;
  p.id = "firefox_153";
  p.tls = firefox_tls(false);
  p.quic_tls = firefox_153_quic_tls();
  p.http2 = firefox_http2();
  set_firefox_headers(p, {"Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0",
                          kShortAccept, "en-US,en;q=0.9"});
  p.http3 = firefox_153_http3(p.headers);
  return p;
}

// Firefox 140 (ESR) on Windows: firefox_153's hello plus 0xc009 after 0xc00a. Sources: wreq-js
// firefox_139 and firefox_142 and impit firefox144 (verification on) measured the same
// 17-cipher/17-extension hello (JA4 t13d1717h2_5b57614c22b0_3cbfd9057e0d, extension order as ESR
// 153); a raw Firefox 142 request gives the headers (Accept-Language "en-US,en;q=0.5", the short
// Accept). Unverified: that nothing changed between 139 and 142 at 140 itself, and the stream
// WINDOW_UPDATE (no emulation sends it; taken from ESR 153).
Profile firefox_140() {
  Profile p;
  p.id = "firefox_140";
  p.tls = firefox_tls(true);
  p.http2 = firefox_http2();
  set_firefox_headers(p, {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
                          kShortAccept, "en-US,en;q=0.5"});
  return p;
}

// Firefox 128 (ESR) on Windows: before ML-KEM (Firefox 132), SCT and certificate compression — two
// key shares (x25519, secp256r1), 15 extensions. The famous Firefox JA3 of that era
// (…,0-23-65281-10-11-35-16-5-34-51-43-13-45-28-65037,29-23-24-25-256-257,0) and impit firefox128's
// measured JA4 t13d1715h2_5b57614c22b0_5c2c66f702b0 agree (wreq-js firefox_128 does not: it drops
// session_ticket, psk_key_exchange_modes and 0xc00a/0xc009, which Firefox has sent for years).
// Accept lists image types in 128–131. Unverified: the HTTP/2 flight being ESR 153's (stream 3,
// weight 42, stream WINDOW_UPDATE); the emulations agree on the Akamai string only.
Profile firefox_128() {
  Profile p;
  p.id = "firefox_128";
  TlsProfile& t = p.tls;
  t = firefox_tls(true);
  t.extension_order = {0, 23, 65281, 10, 11, 35, 16, 5, 34, 51, 43, 13, 45, 28, 65037};
  t.groups = {29, 23, 24, 25, 0x0100, 0x0101};
  t.key_shares = 2;  // x25519, secp256r1
  t.cert_compression.clear();
  t.signed_cert_timestamps = false;
  p.http2 = firefox_http2();
  set_firefox_headers(p, {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
                          "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                          "image/png,image/svg+xml,*/*;q=0.8",
                          "en-US,en;q=0.5"});
  return p;
}

// ---- Safari (macOS and iOS share one network stack; only the user agent differs) ----

// Safari 18 and 26: the 3DES suites last, a duplicate rsa_pss_rsae_sha384, zlib certificate
// compression, no session ticket, RFC 7685 padding when the hello is 256–511 bytes.
TlsProfile safari_tls() {
  TlsProfile t;
  t.cipher_suites = {
      0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc00a, 0xc009,
      0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a};  // the three 3DES suites last
  t.extension_order = {0, 23, 65281, 10, 11, 16, 5, 13, 18, 51, 45, 43, 27};
  t.groups = {29, 23, 24, 25};
  // rsa_pss_rsae_sha384 twice: Safari sends the duplicate.
  t.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201};
  t.alpn = {"h2", "http/1.1"};
  t.cert_compression = {1};  // zlib
  t.grease = true;
  t.ocsp_stapling = true;
  t.signed_cert_timestamps = true;
  t.session_tickets = false;  // no session_ticket (35)
  t.padding = true;           // RFC 7685 padding, when the hello is 256–511 bytes
  return t;
}

Http2Profile safari_http2() {
  Http2Profile h;
  h.settings = {{2, 0}, {3, 100}, {4, 2097152}, {9, 1}};
  h.connection_window_update = 10420225;
  h.headers_priority = false;
  h.first_stream_id = 1;
  h.pseudo_header_order = "msap";
  return h;
}

// A typed-in navigation. HTTP/2 (Safari 18 and later): the curl-impersonate recording of Safari 18.0
// (sec-fetch-dest first, accept-encoding last, no upgrade-insecure-requests); wreq-js safari_18 and
// safari_26 send the same order. HTTP/1.1: a raw Safari 18.0.1 request to a local http:// server
// (Host, Sec-Fetch-Site, Connection, Upgrade-Insecure-Requests, Sec-Fetch-Mode, Accept, User-Agent,
// Accept-Language, Sec-Fetch-Dest, Accept-Encoding: gzip, deflate — no Priority). Over https the
// set is inferred from it, and unverified: WebKit sends Upgrade-Insecure-Requests for http://
// navigations only (the HTTP/2 recordings have none) and advertises br over TLS (as over HTTP/2).
// Over plain http:// to a host that is not a secure context the Sec-Fetch-* go (as the Fetch
// Metadata specification requires; unverified for WebKit).
void set_safari_headers(Profile& p, const std::string& user_agent) {
  p.headers = {
      {"sec-fetch-dest", "document"}, {"user-agent", user_agent},
      {"accept", kShortAccept},       {"sec-fetch-site", "none"},
      {"sec-fetch-mode", "navigate"}, {"accept-language", "en-US,en;q=0.9"},
      {"priority", "u=0, i"},         {"accept-encoding", "gzip, deflate, br"},
  };
  p.http1_headers = {
      {"Sec-Fetch-Site", "none"},     {"Connection", "keep-alive"},
      {"Sec-Fetch-Mode", "navigate"}, {"Accept", kShortAccept},
      {"User-Agent", user_agent},     {"Accept-Language", "en-US,en;q=0.9"},
      {"Sec-Fetch-Dest", "document"}, {"Accept-Encoding", "gzip, deflate, br"},
  };
  p.http1_plain_headers = {
      {"Connection", "keep-alive"},
      {"Upgrade-Insecure-Requests", "1"},
      {"Accept", kShortAccept},
      {"User-Agent", user_agent},
      {"Accept-Language", "en-US,en;q=0.9"},
      {"Accept-Encoding", "gzip, deflate"},
  };
}

// macOS Safari reports its OS frozen at 10_15_7.
std::string mac_safari_ua(const char* version) {
  return std::string("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 ") +
         "(KHTML, like Gecko) Version/" + version + " Safari/605.1.15";
}

constexpr const char kIosSafari26Ua[] =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/26.0 Mobile/15E148 Safari/604.1";

// Safari 26 on macOS. Not captured here (no Safari on Linux): the ClientHello and HTTP/2 flight are
// those wreq-js safari_26 was measured to send (JA4 t13d2013h2_a09f3c656075_7f0f34a4126d: TLS 1.3
// order 1302/1303/1301, X25519MLKEM768). Unverified: supported_versions (a recording lists TLS
// 1.0–1.3, its hand-edited successor 1.2–1.3; this sends 1.2–1.3) and Accept-Encoding (the
// recording adds zstd, wreq-js does not; this follows wreq-js).
Profile safari_26() {
  Profile p;
  p.id = "safari_26";
  p.tls = safari_tls();
  p.tls.cipher_suites[0] = 0x1302;  // TLS 1.3: AES-256 first
  p.tls.cipher_suites[1] = 0x1303;
  p.tls.cipher_suites[2] = 0x1301;
  p.tls.groups.insert(p.tls.groups.begin(), kX25519MLKEM768);
  p.http2 = safari_http2();
  set_safari_headers(p, mac_safari_ua("26.0"));
  return p;
}

// Safari 26 on iOS: safari_26's stack; the user agent reports iOS 18_6, as Safari 26 freezes it
// (UA parsers document the frozen string; wreq-js's "26_0" is not what Safari 26 sends).
Profile safari_ios_26() {
  Profile p = safari_26();
  p.id = "safari_ios_26";
  set_safari_headers(p, kIosSafari26Ua);
  return p;
}

// Safari 18.0 on macOS: the curl-impersonate recording (JA3 773906b0efdefa24a7f2b8eb6985bf37,
// Akamai 2:0;3:100;4:2097152;8:1;9:1|10420225|0|m,s,a,p): stock TLS 1.3 order, no post-quantum
// group, one key share (x25519), supported_versions 1.3 down to 1.0, padding, SETTINGS with
// ENABLE_CONNECT_PROTOCOL. wreq-js safari_18 agrees except for an extra 0x0203 signature algorithm,
// which the recording (and wreq-js's own safari_18.5) does not have.
Profile safari_18() {
  Profile p;
  p.id = "safari_18";
  p.tls = safari_tls();
  p.tls.min_version = 0x0301;
  p.http2 = safari_http2();
  p.http2.settings = {{2, 0}, {3, 100}, {4, 2097152}, {8, 1}, {9, 1}};
  set_safari_headers(p, mac_safari_ua("18.0"));
  return p;
}

// Safari 18.0 on iOS: the curl-impersonate iOS recording equals the macOS one but for the user agent.
Profile safari_ios_18() {
  Profile p = safari_18();
  p.id = "safari_ios_18";
  set_safari_headers(p,
                     "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
                     "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1");
  return p;
}

struct Table {
  std::map<std::string, Profile> presets;
  std::map<std::string, std::string> aliases;
};

// Never destroyed: process.exit() runs the static destructors while the engine's threads (and a
// host's service to other processes) still look presets up; a destroyed table made every lookup
// throw (map::at), which the host sent to its peers as ERR_INTERNAL.
const Table& table() {
  static const Table& t = *new Table([] {
    Table t;
    for (Profile p : {chrome_156(), chrome_150(), chrome_149(), chrome_133(), chrome_131(), chrome_130(),
                      edge_156(), edge_131(), firefox_153(), firefox_140(), firefox_128(), safari_26(),
                      safari_18(), safari_ios_26(), safari_ios_18()}) {
      t.presets.emplace(p.id, std::move(p));
    }
    // Each alias names the newest preset of its family.
    t.aliases = {{"chrome", "chrome_156"},   {"chromium", "chrome_156"}, {"edge", "edge_156"},
                 {"firefox", "firefox_153"}, {"safari", "safari_26"},    {"safari_ios", "safari_ios_26"}};
    return t;
  }());
  return t;
}

}  // namespace

std::string chromium_sec_ch_ua(int major, const std::string& brand) {
  // Chromium's GenerateBrandVersionList / GetGreasedUserAgentBrandVersion, seeded with the major
  // version: the GREASE brand "Not<c1>A<c2>Brand" with a GREASE version, and a permutation of the
  // brands. Checked against real headers: Chromium 156 (golden capture), Chrome 105/110/130/131/133,
  // Edge 117/130/131.
  static const char* const kGreaseChars[] = {" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_"};
  static const char* const kGreaseVersions[] = {"8", "99", "24"};
  static const int kOrders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  const unsigned seed = static_cast<unsigned>(major);
  const std::string grease =
      std::string("Not") + kGreaseChars[seed % 11] + "A" + kGreaseChars[(seed + 1) % 11] + "Brand";
  const std::string version = std::to_string(major);
  struct Entry {
    std::string name, version;
  };
  std::vector<Entry> list;
  if (brand.empty()) {
    list.resize(2);
    list[seed % 2] = {grease, kGreaseVersions[seed % 3]};
    list[(seed + 1) % 2] = {"Chromium", version};
  } else {
    const int* order = kOrders[seed % 6];
    list.resize(3);
    list[order[0]] = {grease, kGreaseVersions[seed % 3]};
    list[order[1]] = {"Chromium", version};
    list[order[2]] = {brand, version};
  }
  std::string out;
  for (const auto& e : list) {
    if (!out.empty()) out += ", ";
    out += "\"" + e.name + "\";v=\"" + e.version + "\"";
  }
  return out;
}

const HeaderList& profile_headers(const Profile& profile, HeaderSet set) {
  if (set == HeaderSet::kHttp1Plain && !profile.http1_plain_headers.empty()) {
    return profile.http1_plain_headers;
  }
  if (set == HeaderSet::kHttp3)
    return profile.http3.headers.empty() ? profile.headers : profile.http3.headers;
  if (set != HeaderSet::kHttp2 && !profile.http1_headers.empty()) return profile.http1_headers;
  return profile.headers;
}

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
