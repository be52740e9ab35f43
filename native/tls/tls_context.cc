#include "tls/tls_context.h"

#include <arpa/inet.h>
#include <brotli/decode.h>
#include <openssl/base64.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "tls/certificate_facts.h"
#include "tls/hello_capture.h"

namespace ctn {

namespace {

// Certificate decompression (RFC 8879): BoringSSL announces the uncompressed length; we produce a
// CRYPTO_BUFFER of exactly that length, or fail the handshake.
template <class Decode>  // bool(uint8_t* out, size_t out_len, const uint8_t* in, size_t in_len)
int decompress_into(CRYPTO_BUFFER** out, size_t uncompressed_len, const uint8_t* in, size_t in_len,
                    Decode decode) {
  uint8_t* data = nullptr;
  bssl::UniquePtr<CRYPTO_BUFFER> buf(CRYPTO_BUFFER_alloc(&data, uncompressed_len));
  if (!buf || !decode(data, uncompressed_len, in, in_len)) return 0;
  *out = buf.release();
  return 1;
}

int decompress_brotli(SSL*, CRYPTO_BUFFER** out, size_t len, const uint8_t* in, size_t in_len) {
  return decompress_into(out, len, in, in_len, [](uint8_t* d, size_t n, const uint8_t* i, size_t il) {
    size_t got = n;
    return BrotliDecoderDecompress(il, i, &got, d) == BROTLI_DECODER_RESULT_SUCCESS && got == n;
  });
}

int decompress_zlib(SSL*, CRYPTO_BUFFER** out, size_t len, const uint8_t* in, size_t in_len) {
  return decompress_into(out, len, in, in_len, [](uint8_t* d, size_t n, const uint8_t* i, size_t il) {
    uLongf got = n;
    return uncompress(d, &got, i, il) == Z_OK && got == n;
  });
}

int decompress_zstd(SSL*, CRYPTO_BUFFER** out, size_t len, const uint8_t* in, size_t in_len) {
  return decompress_into(out, len, in, in_len, [](uint8_t* d, size_t n, const uint8_t* i, size_t il) {
    const size_t got = ZSTD_decompress(d, n, i, il);
    return !ZSTD_isError(got) && got == n;
  });
}

std::string find_ca_bundle() {
  // BoringSSL has no notion of a system trust store: find the distribution's bundle ourselves.
  if (const char* env = std::getenv("SSL_CERT_FILE"); env && *env) return env;
  for (const char* candidate :
       {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem"}) {
    if (std::ifstream(candidate).good()) return candidate;
  }
  return "";
}

std::string last_ssl_error(const char* what) {
  char buf[256];
  uint32_t e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return what;
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + ": " + buf;
}

bool is_ip_literal(const std::string& host) {
  unsigned char tmp[16];
  return inet_pton(AF_INET, host.c_str(), tmp) == 1 || inet_pton(AF_INET6, host.c_str(), tmp) == 1;
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

std::vector<std::string> offered_alpn(const Profile& profile, const TlsOptions& options) {
  std::vector<std::string> out;
  for (const auto& p : profile.tls.alpn) {
    if (p == "h2" && (options.http1_only || options.http1_retry || !http2_available())) continue;
    out.push_back(p);
  }
  return out;
}

}  // namespace

bool http2_available() { return true; }

// The statics here are never destroyed (built on the heap, never freed): process.exit() runs the
// static destructors while the engine's threads may still build TLS contexts.
const std::string& ca_bundle_path() {
  static const std::string& path = *new std::string(find_ca_bundle());
  return path;
}

namespace {

constexpr uint16_t kFfdhe2048 = 0x0100;
constexpr uint16_t kFfdhe3072 = 0x0101;

bool is_tls13_suite(uint16_t id) { return (id & 0xff00) == 0x1300; }

std::string hex4(uint16_t v) {
  char buf[8];
  snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}

// BoringSSL's own TLS 1.3 order (with AES hardware, as on every x86-64 we run on).
const std::vector<uint16_t>& kStockTls13Order = *new std::vector<uint16_t>{0x1301, 0x1302, 0x1303};

// A TLS 1.2 suite BoringSSL can negotiate (the rest of a wire list is advertised only).
bool negotiable_tls12_suite(uint16_t id) {
  const SSL_CIPHER* c = SSL_get_cipher_by_value(id);
  return c && !is_tls13_suite(id) && SSL_CIPHER_get_max_version(c) >= TLS1_2_VERSION;
}

// The TLS 1.2 part of the cipher list, as BoringSSL names. With the patched stack, ids it does
// not implement are left out here (they are advertised through the wire list); without it, they
// are refused.
bool tls12_cipher_list(const std::vector<uint16_t>& ids, std::string* list, std::string* why) {
  for (uint16_t id : ids) {
    if (is_tls13_suite(id)) continue;
    if (!negotiable_tls12_suite(id)) {
      if (tls_stack_patched()) continue;
      *why = "cipher suite " + hex4(id) + " is not implemented by this TLS stack";
      return false;
    }
    if (!list->empty()) list->push_back(':');
    *list += SSL_CIPHER_get_name(SSL_get_cipher_by_value(id));
  }
  return true;
}

// IANA names of suites BoringSSL lacks that common clients (OpenSSL, NSS, uTLS) offer, so that an
// error can say which one a server chose.
const char* advertised_only_suite_name(uint16_t id) {
  static const std::map<uint16_t, const char*>& names = *new std::map<uint16_t, const char*>{
      {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
      {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
      {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
      {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
      {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
      {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
      {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
      {0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
      {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
      {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
      {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
      {0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
      {0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
      {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
      {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
      {0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
      {0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
      {0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
      {0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
      {0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
      {0x1304, "TLS_AES_128_CCM_SHA256"},
      {0x1305, "TLS_AES_128_CCM_8_SHA256"},
      {0x5600, "TLS_FALLBACK_SCSV"},
      {0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
      {0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
      {0xc050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"},
      {0xc051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"},
      {0xc052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"},
      {0xc053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"},
      {0xc056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"},
      {0xc057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"},
      {0xc05c, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"},
      {0xc05d, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"},
      {0xc060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"},
      {0xc061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"},
      {0xc09c, "TLS_RSA_WITH_AES_128_CCM"},
      {0xc09d, "TLS_RSA_WITH_AES_256_CCM"},
      {0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM"},
      {0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM"},
      {0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8"},
      {0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8"},
      {0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"},
      {0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"},
      {0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
      {0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
      {0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
      {0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
      {0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
  };
  auto it = names.find(id);
  return it == names.end() ? nullptr : it->second;
}

std::string cipher_suite_label(uint16_t id) {
  const char* name = advertised_only_suite_name(id);
  if (!name) {
    const SSL_CIPHER* c = SSL_get_cipher_by_value(id);
    name = c ? SSL_CIPHER_standard_name(c) : nullptr;
  }
  return name ? hex4(id) + " (" + name + ")" : hex4(id);
}

std::string opaque_extension_label(uint16_t id) {
  const char* name = id == 17   ? "status_request_v2"
                     : id == 22 ? "encrypt_then_mac"
                     : id == 49 ? "post_handshake_auth"
                     : id == 50 ? "signature_algorithms_cert"
                                : nullptr;
  return std::to_string(id) + (name ? std::string(" (") + name + ")" : "");
}

// BoringSSL's default verify list (SHA-1 left out), for signature_algorithms_cert when a profile has
// no signature_algorithms of its own.
const std::vector<uint16_t>& kStockVerifySigalgs =
    *new std::vector<uint16_t>{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};

// The body of an extension sent without an implementation. signature_algorithms_cert (50)
// repeats signature_algorithms, as OpenSSL and uTLS do; every other one (encrypt_then_mac 22,
// post_handshake_auth 49, status_request_v2 17, unknown ids) is empty, as uTLS sends them.
std::string opaque_extension_body(uint16_t id, const TlsProfile& t) {
  std::string body;
  if (id != 50) return body;
  const auto& algs = t.signature_algorithms.empty() ? kStockVerifySigalgs : t.signature_algorithms;
  const size_t len = algs.size() * 2;
  body.push_back(static_cast<char>(len >> 8));
  body.push_back(static_cast<char>(len & 0xff));
  for (uint16_t a : algs) {
    body.push_back(static_cast<char>(a >> 8));
    body.push_back(static_cast<char>(a & 0xff));
  }
  return body;
}

// NSS's GREASE ECH payload (tls13_MaybeGreaseEch) is as long as the EncodedClientHelloInner it
// would encrypt. This is that length without the server name and pre_shared_key (which BoringSSL
// adds per connection, see patch 0012): version, random and an empty session id; the cipher suites
// and compression methods; the extensions' length; the inner encrypted_client_hello; the inner
// supported_versions (TLS 1.3, and GREASE when the hello has it); and ech_outer_extensions naming
// every other extension the hello sends, except those NSS leaves out of a TLS 1.3 inner hello
// (ec_point_formats, extended_master_secret, session_ticket, renegotiation_info); in QUIC
// quic_transport_parameters is one of those named.
size_t nss_inner_hello_fixed_length(const TlsProfile& t, size_t alpn_protocols, bool cert_compression,
                                    bool quic) {
  const size_t grease = t.grease ? 1 : 0;
  size_t compressed = 3;  // supported_groups, signature_algorithms, key_share
  compressed += alpn_protocols > 0;
  compressed += t.ocsp_stapling + t.signed_cert_timestamps + t.psk_key_exchange_modes;
  compressed += cert_compression;
  compressed += t.record_size_limit != 0;
  compressed += !t.delegated_credentials.empty();
  compressed += !t.trust_anchors.empty();
  compressed += t.opaque_extensions.size();
  compressed += quic;        // quic_transport_parameters (57)
  compressed += 2 * grease;  // the two GREASE extensions
  for (uint16_t id : t.omitted_extensions) compressed -= (id == 10 || id == 13);
  size_t length = 2 + 32 + 1;                               // version, random, legacy_session_id
  length += 2 + 2 * (t.cipher_suites.size() + grease) + 2;  // cipher_suites, compression methods
  length += 2 + 5;                                          // extensions length, inner ECH
  length += 4 + 1 + 2 + 2 * grease;                         // supported_versions
  length += 4 + 1 + 2 * compressed;                         // ech_outer_extensions
  return length;
}

bool has_duplicates(const std::vector<uint16_t>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = i + 1; j < v.size(); ++j)
      if (v[i] == v[j]) return true;
  return false;
}

}  // namespace

bool tls_stack_patched() {
#ifdef CTN_BORINGSSL_PATCHES
  return true;
#else
  return false;
#endif
}

bool check_tls_profile(const TlsProfile& t, std::string* why) {
  std::string list;
  if (!tls12_cipher_list(t.cipher_suites, &list, why)) return false;
  // The patch series puts any cipher list, point formats and extension set on the wire
  // (advertising what it cannot run); what a string can still not express is refused when parsed.
  if (tls_stack_patched()) return true;
  std::vector<uint16_t> tls13;
  for (uint16_t id : t.cipher_suites)
    if (is_tls13_suite(id)) tls13.push_back(id);
  if (t.max_version >= 0x0304) {
    std::vector<uint16_t> sorted = tls13;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != kStockTls13Order) {
      *why = "TLS 1.3 offers exactly the suites 0x1301, 0x1302 and 0x1303 here (in any order)";
      return false;
    }
  }
  if (t.point_formats != std::vector<uint8_t>{0}) {
    *why = "ec_point_formats other than [0] (uncompressed) cannot be sent";
    return false;
  }
  // Without the patch series only BoringSSL's stock knobs exist: name the first trait that needs more.
  if (t.max_version >= 0x0304 && tls13 != kStockTls13Order) {
    *why = "TLS 1.3 cipher order other than 1301,1302,1303 needs the patched TLS stack";
  } else if (!t.extension_order.empty()) {
    *why = "an explicit extension order needs the patched TLS stack";
  } else if (!t.delegated_credentials.empty()) {
    *why = "delegated_credentials (34) needs the patched TLS stack";
  } else if (t.record_size_limit != 0) {
    *why = "record_size_limit (28) needs the patched TLS stack";
  } else if (t.key_shares != 0) {
    *why = "a key share count needs the patched TLS stack";
  } else if (std::count(t.groups.begin(), t.groups.end(), kFfdhe2048) ||
             std::count(t.groups.begin(), t.groups.end(), kFfdhe3072)) {
    *why = "ffdhe groups (256, 257) need the patched TLS stack";
  } else if (t.grease_signature_algorithms) {
    *why = "GREASE in signature_algorithms needs the patched TLS stack";
  } else if (has_duplicates(t.signature_algorithms)) {
    *why = "duplicate signature algorithms need the patched TLS stack";
  } else if (!t.padding) {
    *why = "leaving out the padding extension (21) needs the patched TLS stack";
  } else if (!t.opaque_extensions.empty()) {
    *why = "extension " + std::to_string(t.opaque_extensions[0]) + " needs the patched TLS stack";
  } else if (!t.omitted_extensions.empty()) {
    *why =
        "leaving out extension " + std::to_string(t.omitted_extensions[0]) + " needs the patched TLS stack";
  } else if (t.ech_grease && t.ech_grease_nss) {
    *why = "NSS's ECH GREASE sizes need the patched TLS stack";
  } else if (t.tls12_extensions_in_tls13_hello) {
    *why = "extensions 23 and 65281 in a TLS 1.3-only hello need the patched TLS stack";
  } else if (!t.session_ticket_when_resuming_tls13) {
    *why = "resuming TLS 1.3 without session_ticket (35) needs the patched TLS stack";
  } else {
    return true;
  }
  return false;
}

namespace {

// The explicit extension order of a context: the profile's, with all but its permute_keeps_last
// trailing ids shuffled (Fisher-Yates on BoringSSL's RNG) when it permutes.
std::vector<uint16_t> extension_order_for_context(const TlsProfile& t) {
  std::vector<uint16_t> order = t.extension_order;
  if (!t.permute_extensions || t.permute_keeps_last == 0 || order.size() <= t.permute_keeps_last)
    return order;
  const size_t shuffled = order.size() - t.permute_keeps_last;
  for (size_t i = shuffled - 1; i > 0; --i) {
    uint32_t r = 0;
    RAND_bytes(reinterpret_cast<uint8_t*>(&r), sizeof r);
    std::swap(order[i], order[r % (i + 1)]);
  }
  return order;
}

// Everything a profile sets on a client context, but certificate verification: TLS versions,
// ciphers, groups, signature algorithms, extensions (the patch series' knobs), certificate
// compression, GREASE, tickets and the offered ALPN list. Shared by the TCP contexts (cached per
// profile) and QUIC's (one per connection, ngtcp2's QUIC callbacks already set).
bool shape_context(SSL_CTX* ctx, const TlsProfile& t, const std::vector<std::string>& alpn,
                   bool drop_cert_compression, bool quic, Error* error) {
  auto fail = [&](const char* what) {
    *error = Error{ErrorCode::kInternal, Stage::kTls, last_ssl_error(what)};
    return false;
  };
  std::string list;
  std::string why;
  if (!SSL_CTX_set_min_proto_version(ctx, t.min_version) ||
      !SSL_CTX_set_max_proto_version(ctx, t.max_version)) {
    return fail("TLS versions");
  }
  tls12_cipher_list(t.cipher_suites, &list, &why);
  if (!list.empty() && !SSL_CTX_set_strict_cipher_list(ctx, list.c_str())) {
    return fail("cipher list");
  }
  if (!t.groups.empty() && !SSL_CTX_set1_group_ids(ctx, t.groups.data(), t.groups.size())) {
    return fail("groups");
  }
  if (!t.signature_algorithms.empty() &&
      !SSL_CTX_set_verify_algorithm_prefs(ctx, t.signature_algorithms.data(),
                                          t.signature_algorithms.size())) {
    return fail("signature algorithms");
  }
#ifdef CTN_BORINGSSL_PATCHES
  std::vector<uint16_t> tls13;
  for (uint16_t id : t.cipher_suites)
    if (is_tls13_suite(id)) tls13.push_back(id);
  std::vector<uint16_t> tls13_sorted = tls13;
  std::sort(tls13_sorted.begin(), tls13_sorted.end());
  // A subset or other ids go on the wire through the wire list below; the order call takes only
  // a permutation of the three suites.
  if (tls13_sorted == kStockTls13Order && !SSL_CTX_set_tls13_cipher_order(ctx, tls13.data(), tls13.size())) {
    return fail("TLS 1.3 cipher order");
  }
  const std::vector<uint16_t> order = extension_order_for_context(t);
  if (!order.empty() && !SSL_CTX_set_extension_order(ctx, order.data(), order.size())) {
    return fail("extension order");
  }
  if (!t.delegated_credentials.empty() &&
      !SSL_CTX_set_delegated_credential_sigalgs(ctx, t.delegated_credentials.data(),
                                                t.delegated_credentials.size())) {
    return fail("delegated credentials");
  }
  if (t.record_size_limit && !SSL_CTX_set_record_size_limit(ctx, t.record_size_limit)) {
    return fail("record size limit");
  }
  if (t.key_shares && !SSL_CTX_set_key_shares_limit(ctx, t.key_shares)) {
    return fail("key shares");
  }
  SSL_CTX_set_grease_signature_algorithms(ctx, t.grease_signature_algorithms ? 1 : 0);
  SSL_CTX_set_client_padding(ctx, t.padding ? 1 : 0);
  // The exact cipher list on the wire: suites the stack lacks (DHE, CCM, SCSVs, TLS 1.3 ids
  // beyond the three) are advertised only, and a server that picks one fails the handshake.
  if (!t.cipher_suites.empty() &&
      !SSL_CTX_set_client_cipher_wire_list(ctx, t.cipher_suites.data(), t.cipher_suites.size())) {
    return fail("cipher wire list");
  }
  for (uint16_t id : t.opaque_extensions) {
    const std::string body = opaque_extension_body(id, t);
    if (!SSL_CTX_add_client_opaque_extension(ctx, id, reinterpret_cast<const uint8_t*>(body.data()),
                                             body.size())) {
      return fail("advertised-only extension");
    }
  }
  if (!t.omitted_extensions.empty() &&
      !SSL_CTX_set_client_omitted_extensions(ctx, t.omitted_extensions.data(), t.omitted_extensions.size())) {
    return fail("omitted extensions");
  }
  if (t.point_formats != std::vector<uint8_t>{0} &&
      !SSL_CTX_set_client_ec_point_formats(ctx, t.point_formats.data(), t.point_formats.size())) {
    return fail("point formats");
  }
  // NSS names the server padded to security.tls.ech.grease_size (100) and, before Firefox 155,
  // rounds the inner hello to 31 modulo 32.
  constexpr uint16_t kNssEchNameTarget = 100;
  if (t.ech_grease && t.ech_grease_nss) {
    const size_t fixed = nss_inner_hello_fixed_length(
        t, alpn.size(), !drop_cert_compression && !t.cert_compression.empty(), quic);
    if (!SSL_CTX_set_ech_grease_nss_sizing(ctx, static_cast<uint16_t>(fixed), kNssEchNameTarget, 32, 31)) {
      return fail("ECH GREASE sizing");
    }
  }
  SSL_CTX_set_tls12_extensions_in_tls13_hello(ctx, t.tls12_extensions_in_tls13_hello ? 1 : 0);
  SSL_CTX_set_omit_session_ticket_on_tls13_resumption(ctx, t.session_ticket_when_resuming_tls13 ? 0 : 1);
#endif
  for (uint16_t alg : drop_cert_compression ? std::vector<uint16_t>{} : t.cert_compression) {
    auto fn = alg == TLSEXT_cert_compression_brotli ? decompress_brotli
              : alg == TLSEXT_cert_compression_zlib ? decompress_zlib
                                                    : decompress_zstd;
    if (!SSL_CTX_add_cert_compression_alg(ctx, alg, nullptr, fn)) {
      return fail("certificate compression");
    }
  }
  SSL_CTX_set_grease_enabled(ctx, t.grease ? 1 : 0);
  SSL_CTX_set_permute_extensions(ctx, t.permute_extensions ? 1 : 0);
  if (t.ocsp_stapling) SSL_CTX_enable_ocsp_stapling(ctx);
  if (t.signed_cert_timestamps) SSL_CTX_enable_signed_cert_timestamps(ctx);
  if (!t.session_tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  } else {
    TlsSessionCache::enable(ctx);
  }
  const std::string alpn_list = alpn_wire(alpn);
  if (!alpn_list.empty() && SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const uint8_t*>(alpn_list.data()),
                                                    alpn_list.size()) != 0) {
    return fail("ALPN");
  }
  return true;
}

}  // namespace

std::shared_ptr<asio::ssl::context> TlsContextCache::get(const Profile& profile, const TlsOptions& options,
                                                         Error* error) {
  auto key = std::make_tuple(profile.id, options.verify, options.http1_only, options.http1_retry);
  if (auto it = contexts_.find(key); it != contexts_.end()) return it->second;

  auto fail = [&](const char* what) -> std::shared_ptr<asio::ssl::context> {
    *error = Error{ErrorCode::kInternal, Stage::kTls, last_ssl_error(what)};
    return nullptr;
  };
  const TlsProfile& t = profile.tls;
  std::string why;
  if (!check_tls_profile(t, &why)) {
    *error = Error{ErrorCode::kUnsupportedFingerprint, Stage::kTls, why};
    return nullptr;
  }
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return fail("SSL_CTX_new");
  const bool drop_cert_compression = options.http1_retry && t.http1_retry_drops_cert_compression;
  if (!shape_context(ctx.get(), t, offered_alpn(profile, options), drop_cert_compression, false, error)) {
    return nullptr;
  }
  if (options.verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    const std::string& bundle = ca_bundle_path();
    if (bundle.empty() || !SSL_CTX_load_verify_locations(ctx.get(), bundle.c_str(), nullptr)) {
      *error = Error{ErrorCode::kTlsCert, Stage::kTls,
                     "no usable CA bundle found (set SSL_CERT_FILE or install ca-certificates)"};
      ERR_clear_error();
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  auto wrapped = std::make_shared<asio::ssl::context>(ctx.release());
  contexts_.emplace(key, wrapped);
  return wrapped;
}

namespace {

int session_slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

void TlsSessionCache::enable(SSL_CTX* ctx) {
  // No internal cache: sessions live in TlsSessionCache, keyed by connection identity (BoringSSL's
  // client cache would not know which identity a session belongs to).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, &TlsSessionCache::on_new_session);
}

void TlsSessionCache::attach(SSL* ssl, Slot* slot) {
  if (!slot || slot->cache != this || session_slot_index() < 0) return;
  SSL_set_ex_data(ssl, session_slot_index(), slot);
  auto it = entries_.find(slot->key);
  if (it == entries_.end()) return;
  auto& sessions = it->second.sessions;
  while (!sessions.empty()) {
    bssl::UniquePtr<SSL_SESSION> s = std::move(sessions.back());
    sessions.pop_back();
    if (!SSL_SESSION_is_resumable(s.get())) {
      --total_sessions_;
      continue;
    }
    SSL_set_session(ssl, s.get());  // takes its own reference
    // TLS 1.3 tickets are for one connection each (RFC 8446 C.4): reusing one would let an
    // observer link the connections. TLS 1.2 sessions may go on serving.
    if (!SSL_SESSION_should_be_single_use(s.get())) {
      sessions.push_back(std::move(s));
    } else {
      --total_sessions_;
    }
    break;
  }
  if (sessions.empty()) {
    erase(it);
  } else {
    touch(it->second);
  }
}

int TlsSessionCache::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<Slot*>(SSL_get_ex_data(ssl, session_slot_index()));
  if (!slot || !slot->cache || slot->key.empty()) return 0;
  slot->cache->store(slot->key, session);
  return 1;  // the cache owns the reference now
}

void TlsSessionCache::store(const std::string& key, SSL_SESSION* session) {
  bssl::UniquePtr<SSL_SESSION> owned(session);
  if (max_keys_ == 0) return;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) erase(entries_.find(recency_.front()));
    it = entries_.emplace(key, Entry{}).first;
    it->second.recency = recency_.insert(recency_.end(), key);
  } else {
    touch(it->second);
  }
  auto& sessions = it->second.sessions;
  if (sessions.size() >= kSessionsPerKey) {
    sessions.erase(sessions.begin());
    --total_sessions_;
  }
  sessions.push_back(std::move(owned));
  ++total_sessions_;
  // Over the bound in all: the least recently used keys go (this one last: it drops its oldest).
  while (total_sessions_ > kSessionsPerKeyOnAverage * max_keys_) {
    auto oldest = entries_.find(recency_.front());
    if (oldest != it) {
      erase(oldest);
      continue;
    }
    sessions.erase(sessions.begin());
    --total_sessions_;
  }
}

namespace {
// The extensions BoringSSL takes on the SSL object: ALPS for the offered protocols that have it,
// trust_anchors (0xca34) and ECH GREASE.
bool add_hello_extensions(SSL* ssl, const TlsProfile& t, const std::vector<std::string>& offered,
                          Error* error);

// Chrome (SSLClientSocketImpl::Init, and QuicSessionPool's TLS over QUIC alike) enables ECH GREASE
// and, when DNS gave a config list, sets it too: BoringSSL then sends the real offer, or GREASE when
// no config in the list is usable. A list it cannot parse fails the connection there
// (ERR_INVALID_ECH_CONFIG_LIST).
bool set_ech_config_list(SSL* ssl, const TlsProfile& t, std::string_view ech_config_list, Error* error) {
  if (ech_config_list.empty() || !sends_real_ech(t)) return true;
  if (SSL_set1_ech_config_list(ssl, reinterpret_cast<const uint8_t*>(ech_config_list.data()),
                               ech_config_list.size())) {
    return true;
  }
  ERR_clear_error();
  *error = Error{ErrorCode::kInvalidOption, Stage::kTls,
                 "the ECHConfigList cannot be parsed (Chrome fails such a connection with "
                 "ERR_INVALID_ECH_CONFIG_LIST)"};
  return false;
}
}  // namespace

std::string_view ech_status_name(EchStatus status) {
  switch (status) {
    case EchStatus::kGrease:
      return "grease";
    case EchStatus::kReal:
      return "real";
    case EchStatus::kNone:
      break;
  }
  return "none";
}

bool sends_real_ech(const TlsProfile& t) { return t.ech_grease && !t.ech_grease_nss; }

bool decode_ech_config_list(std::string_view base64, std::string* out) {
  size_t max_len = 0;
  if (base64.empty() || !EVP_DecodedLength(&max_len, base64.size())) return false;
  out->resize(max_len);
  size_t len = 0;
  if (!EVP_DecodeBase64(reinterpret_cast<uint8_t*>(out->data()), &len, max_len,
                        reinterpret_cast<const uint8_t*>(base64.data()), base64.size())) {
    out->clear();
    return false;
  }
  out->resize(len);
  return true;
}

EchStatus ech_status_of(SSL* ssl, const TlsProfile& t) {
  if (SSL_ech_accepted(ssl)) return EchStatus::kReal;
  return t.ech_grease ? EchStatus::kGrease : EchStatus::kNone;
}

bool ech_rejected(SSL* ssl, uint32_t packed_error, std::string* retry_configs) {
  const uint32_t e = packed_error != 0 ? packed_error : ERR_peek_error();
  if (ERR_GET_LIB(e) != ERR_LIB_SSL || ERR_GET_REASON(e) != SSL_R_ECH_REJECTED) return false;
  const uint8_t* configs = nullptr;
  size_t len = 0;
  SSL_get0_ech_retry_configs(ssl, &configs, &len);
  retry_configs->assign(reinterpret_cast<const char*>(configs), len);
  ERR_clear_error();
  return true;
}

bool prepare_connection(SSL* ssl, const Profile& profile, const TlsOptions& options,
                        const std::string& server_name, Error* error, std::string_view ech_config_list) {
  const bool ip = is_ip_literal(server_name);
  // Browsers send no SNI for IP literals; neither do we.
  if (!ip && !server_name.empty() && !SSL_set_tlsext_host_name(ssl, server_name.c_str())) {
    *error = Error{ErrorCode::kInvalidOption, Stage::kTls, last_ssl_error("server name")};
    return false;
  }
  if (options.verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                : X509_VERIFY_PARAM_set1_host(param, server_name.data(), server_name.size());
    if (!ok) {
      *error = Error{ErrorCode::kInvalidOption, Stage::kTls, last_ssl_error("verify host")};
      return false;
    }
  }
  return set_ech_config_list(ssl, profile.tls, ech_config_list, error) &&
         add_hello_extensions(ssl, profile.tls, offered_alpn(profile, options), error);
}

bool shape_quic_context(SSL_CTX* ctx, const TlsProfile& t, Error* error) {
  std::string why;
  if (!check_tls_profile(t, &why)) {
    *error = Error{ErrorCode::kUnsupportedFingerprint, Stage::kTls, why};
    return false;
  }
  if (t.min_version < 0x0304) {
    *error = Error{ErrorCode::kUnsupportedFingerprint, Stage::kTls, "a QUIC ClientHello offers TLS 1.3 only"};
    return false;
  }
  return shape_context(ctx, t, t.alpn, false, true, error);
}

bool prepare_quic_connection(SSL* ssl, const TlsProfile& t, Error* error, std::string_view ech_config_list) {
  return set_ech_config_list(ssl, t, ech_config_list, error) && add_hello_extensions(ssl, t, t.alpn, error);
}

namespace {

bool add_hello_extensions(SSL* ssl, const TlsProfile& t, const std::vector<std::string>& offered,
                          Error* error) {
  for (const auto& p : t.alps) {
    if (std::find(offered.begin(), offered.end(), p) == offered.end()) continue;
    SSL_set_alps_use_new_codepoint(ssl, t.alps_new_codepoint ? 1 : 0);
    // An empty ALPS payload, as Chrome sends for h2.
    if (!SSL_add_application_settings(ssl, reinterpret_cast<const uint8_t*>(p.data()), p.size(), nullptr,
                                      0)) {
      *error = Error{ErrorCode::kInternal, Stage::kTls, last_ssl_error("ALPS")};
      return false;
    }
  }
  if (!t.trust_anchors.empty() &&
      !SSL_set1_requested_trust_anchors(ssl, reinterpret_cast<const uint8_t*>(t.trust_anchors.data()),
                                        t.trust_anchors.size())) {
    *error = Error{ErrorCode::kInternal, Stage::kTls, last_ssl_error("trust anchors")};
    return false;
  }
  if (t.ech_grease) SSL_set_enable_ech_grease(ssl, 1);
  capture_client_hello(ssl);  // for response.fingerprint (core/connection_fingerprint)
  return true;
}

}  // namespace

Error classify_handshake_failure(SSL* ssl, uint32_t packed_error, const std::string& fallback_message) {
  // Asio drains BoringSSL's error queue into its error_code: the packed code comes from there.
  const uint32_t e = packed_error != 0 ? packed_error : ERR_peek_error();
  // Only a failed verification is a certificate error; SSL_get_verify_result alone cannot tell
  // (it reports an "invalid call" when verification never ran, e.g. the peer does not speak TLS).
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    ERR_clear_error();
    const long result = SSL_get_verify_result(ssl);
    return Error{ErrorCode::kTlsCert, Stage::kTls,
                 std::string("certificate verification failed: ") + X509_verify_cert_error_string(result) +
                     certificate_facts(ssl, result)};
  }
#ifdef CTN_BORINGSSL_PATCHES
  // The server picked something this client only advertises (see the patch series' 0011).
  if (const uint16_t suite = SSL_get_advertised_only_cipher(ssl)) {
    ERR_clear_error();
    return Error{ErrorCode::kTlsHandshake, Stage::kTls,
                 "TLS handshake failed: the server chose cipher suite " + cipher_suite_label(suite) +
                     ", which this client advertises but cannot negotiate"};
  }
  if (uint16_t ext = 0; SSL_get_advertised_only_extension(ssl, &ext)) {
    ERR_clear_error();
    return Error{ErrorCode::kTlsHandshake, Stage::kTls,
                 "TLS handshake failed: the server answered with extension " + opaque_extension_label(ext) +
                     ", which this client advertises but cannot run"};
  }
#endif
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return Error{ErrorCode::kTlsHandshake, Stage::kTls, std::string("TLS handshake failed: ") + buf};
  }
  return Error{ErrorCode::kTlsHandshake, Stage::kTls, "TLS handshake failed: " + fallback_message};
}

std::string negotiated_alpn(const SSL* ssl) {
  const uint8_t* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

std::string negotiated_version(const SSL* ssl) { return SSL_get_version(ssl); }

std::string negotiated_cipher(const SSL* ssl) {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  return c ? SSL_CIPHER_standard_name(c) : "";
}

}  // namespace ctn
