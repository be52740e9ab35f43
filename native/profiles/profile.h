// A browser's first flight as data: the TLS ClientHello, the HTTP/2 connection preface and first
// HEADERS, and the default request headers. Each field names the wire field it drives. Presets,
// JA3 / JA4_r strings and Akamai HTTP/2 strings all produce this one struct.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/http_types.h"

namespace ctn {

struct TlsProfile {
  uint16_t min_version = 0x0303;  // supported_versions (43): lowest offered
  uint16_t max_version = 0x0304;  // supported_versions (43): highest offered
  // cipher_suites, exact wire order, TLS 1.3 suites included (IANA ids, GREASE excluded: see grease).
  std::vector<uint16_t> cipher_suites;
  // Extension order (IANA ids, GREASE excluded). Empty: BoringSSL's own order, or a per-connection
  // shuffle when permute_extensions is set (Chrome ≥110).
  std::vector<uint16_t> extension_order;
  bool permute_extensions = false;
  // With permute_extensions and an extension_order: the order is shuffled when the context is built,
  // except its last N ids, which stay last in that order (Firefox over QUIC keeps 57 and 65037 last).
  // A QUIC connection builds a context of its own, so this is per connection there.
  size_t permute_keeps_last = 0;
  std::vector<uint16_t> groups;  // supported_groups (10), in order
  size_t key_shares = 0;  // key_share (51): shares for the first N groups; 0 = stock (1 PQ + 1 classical)
  std::vector<uint8_t> point_formats = {0};     // ec_point_formats (11)
  std::vector<uint16_t> signature_algorithms;   // signature_algorithms (13), in order
  std::vector<uint16_t> delegated_credentials;  // delegated_credentials (34); empty = not sent
  uint16_t record_size_limit = 0;               // record_size_limit (28); 0 = not sent
  std::vector<std::string> alpn;                // application_layer_protocol_negotiation (16)
  std::vector<std::string> alps;                // application_settings (17513/17613): protocols with ALPS
  bool alps_new_codepoint = true;               // 17613 (Chrome ≥ 131) vs 17513
  std::vector<uint16_t> cert_compression;       // compress_certificate (27): 1 zlib, 2 brotli, 3 zstd
  bool grease = false;                          // GREASE in ciphers, groups, extensions, versions, key_share
  bool grease_signature_algorithms = false;  // a GREASE value first in signature_algorithms (Chrome ≥152)
  bool ech_grease = false;                   // encrypted_client_hello (65037) GREASE
  // How that GREASE is shaped. false: BoringSSL's (Chrome's) — AES-128-GCM, a payload of
  // 144/176/208/240 bytes drawn per connection (extension 186–282 bytes). true: NSS's (Firefox's) —
  // AES-128-GCM or ChaCha20-Poly1305 drawn per connection, and a payload as long as the inner hello
  // NSS would encrypt: this hello's compressible extensions, the server name padded to 100 bytes,
  // the pre_shared_key when resuming, rounded up to 31 modulo 32 (NSS before Firefox 155), plus the
  // 16-byte tag. For ESR 153 against a 240-byte ticket: 281 bytes fresh, 601 resumed.
  bool ech_grease_nss = false;
  // session_ticket (35) beside pre_shared_key when a TLS 1.3 session is offered. Chrome keeps it;
  // Firefox (NSS) leaves it out.
  bool session_ticket_when_resuming_tls13 = true;
  bool ocsp_stapling = false;           // status_request (5)
  bool signed_cert_timestamps = false;  // signed_certificate_timestamp (18)
  bool session_tickets = true;          // session_ticket (35)
  bool extended_master_secret = true;   // extended_master_secret (23)
  bool renegotiation_info = true;       // renegotiation_info (65281)
  bool psk_key_exchange_modes = true;   // psk_key_exchange_modes (45), TLS 1.3 only
  // extended_master_secret (23) and renegotiation_info (65281) in a hello that offers TLS 1.3 only
  // (a QUIC one), where BoringSSL leaves them out; NSS sends both (patch 0013).
  bool tls12_extensions_in_tls13_hello = false;
  std::string trust_anchors;  // trust_anchors (0xca34) payload; empty = not sent
  bool padding = false;       // padding (21), when the hello is 256–511 bytes
  // The reconnect with ALPN http/1.1 only after an HTTP/2 server could not carry a WebSocket
  // (TlsOptions::http1_retry) also leaves out compress_certificate (27), as Firefox's does.
  bool http1_retry_drops_cert_compression = false;
  // Extensions the stack does not implement, sent anyway (advertised only) at their place in
  // extension_order: 22, 49 and 17 empty, 50 with signature_algorithms, any other id empty. A
  // server that answers one fails the handshake.
  std::vector<uint16_t> opaque_extensions;
  // Extensions BoringSSL always sends that this hello leaves out (10, 11, 13, 23, 65281).
  std::vector<uint16_t> omitted_extensions;
};

struct Http2Setting {
  uint16_t id = 0;     // SETTINGS parameter id (1 header table, 2 push, 3 max streams, 4 window,
  uint32_t value = 0;  // 5 max frame, 6 max header list, 8 connect protocol, 9 no RFC 7540 priorities)
};

struct Http2Priority {
  uint32_t stream_id = 0;  // PRIORITY frames: the stream; for HEADERS priority: unused
  uint32_t depends_on = 0;
  uint16_t weight = 16;  // 1..256 (the wire carries weight-1)
  bool exclusive = false;
};

struct Http2Profile {
  std::vector<Http2Setting> settings;          // the first SETTINGS frame, entries in this order
  uint32_t connection_window_update = 0;       // WINDOW_UPDATE on stream 0 after SETTINGS; 0 = none
  std::vector<Http2Priority> priority_frames;  // PRIORITY frames after that (old Firefox)
  bool headers_priority = false;               // HEADERS carry the PRIORITY flag with the spec below
  Http2Priority headers_priority_spec;
  uint32_t first_stream_id = 1;  // Firefox ≥ 120 starts at 3 (old Firefox after its PRIORITY tree)
  std::string pseudo_header_order = "masp";  // :method :authority :scheme :path, as letters
  uint32_t stream_window_update = 0;         // WINDOW_UPDATE on each new stream after HEADERS; 0 = none
};

struct Http3Setting {
  uint64_t id = 0;  // SETTINGS identifier (RFC 9114 §7.2.4.1; unknown ids are sent as they are)
  uint64_t value = 0;
};

// Where a browser's QPACK encoder and decoder streams come from.
enum class QpackStreams {
  kAtStart,  // opened with the control stream, encoder first (Firefox: ids 6 and 10)
  kLazy,     // opened once the peer's SETTINGS allow a dynamic table, decoder first (Chrome: 6 and
             // 10); each sends its type with its first instruction; never against capacity 0
};

// What the QPACK encoder inserts into the peer's dynamic table (when the peer allows one).
enum class QpackInsert {
  kLibrary,       // nghttp3's own policy (no browser shape)
  kAllButStatic,  // every field that is not an exact static-table match; the header block refers
                  // to them pre-base only (Chrome)
  kListedNames,   // the fields named in qpack_insert_names, literal names, referred post-base;
                  // every other field a literal with a static name reference (Firefox)
};

// The HTTP/3 layer's first flight: the control stream, QPACK and the request HEADERS.
struct Http3Profile {
  // The SETTINGS frame's entries, in this order, each varint on its shortest encoding. What they say
  // about QPACK (0x1, 0x7) and the field section size (0x6) is also what our decoder enforces.
  std::vector<Http3Setting> settings;
  // One GREASE setting last in SETTINGS (Chrome): id 0x1f*N+0x21 (N a random 32-bit number) and a
  // random 32-bit value, both on 8-byte varints.
  bool grease_setting = false;
  // One reserved frame after SETTINGS, in the same write: type 0x1f*N+0x21 on an 8-byte varint, N
  // random (Chrome: a 32-bit N; Firefox: any N that fits 62 bits), and 0..grease_frame_max_payload
  // random payload bytes. Absent when grease_frame is false.
  bool grease_frame = false;
  bool grease_frame_wide_type = false;  // N over the whole 62-bit range (Firefox) vs 32 bits (Chrome)
  uint8_t grease_frame_max_payload = 0;
  // A PRIORITY_UPDATE (0xf0700) on the control stream for each request, with its priority header's
  // value, written with the request's HEADERS (Chrome). No priority header: none.
  bool priority_update = false;
  QpackStreams qpack_streams = QpackStreams::kAtStart;
  QpackInsert qpack_insert = QpackInsert::kLibrary;
  std::vector<std::string> qpack_insert_names;  // kListedNames: the names inserted (lower case)
  // Set Dynamic Table Capacity goes out as soon as the peer's SETTINGS arrive (Firefox) rather than
  // with the first header block that inserts (Chrome).
  bool qpack_capacity_at_once = false;
  // A name or value whose Huffman code is exactly as long goes Huffman-encoded (Firefox), else as it
  // is (Chrome; Huffman only when shorter).
  bool qpack_huffman_on_ties = false;
  // The order of the streams' bytes when several go out in one packet. Chrome's (nghttp3's): control,
  // QPACK decoder, QPACK encoder, then each request after the encoder instructions it refers to.
  // Firefox: the encoder stream before the decoder stream, and a request's HEADERS before its
  // encoder instructions.
  bool qpack_encoder_before_decoder = false;
  bool request_before_qpack_encoder = false;
  std::string pseudo_header_order = "msap";  // :method :scheme :authority :path, as letters
  // A navigation's request headers over HTTP/3 in the browser's order, lower case; an `alt-used`
  // with an empty value carries the request's authority. Empty: Profile::headers.
  HeaderList headers;
};

struct Profile {
  std::string id;
  TlsProfile tls;
  // The ClientHello inside QUIC's Initial (RFC 9001), which browsers shape apart from their TCP one
  // (TLS 1.3 only, other extensions and signature algorithms, ALPN h3). Absent: this preset's QUIC
  // hello is not established (HTTP/3 is refused with ERR_UNSUPPORTED_FINGERPRINT).
  std::optional<TlsProfile> quic_tls;
  // cycletls's quicFingerprint (a composed profile's): a captured QUIC ClientHello as hex, which
  // replaces quic_tls and the transport parameters of every QUIC connection of this profile.
  // core/quic_options parses it (quic/hello_fingerprint); empty: none.
  std::string quic_fingerprint;
  Http2Profile http2;
  // The HTTP/3 layer beside quic_tls. With no settings listed: nghttp3's own SETTINGS and QPACK
  // policy (a preset whose HTTP/3 is not established; docs/quic-gap.md).
  Http3Profile http3;
  // Default request headers of a navigation over HTTP/2, in the browser's order (HEADERS after the
  // pseudo-headers; lower case, as HTTP/2 requires). User headers override by name,
  // case-insensitively, and keep this order.
  HeaderList headers;
  // The same navigation over HTTP/1.1 on a TLS connection (https): the header lines in the browser's
  // order and spelling (Chrome: Title-Case but lower-case client hints), `Connection: keep-alive`
  // where the browser writes it. Host is left out: the engine writes it first, as browsers do. What
  // only HTTP/2 carries (Chrome's priority, Firefox's te) is absent. Empty: `headers` is used.
  HeaderList http1_headers;
  // HTTP/1.1 over plain http://: without TLS, browsers advertise no br/zstd and leave out what they
  // send to secure contexts only (sec-ch-*, sec-fetch-*). Empty: `http1_headers` is used.
  HeaderList http1_plain_headers;
};

// Which of a profile's default header lists a request starts from.
enum class HeaderSet {
  kHttp2,       // https, HTTP/2 (or not known yet: ALPN decides, see http1::respell_preset_headers)
  kHttp1,       // https on HTTP/1.1
  kHttp1Plain,  // http:// (always HTTP/1.1)
  kHttp3,       // https over HTTP/3
};

// The list for `set`, falling back as the fields above describe.
const HeaderList& profile_headers(const Profile& profile, HeaderSet set);

// The sec-ch-ua value a Chromium-based browser sends: its brands and a GREASE brand, ordered and
// spelled by Chromium's algorithm seeded with the major version (see profile.cc). `brand` is the
// product ("Google Chrome", "Microsoft Edge"); empty for plain Chromium, which lists two brands.
std::string chromium_sec_ch_ua(int major, const std::string& brand);

// The newest Chrome preset: what a request uses with no fingerprint option at all.
const Profile& default_profile();
// nullptr when unknown. Accepts preset ids ("chrome_156") and aliases ("chrome").
const Profile* find_profile(const std::string& id);
// Every preset id, for documentation and validation.
std::vector<std::string> profile_ids();

}  // namespace ctn
