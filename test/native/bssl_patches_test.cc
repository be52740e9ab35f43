// Tests for the cycletls-native BoringSSL patch series (native/tls/patches/boringssl).
//
// Each test builds a client SSL on memory BIOs, runs SSL_do_handshake once, parses the ClientHello
// the client wrote and checks the bytes each patched API controls. The handshake tests run a
// client and a BoringSSL server over a BIO pair, with keys and certificates generated here.

#include <gtest/gtest.h>

#include <openssl/ssl.h>

#ifndef CTN_BORINGSSL_PATCHES

TEST(BsslPatches, SeriesApplied) {
  GTEST_SKIP() << "BoringSSL was built without the cycletls-native patch series "
                  "(CTN_BORINGSSL_PATCHES is not defined): scripts/prepare-boringssl.sh did not "
                  "apply native/tls/patches/boringssl";
}

#else  // CTN_BORINGSSL_PATCHES

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hpke.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;
using Ids = std::vector<uint16_t>;

// --- ClientHello parsing ------------------------------------------------------------------------

struct Extension {
  uint16_t type;
  Bytes data;
};

struct ClientHello {
  uint16_t legacy_version = 0;
  Bytes session_id;
  Ids ciphers;
  std::vector<Extension> extensions;

  Ids ExtensionTypes() const {
    Ids out;
    for (const auto& e : extensions) out.push_back(e.type);
    return out;
  }
  const Bytes* Find(uint16_t type) const {
    for (const auto& e : extensions) {
      if (e.type == type) return &e.data;
    }
    return nullptr;
  }
};

bool IsGrease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// Parses one TLS record holding a whole ClientHello.
std::optional<ClientHello> ParseClientHello(const Bytes& wire) {
  CBS cbs, record, body, random, session_id, ciphers, compression, exts;
  uint8_t type, msg_type;
  uint16_t record_version;
  CBS_init(&cbs, wire.data(), wire.size());
  if (!CBS_get_u8(&cbs, &type) || type != 22 || !CBS_get_u16(&cbs, &record_version) ||
      !CBS_get_u16_length_prefixed(&cbs, &record) || CBS_len(&cbs) != 0 || !CBS_get_u8(&record, &msg_type) ||
      msg_type != 1 || !CBS_get_u24_length_prefixed(&record, &body) || CBS_len(&record) != 0) {
    return std::nullopt;
  }
  ClientHello hello;
  if (!CBS_get_u16(&body, &hello.legacy_version) || !CBS_get_bytes(&body, &random, 32) ||
      !CBS_get_u8_length_prefixed(&body, &session_id) || !CBS_get_u16_length_prefixed(&body, &ciphers) ||
      !CBS_get_u8_length_prefixed(&body, &compression) || !CBS_get_u16_length_prefixed(&body, &exts) ||
      CBS_len(&body) != 0) {
    return std::nullopt;
  }
  hello.session_id.assign(CBS_data(&session_id), CBS_data(&session_id) + CBS_len(&session_id));
  while (CBS_len(&ciphers) > 0) {
    uint16_t c;
    if (!CBS_get_u16(&ciphers, &c)) return std::nullopt;
    hello.ciphers.push_back(c);
  }
  while (CBS_len(&exts) > 0) {
    uint16_t ext_type;
    CBS data;
    if (!CBS_get_u16(&exts, &ext_type) || !CBS_get_u16_length_prefixed(&exts, &data)) {
      return std::nullopt;
    }
    hello.extensions.push_back({ext_type, Bytes(CBS_data(&data), CBS_data(&data) + CBS_len(&data))});
  }
  return hello;
}

// A u16-length-prefixed list of u16 (supported_groups, signature_algorithms, delegated_credential).
Ids U16List(const Bytes* data) {
  Ids out;
  if (data == nullptr) return out;
  CBS cbs, list;
  CBS_init(&cbs, data->data(), data->size());
  if (!CBS_get_u16_length_prefixed(&cbs, &list) || CBS_len(&cbs) != 0) return {0xdead};
  while (CBS_len(&list) > 0) {
    uint16_t v;
    if (!CBS_get_u16(&list, &v)) return {0xdead};
    out.push_back(v);
  }
  return out;
}

// key_share: (group, key length) pairs.
std::vector<std::pair<uint16_t, size_t> > KeyShares(const Bytes* data) {
  std::vector<std::pair<uint16_t, size_t> > out;
  if (data == nullptr) return out;
  CBS cbs, list;
  CBS_init(&cbs, data->data(), data->size());
  if (!CBS_get_u16_length_prefixed(&cbs, &list) || CBS_len(&cbs) != 0) return {{0xdead, 0}};
  while (CBS_len(&list) > 0) {
    uint16_t group;
    CBS key;
    if (!CBS_get_u16(&list, &group) || !CBS_get_u16_length_prefixed(&list, &key)) {
      return {{0xdead, 0}};
    }
    out.emplace_back(group, CBS_len(&key));
  }
  return out;
}

Ids WithoutGrease(const Ids& ids) {
  Ids out;
  for (uint16_t v : ids) {
    if (!IsGrease(v)) out.push_back(v);
  }
  return out;
}

std::string Join(const Ids& ids) {
  std::string out;
  for (uint16_t v : ids) {
    if (!out.empty()) out += '-';
    out += std::to_string(v);
  }
  return out;
}

// JA3 string: version, ciphers, extensions, groups, point formats (GREASE removed).
std::string Ja3(const ClientHello& hello) {
  std::string formats;
  if (const Bytes* pf = hello.Find(TLSEXT_TYPE_ec_point_formats); pf && !pf->empty()) {
    Ids f(pf->begin() + 1, pf->end());
    formats = Join(f);
  }
  return std::to_string(hello.legacy_version) + "," + Join(WithoutGrease(hello.ciphers)) + "," +
         Join(WithoutGrease(hello.ExtensionTypes())) + "," +
         Join(WithoutGrease(U16List(hello.Find(TLSEXT_TYPE_supported_groups)))) + "," + formats;
}

// Drains the error queue into a string, with each error's data.
std::string ErrorString() {
  std::string out;
  const char* file;
  const char* data;
  int line, flags;
  while (uint32_t e = ERR_get_error_line_data(&file, &line, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += buf;
    if ((flags & ERR_FLAG_STRING) && data != nullptr) {
      out += " (";
      out += data;
      out += ")";
    }
    out += "; ";
  }
  return out;
}

// --- Client configuration -----------------------------------------------------------------------

int NoDecompress(SSL*, CRYPTO_BUFFER**, size_t, const uint8_t*, size_t) { return 0; }

const Ids kFirefoxExtensionOrder = {0, 23, 65281, 10, 11, 35, 16, 5, 34, 18, 51, 43, 13, 45, 28, 27, 65037};
const Ids kFirefoxGroups = {SSL_GROUP_X25519_MLKEM768, SSL_GROUP_X25519,    SSL_GROUP_SECP256R1,
                            SSL_GROUP_SECP384R1,       SSL_GROUP_SECP521R1, SSL_GROUP_FFDHE2048,
                            SSL_GROUP_FFDHE3072};
const Ids kFirefoxSigalgs = {0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806,
                             0x0401, 0x0501, 0x0601, 0x0203, 0x0201};
const Ids kFirefoxDelegatedCredentialSigalgs = {0x0403, 0x0503, 0x0603, 0x0203};
const Ids kFirefoxTls13Order = {0x1301, 0x1303, 0x1302};
const char kFirefoxCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:"
    "AES256-GCM-SHA384:AES128-SHA:AES256-SHA";
// The golden Firefox ESR 153 capture (shared/fingerprints).
const char kFirefoxJa3[] =
    "771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49171-49172-156-157-47-53,"
    "0-23-65281-10-11-35-16-5-34-18-51-43-13-45-28-27-65037,4588-29-23-24-25-256-257,0";

// Safari: legacy CBC-SHA256/384 and 3DES suites, and rsa_pss_rsae_sha384 twice.
const char kSafariCiphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA:"
    "ECDHE-RSA-AES128-SHA:AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256:AES128-SHA256:"
    "AES256-SHA:AES128-SHA:ECDHE-ECDSA-DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA:DES-CBC3-SHA";
const Ids kSafariTls12Ciphers = {0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc024, 0xc023,
                                 0xc00a, 0xc009, 0xc028, 0xc027, 0xc014, 0xc013, 0x009d, 0x009c,
                                 0x003d, 0x003c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a};
const Ids kSafariTls13Order = {0x1302, 0x1303, 0x1301};
const Ids kSafariSigalgs = {0x0403, 0x0804, 0x0401, 0x0503, 0x0203, 0x0805,
                            0x0805, 0x0501, 0x0806, 0x0601, 0x0201};
const Ids kSafariGroups = {SSL_GROUP_X25519, SSL_GROUP_SECP256R1, SSL_GROUP_SECP384R1, SSL_GROUP_SECP521R1};

const Ids kChromeSigalgs = {0x0904, 0x0905, 0x0906, 0x0403, 0x0804, 0x0401,
                            0x0503, 0x0805, 0x0501, 0x0806, 0x0601};

bssl::UniquePtr<SSL_CTX> NewClientCtx() {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  EXPECT_TRUE(ctx);
  EXPECT_TRUE(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION));
  EXPECT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION));
  return ctx;
}

// Everything Firefox ESR 153 sends, using every API of the series that Firefox needs.
void ConfigureFirefox(SSL_CTX* ctx) {
  static const uint8_t kAlpn[] = "\x02h2\x08http/1.1";
  ASSERT_TRUE(SSL_CTX_set_strict_cipher_list(ctx, kFirefoxCiphers));
  ASSERT_TRUE(SSL_CTX_set1_group_ids(ctx, kFirefoxGroups.data(), kFirefoxGroups.size()));
  ASSERT_TRUE(SSL_CTX_set_verify_algorithm_prefs(ctx, kFirefoxSigalgs.data(), kFirefoxSigalgs.size()));
  ASSERT_EQ(0, SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn) - 1));
  SSL_CTX_enable_ocsp_stapling(ctx);
  SSL_CTX_enable_signed_cert_timestamps(ctx);
  for (uint16_t alg : {1, 2, 3}) {
    ASSERT_TRUE(SSL_CTX_add_cert_compression_alg(ctx, alg, nullptr, NoDecompress));
  }
  ASSERT_TRUE(SSL_CTX_set_extension_order(ctx, kFirefoxExtensionOrder.data(), kFirefoxExtensionOrder.size()));
  ASSERT_TRUE(SSL_CTX_set_delegated_credential_sigalgs(ctx, kFirefoxDelegatedCredentialSigalgs.data(),
                                                       kFirefoxDelegatedCredentialSigalgs.size()));
  ASSERT_TRUE(SSL_CTX_set_record_size_limit(ctx, 0x4001));
  ASSERT_TRUE(SSL_CTX_set_key_shares_limit(ctx, 3));
  ASSERT_TRUE(SSL_CTX_set_tls13_cipher_order(ctx, kFirefoxTls13Order.data(), kFirefoxTls13Order.size()));
}

struct Client {
  bssl::UniquePtr<SSL> ssl;
  BIO* rbio = nullptr;  // owned by ssl
  BIO* wbio = nullptr;  // owned by ssl
};

Client NewMemoryClient(SSL_CTX* ctx, bool ech_grease) {
  Client c;
  c.ssl.reset(SSL_new(ctx));
  c.rbio = BIO_new(BIO_s_mem());
  c.wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(c.ssl.get(), c.rbio, c.wbio);
  SSL_set_connect_state(c.ssl.get());
  SSL_set_tlsext_host_name(c.ssl.get(), "example.com");
  SSL_set_enable_ech_grease(c.ssl.get(), ech_grease ? 1 : 0);
  return c;
}

Bytes Drain(BIO* bio) {
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio, &data, &len);
  Bytes out(data, data + len);
  BIO_reset(bio);
  return out;
}

// The first ClientHello a client of ctx writes.
ClientHello HelloFrom(SSL_CTX* ctx, bool ech_grease = false) {
  Client c = NewMemoryClient(ctx, ech_grease);
  int ret = SSL_do_handshake(c.ssl.get());
  EXPECT_EQ(-1, ret);
  EXPECT_EQ(SSL_ERROR_WANT_READ, SSL_get_error(c.ssl.get(), ret)) << ErrorString();
  std::optional<ClientHello> hello = ParseClientHello(Drain(c.wbio));
  EXPECT_TRUE(hello.has_value()) << "could not parse the ClientHello";
  return hello.value_or(ClientHello{});
}

// Extensions a default client (SNI, TLS 1.2-1.3) sends, in stock BoringSSL's built-in order.
const Ids kStockDefaultExtensions = {0, 23, 65281, 10, 11, 35, 13, 51, 45, 43};

// --- ClientHello tests --------------------------------------------------------------------------

TEST(BsslPatches, StockHelloWithoutNewApis) {
  auto ctx = NewClientCtx();
  ClientHello hello = HelloFrom(ctx.get());
  EXPECT_EQ(kStockDefaultExtensions, hello.ExtensionTypes());
  EXPECT_EQ(nullptr, hello.Find(TLSEXT_TYPE_record_size_limit));
  EXPECT_EQ(nullptr, hello.Find(TLSEXT_TYPE_delegated_credential));
  // Default groups and one key share (x25519): no ffdhe, no extra shares.
  EXPECT_EQ((Ids{29, 23, 24}), U16List(hello.Find(TLSEXT_TYPE_supported_groups)));
  auto shares = KeyShares(hello.Find(TLSEXT_TYPE_key_share));
  ASSERT_EQ(1u, shares.size());
  EXPECT_EQ(29, shares[0].first);
  // Stock verify list, no GREASE.
  EXPECT_EQ((Ids{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201}),
            U16List(hello.Find(TLSEXT_TYPE_signature_algorithms)));
  // TLS 1.3 suites in the hardware-dependent order, then the stock default ("ALL") TLS 1.2 list:
  // none of the legacy suites the series adds (they are deprecated, so only named ones count).
  ASSERT_GT(hello.ciphers.size(), 3u);
  Ids tls13(hello.ciphers.begin(), hello.ciphers.begin() + 3);
  Ids expected13 = EVP_has_aes_hardware() ? Ids{0x1301, 0x1302, 0x1303} : Ids{0x1303, 0x1301, 0x1302};
  EXPECT_EQ(expected13, tls13);
  Ids tls12(hello.ciphers.begin() + 3, hello.ciphers.end());
  Ids expected12 = EVP_has_aes_hardware() ? Ids{0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009,
                                                0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
                                          : Ids{0xcca9, 0xcca8, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc009,
                                                0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  EXPECT_EQ(expected12, tls12);

  // GREASE on, still without the new APIs: GREASE first and last, stock order between, no GREASE
  // signature algorithm. (This small hello also gets stock padding, after the last GREASE.)
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  hello = HelloFrom(ctx.get());
  Ids types = hello.ExtensionTypes();
  if (!types.empty() && types.back() == TLSEXT_TYPE_padding) types.pop_back();
  ASSERT_GE(types.size(), 3u);
  EXPECT_TRUE(IsGrease(types.front()));
  EXPECT_TRUE(IsGrease(types.back()));
  EXPECT_EQ(kStockDefaultExtensions, Ids(types.begin() + 1, types.end() - 1));
  EXPECT_FALSE(IsGrease(U16List(hello.Find(TLSEXT_TYPE_signature_algorithms)).front()));
}

TEST(BsslPatches, FirefoxHelloMatchesGoldenJa3) {
  auto ctx = NewClientCtx();
  ConfigureFirefox(ctx.get());
  ClientHello hello = HelloFrom(ctx.get(), /*ech_grease=*/true);
  EXPECT_EQ(kFirefoxJa3, Ja3(hello));
  EXPECT_EQ(kFirefoxExtensionOrder, hello.ExtensionTypes());

  // delegated_credential: Firefox's four sigalgs.
  EXPECT_EQ(kFirefoxDelegatedCredentialSigalgs, U16List(hello.Find(TLSEXT_TYPE_delegated_credential)));
  // record_size_limit: 16385.
  ASSERT_NE(nullptr, hello.Find(TLSEXT_TYPE_record_size_limit));
  EXPECT_EQ((Bytes{0x40, 0x01}), *hello.Find(TLSEXT_TYPE_record_size_limit));
  // Three key shares, in group order; the ffdhe groups get none.
  EXPECT_EQ((std::vector<std::pair<uint16_t, size_t> >{{4588, 1216}, {29, 32}, {23, 65}}),
            KeyShares(hello.Find(TLSEXT_TYPE_key_share)));
  EXPECT_EQ(kFirefoxGroups, U16List(hello.Find(TLSEXT_TYPE_supported_groups)));
  // TLS 1.3 suites 1301, 1303, 1302.
  ASSERT_GT(hello.ciphers.size(), 3u);
  EXPECT_EQ(kFirefoxTls13Order, Ids(hello.ciphers.begin(), hello.ciphers.begin() + 3));
  EXPECT_EQ(kFirefoxSigalgs, U16List(hello.Find(TLSEXT_TYPE_signature_algorithms)));
  // compress_certificate: zlib, brotli, zstd.
  ASSERT_NE(nullptr, hello.Find(TLSEXT_TYPE_cert_compression));
  EXPECT_EQ((Bytes{6, 0, 1, 0, 2, 0, 3}), *hello.Find(TLSEXT_TYPE_cert_compression));
}

TEST(BsslPatches, ExtensionOrderWithGrease) {
  auto ctx = NewClientCtx();
  ConfigureFirefox(ctx.get());
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  ClientHello hello = HelloFrom(ctx.get(), /*ech_grease=*/true);
  Ids types = hello.ExtensionTypes();
  ASSERT_EQ(kFirefoxExtensionOrder.size() + 2, types.size());
  EXPECT_TRUE(IsGrease(types.front()));
  EXPECT_TRUE(IsGrease(types.back()));
  EXPECT_NE(types.front(), types.back());
  EXPECT_EQ(kFirefoxExtensionOrder, Ids(types.begin() + 1, types.end() - 1));
}

TEST(BsslPatches, ExtensionOrderOverridesPermutationAndSkipsOrAppends) {
  auto ctx = NewClientCtx();
  SSL_CTX_set_permute_extensions(ctx.get(), 1);
  // 43 and 0 first; 0x4469 (old ALPS, not configured) and 0x7777 (unknown) are not sent; 28 is
  // not configured either. The others follow in stock order.
  const Ids order = {43, 0x4469, 0, 0x7777, 28, 51};
  ASSERT_TRUE(SSL_CTX_set_extension_order(ctx.get(), order.data(), order.size()));
  for (int i = 0; i < 5; i++) {
    EXPECT_EQ((Ids{43, 0, 51, 23, 65281, 10, 11, 35, 13, 45}), HelloFrom(ctx.get()).ExtensionTypes());
  }
  // Zero ids: back to the stock permutation (random: at least one of several hellos differs).
  ASSERT_TRUE(SSL_CTX_set_extension_order(ctx.get(), nullptr, 0));
  SSL_CTX_set_permute_extensions(ctx.get(), 0);
  EXPECT_EQ(kStockDefaultExtensions, HelloFrom(ctx.get()).ExtensionTypes());
  SSL_CTX_set_permute_extensions(ctx.get(), 1);
  std::set<Ids> seen;
  for (int i = 0; i < 8; i++) seen.insert(HelloFrom(ctx.get()).ExtensionTypes());
  EXPECT_GT(seen.size(), 1u);
  // Duplicates are refused.
  const Ids dup = {0, 23, 0};
  EXPECT_FALSE(SSL_CTX_set_extension_order(ctx.get(), dup.data(), dup.size()));
  ERR_clear_error();
}

TEST(BsslPatches, DelegatedCredentialsOnlyWithTls13) {
  auto ctx = NewClientCtx();
  const Ids sigalgs = {0x0403, 0x0503, 0x0603, 0x0203};
  ASSERT_TRUE(SSL_CTX_set_delegated_credential_sigalgs(ctx.get(), sigalgs.data(), sigalgs.size()));
  ClientHello hello = HelloFrom(ctx.get());
  ASSERT_NE(nullptr, hello.Find(TLSEXT_TYPE_delegated_credential));
  EXPECT_EQ((Bytes{0, 8, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x02, 0x03}),
            *hello.Find(TLSEXT_TYPE_delegated_credential));
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  EXPECT_EQ(nullptr, HelloFrom(ctx.get()).Find(TLSEXT_TYPE_delegated_credential));
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  ASSERT_TRUE(SSL_CTX_set_delegated_credential_sigalgs(ctx.get(), nullptr, 0));
  EXPECT_EQ(nullptr, HelloFrom(ctx.get()).Find(TLSEXT_TYPE_delegated_credential));
}

TEST(BsslPatches, RecordSizeLimit) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_record_size_limit(ctx.get(), 0x4001));
  ClientHello hello = HelloFrom(ctx.get());
  ASSERT_NE(nullptr, hello.Find(28));
  EXPECT_EQ((Bytes{0x40, 0x01}), *hello.Find(28));
  // Without an explicit order it is the last extension.
  EXPECT_EQ(28, hello.ExtensionTypes().back());
  EXPECT_FALSE(SSL_CTX_set_record_size_limit(ctx.get(), 63));
  ERR_clear_error();
  ASSERT_TRUE(SSL_CTX_set_record_size_limit(ctx.get(), 0));
  EXPECT_EQ(nullptr, HelloFrom(ctx.get()).Find(28));
}

TEST(BsslPatches, KeySharesLimit) {
  auto ctx = NewClientCtx();
  const Ids groups = {SSL_GROUP_FFDHE2048, SSL_GROUP_X25519_MLKEM768, SSL_GROUP_FFDHE3072,
                      SSL_GROUP_X25519,    SSL_GROUP_SECP256R1,       SSL_GROUP_SECP384R1};
  ASSERT_TRUE(SSL_CTX_set1_group_ids(ctx.get(), groups.data(), groups.size()));
  using Shares = std::vector<std::pair<uint16_t, size_t> >;
  // Stock selection (0): the first group and the first of the other kind, ffdhe skipped.
  EXPECT_EQ((Shares{{4588, 1216}, {29, 32}}), KeyShares(HelloFrom(ctx.get()).Find(51)));
  ASSERT_TRUE(SSL_CTX_set_key_shares_limit(ctx.get(), 1));
  EXPECT_EQ((Shares{{4588, 1216}}), KeyShares(HelloFrom(ctx.get()).Find(51)));
  ASSERT_TRUE(SSL_CTX_set_key_shares_limit(ctx.get(), 3));
  EXPECT_EQ((Shares{{4588, 1216}, {29, 32}, {23, 65}}), KeyShares(HelloFrom(ctx.get()).Find(51)));
  // With GREASE, the GREASE share stays first.
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  Shares shares = KeyShares(HelloFrom(ctx.get()).Find(51));
  ASSERT_EQ(4u, shares.size());
  EXPECT_TRUE(IsGrease(shares[0].first));
  EXPECT_EQ((Shares{{4588, 1216}, {29, 32}, {23, 65}}), Shares(shares.begin() + 1, shares.end()));
  EXPECT_FALSE(SSL_CTX_set_key_shares_limit(ctx.get(), 4));
  ERR_clear_error();
}

TEST(BsslPatches, FfdheGroupsAdvertisedOnly) {
  auto ctx = NewClientCtx();
  const Ids groups = {SSL_GROUP_X25519, SSL_GROUP_SECP256R1, SSL_GROUP_FFDHE2048, SSL_GROUP_FFDHE3072};
  ASSERT_TRUE(SSL_CTX_set1_group_ids(ctx.get(), groups.data(), groups.size()));
  ClientHello hello = HelloFrom(ctx.get());
  EXPECT_EQ(groups, U16List(hello.Find(TLSEXT_TYPE_supported_groups)));
  auto shares = KeyShares(hello.Find(TLSEXT_TYPE_key_share));
  ASSERT_EQ(1u, shares.size());
  EXPECT_EQ(29, shares[0].first);
  // Other groups BoringSSL lacks (ffdhe4096, x448) are advertised only too (0011); zero is
  // refused; ffdhe alone cannot make a key share.
  const Ids more = {SSL_GROUP_X25519, 0x0102, 30};
  ASSERT_TRUE(SSL_CTX_set1_group_ids(ctx.get(), more.data(), more.size()));
  EXPECT_EQ(more, U16List(HelloFrom(ctx.get()).Find(TLSEXT_TYPE_supported_groups)));
  const Ids bad = {SSL_GROUP_X25519, 0};
  EXPECT_FALSE(SSL_CTX_set1_group_ids(ctx.get(), bad.data(), bad.size()));
  ERR_clear_error();
  const Ids only_ffdhe = {SSL_GROUP_FFDHE2048};
  ASSERT_TRUE(SSL_CTX_set1_group_ids(ctx.get(), only_ffdhe.data(), only_ffdhe.size()));
  for (size_t limit : {0, 3}) {
    ASSERT_TRUE(SSL_CTX_set_key_shares_limit(ctx.get(), limit));
    Client c = NewMemoryClient(ctx.get(), false);
    EXPECT_EQ(-1, SSL_do_handshake(c.ssl.get()));
    EXPECT_EQ(SSL_R_NO_GROUPS_SPECIFIED, ERR_GET_REASON(ERR_peek_last_error())) << limit;
    ERR_clear_error();
  }
}

TEST(BsslPatches, Tls13CipherOrder) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_tls13_cipher_order(ctx.get(), kFirefoxTls13Order.data(), 3));
  ClientHello hello = HelloFrom(ctx.get());
  ASSERT_GT(hello.ciphers.size(), 3u);  // the TLS 1.2 suites follow
  EXPECT_EQ(kFirefoxTls13Order, Ids(hello.ciphers.begin(), hello.ciphers.begin() + 3));
  ASSERT_TRUE(SSL_CTX_set_tls13_cipher_order(ctx.get(), kSafariTls13Order.data(), 3));
  hello = HelloFrom(ctx.get());
  ASSERT_GT(hello.ciphers.size(), 3u);
  EXPECT_EQ(kSafariTls13Order, Ids(hello.ciphers.begin(), hello.ciphers.begin() + 3));
  // With GREASE the GREASE suite stays first.
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  hello = HelloFrom(ctx.get());
  ASSERT_GT(hello.ciphers.size(), 4u);
  EXPECT_TRUE(IsGrease(hello.ciphers[0]));
  EXPECT_EQ(kSafariTls13Order, Ids(hello.ciphers.begin() + 1, hello.ciphers.begin() + 4));
  // Not permutations of the three suites.
  for (const Ids& bad : {Ids{0x1301, 0x1301, 0x1302}, Ids{0x1301, 0x1302}, Ids{0x1301, 0x1302, 0xc02b},
                         Ids{0x1301, 0x1302, 0x1303, 0x1301}}) {
    EXPECT_FALSE(SSL_CTX_set_tls13_cipher_order(ctx.get(), bad.data(), bad.size()));
    ERR_clear_error();
  }
  ASSERT_TRUE(SSL_CTX_set_tls13_cipher_order(ctx.get(), nullptr, 0));
  hello = HelloFrom(ctx.get());
  ASSERT_GT(hello.ciphers.size(), 4u);
  Ids expected13 = EVP_has_aes_hardware() ? Ids{0x1301, 0x1302, 0x1303} : Ids{0x1303, 0x1301, 0x1302};
  EXPECT_EQ(expected13, Ids(hello.ciphers.begin() + 1, hello.ciphers.begin() + 4));
}

TEST(BsslPatches, GreaseSignatureAlgorithm) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_verify_algorithm_prefs(ctx.get(), kChromeSigalgs.data(), kChromeSigalgs.size()));
  // Off by default, and no effect without GREASE.
  EXPECT_EQ(kChromeSigalgs, U16List(HelloFrom(ctx.get()).Find(TLSEXT_TYPE_signature_algorithms)));
  ASSERT_TRUE(SSL_CTX_set_grease_signature_algorithms(ctx.get(), 1));
  EXPECT_EQ(kChromeSigalgs, U16List(HelloFrom(ctx.get()).Find(TLSEXT_TYPE_signature_algorithms)));
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  std::set<uint16_t> values;
  for (int i = 0; i < 16; i++) {
    ClientHello hello = HelloFrom(ctx.get());
    const Bytes* ext = hello.Find(TLSEXT_TYPE_signature_algorithms);
    ASSERT_NE(nullptr, ext);
    EXPECT_EQ(26u, ext->size());  // as in the golden Chromium 156 capture
    Ids sigalgs = U16List(ext);
    ASSERT_EQ(kChromeSigalgs.size() + 1, sigalgs.size());
    EXPECT_TRUE(IsGrease(sigalgs[0])) << std::hex << sigalgs[0];
    EXPECT_EQ(kChromeSigalgs, Ids(sigalgs.begin() + 1, sigalgs.end()));
    values.insert(sigalgs[0]);
  }
  EXPECT_GT(values.size(), 1u);  // derived from the per-connection GREASE seed
  ASSERT_TRUE(SSL_CTX_set_grease_signature_algorithms(ctx.get(), 0));
  EXPECT_EQ(kChromeSigalgs, U16List(HelloFrom(ctx.get()).Find(TLSEXT_TYPE_signature_algorithms)));
}

TEST(BsslPatches, LegacySuitesAdvertisedInOrder) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_strict_cipher_list(ctx.get(), kSafariCiphers)) << ErrorString();
  ASSERT_TRUE(SSL_CTX_set_tls13_cipher_order(ctx.get(), kSafariTls13Order.data(), 3));
  ClientHello hello = HelloFrom(ctx.get());
  Ids expected = kSafariTls13Order;
  expected.insert(expected.end(), kSafariTls12Ciphers.begin(), kSafariTls12Ciphers.end());
  EXPECT_EQ(expected, hello.ciphers);
  // The new suites are looked up by value and name.
  for (uint16_t id : {0x003c, 0x003d, 0xc008, 0xc012, 0xc024, 0xc028}) {
    const SSL_CIPHER* cipher = SSL_get_cipher_by_value(id);
    ASSERT_NE(nullptr, cipher) << std::hex << id;
    EXPECT_EQ(id, SSL_CIPHER_get_protocol_id(cipher));
  }
  EXPECT_STREQ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
               SSL_CIPHER_standard_name(SSL_get_cipher_by_value(0xc028)));
  EXPECT_EQ(NID_sha384, SSL_CIPHER_get_digest_nid(SSL_get_cipher_by_value(0xc024)));
}

TEST(BsslPatches, DuplicateVerifySigalgs) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_verify_algorithm_prefs(ctx.get(), kSafariSigalgs.data(), kSafariSigalgs.size()))
      << ErrorString();
  ClientHello hello = HelloFrom(ctx.get());
  EXPECT_EQ(kSafariSigalgs, U16List(hello.Find(TLSEXT_TYPE_signature_algorithms)));
  // Signing preferences still refuse duplicates.
  EXPECT_FALSE(SSL_CTX_set_signing_algorithm_prefs(ctx.get(), kSafariSigalgs.data(), kSafariSigalgs.size()));
  ERR_clear_error();
}

// --- Crafted server messages --------------------------------------------------------------------

Bytes Finish(CBB* cbb) {
  uint8_t* data;
  size_t len;
  if (!CBB_finish(cbb, &data, &len)) return {};
  Bytes out(data, data + len);
  OPENSSL_free(data);
  return out;
}

// A server handshake message in one plaintext record.
Bytes Record(uint8_t msg_type, const Bytes& body) {
  bssl::ScopedCBB cbb;
  CBB rec, msg;
  if (!CBB_init(cbb.get(), 64) || !CBB_add_u8(cbb.get(), 22) || !CBB_add_u16(cbb.get(), 0x0303) ||
      !CBB_add_u16_length_prefixed(cbb.get(), &rec) || !CBB_add_u8(&rec, msg_type) ||
      !CBB_add_u24_length_prefixed(&rec, &msg) || !CBB_add_bytes(&msg, body.data(), body.size())) {
    return {};
  }
  return Finish(cbb.get());
}

Bytes ServerHelloBody(const Bytes& random, const Bytes& session_id, uint16_t cipher, const Bytes& exts) {
  bssl::ScopedCBB cbb;
  CBB sid, ext;
  if (!CBB_init(cbb.get(), 128) || !CBB_add_u16(cbb.get(), 0x0303) ||
      !CBB_add_bytes(cbb.get(), random.data(), random.size()) ||
      !CBB_add_u8_length_prefixed(cbb.get(), &sid) ||
      !CBB_add_bytes(&sid, session_id.data(), session_id.size()) || !CBB_add_u16(cbb.get(), cipher) ||
      !CBB_add_u8(cbb.get(), 0) || !CBB_add_u16_length_prefixed(cbb.get(), &ext) ||
      !CBB_add_bytes(&ext, exts.data(), exts.size())) {
    return {};
  }
  return Finish(cbb.get());
}

// HelloRetryRequest's fixed random (RFC 8446, 4.1.3).
const Bytes kHrrRandom = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                          0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                          0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

// Feeds a HelloRetryRequest for `group` to a Firefox-profile client. Returns SSL_do_handshake's
// result and leaves the client in `c`.
int HelloRetryRequestFor(SSL_CTX* ctx, uint16_t group, Client& c) {
  c = NewMemoryClient(ctx, false);
  int ret = SSL_do_handshake(c.ssl.get());
  EXPECT_EQ(SSL_ERROR_WANT_READ, SSL_get_error(c.ssl.get(), ret));
  std::optional<ClientHello> hello = ParseClientHello(Drain(c.wbio));
  EXPECT_TRUE(hello.has_value());
  Bytes exts = {0x00,          0x2b, 0x00, 0x02, 0x03,
                0x04,  // supported_versions: TLS 1.3
                0x00,          0x33, 0x00, 0x02, uint8_t(group >> 8),
                uint8_t(group)};
  Bytes rec = Record(2, ServerHelloBody(kHrrRandom, hello ? hello->session_id : Bytes(), 0x1301, exts));
  BIO_write(c.rbio, rec.data(), int(rec.size()));
  return SSL_do_handshake(c.ssl.get());
}

TEST(BsslPatches, HelloRetryRequestForFfdheFailsCleanly) {
  auto ctx = NewClientCtx();
  ConfigureFirefox(ctx.get());
  Client c;
  // Control: a HelloRetryRequest for P-521 (offered, no key share) makes a second ClientHello.
  int ret = HelloRetryRequestFor(ctx.get(), SSL_GROUP_SECP521R1, c);
  EXPECT_EQ(SSL_ERROR_WANT_READ, SSL_get_error(c.ssl.get(), ret)) << ErrorString();
  Bytes second = Drain(c.wbio);
  // The client may send a ChangeCipherSpec first (middlebox compatibility).
  if (second.size() >= 6 && second[0] == 20) second.erase(second.begin(), second.begin() + 6);
  std::optional<ClientHello> hello2 = ParseClientHello(second);
  ASSERT_TRUE(hello2.has_value());
  auto shares = KeyShares(hello2->Find(TLSEXT_TYPE_key_share));
  ASSERT_EQ(1u, shares.size());
  EXPECT_EQ(SSL_GROUP_SECP521R1, shares[0].first);

  for (uint16_t ffdhe : {SSL_GROUP_FFDHE2048, SSL_GROUP_FFDHE3072}) {
    ERR_clear_error();
    ret = HelloRetryRequestFor(ctx.get(), ffdhe, c);
    EXPECT_EQ(-1, ret);
    EXPECT_EQ(SSL_ERROR_SSL, SSL_get_error(c.ssl.get(), ret));
    EXPECT_EQ(SSL_R_WRONG_CURVE, ERR_GET_REASON(ERR_peek_error())) << ErrorString();
    // An illegal_parameter alert went out (after a compatibility ChangeCipherSpec).
    Bytes alert = Drain(c.wbio);
    if (alert.size() >= 6 && alert[0] == 20) alert.erase(alert.begin(), alert.begin() + 6);
    ASSERT_GE(alert.size(), 7u);
    EXPECT_EQ(21, alert[0]);
    EXPECT_EQ(47, alert[6]);
  }
  ERR_clear_error();
}

TEST(BsslPatches, ServerRecordSizeLimitIsParsed) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_record_size_limit(ctx.get(), 0x4001));
  const Bytes random(32, 0x42);
  const Bytes session_id(32, 0x17);
  for (uint16_t limit : {uint16_t(1000), uint16_t(63)}) {
    ERR_clear_error();
    Client c = NewMemoryClient(ctx.get(), false);
    SSL_do_handshake(c.ssl.get());
    Drain(c.wbio);
    // A TLS 1.2 ServerHello with renegotiation_info, extended_master_secret and record_size_limit.
    Bytes exts = {0xff,          0x01, 0x00, 0x01, 0x00, 0x00, 0x17,
                  0x00,          0x00, 0x00, 0x1c, 0x00, 0x02, uint8_t(limit >> 8),
                  uint8_t(limit)};
    Bytes rec = Record(2, ServerHelloBody(random, session_id, 0xc02f, exts));
    BIO_write(c.rbio, rec.data(), int(rec.size()));
    int ret = SSL_do_handshake(c.ssl.get());
    if (limit >= 64) {
      // Accepted: the client now waits for the Certificate.
      EXPECT_EQ(SSL_ERROR_WANT_READ, SSL_get_error(c.ssl.get(), ret)) << ErrorString();
    } else {
      EXPECT_EQ(SSL_ERROR_SSL, SSL_get_error(c.ssl.get(), ret));
      EXPECT_EQ(SSL_R_BAD_LENGTH, ERR_GET_REASON(ERR_peek_error())) << ErrorString();
    }
  }
  ERR_clear_error();
}

// --- Full handshakes ----------------------------------------------------------------------------

bssl::UniquePtr<EVP_PKEY> NewRsaKey() {
  bssl::UniquePtr<RSA> rsa(RSA_new());
  bssl::UniquePtr<BIGNUM> e(BN_new());
  if (!rsa || !e || !BN_set_word(e.get(), RSA_F4) ||
      !RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr)) {
    return nullptr;
  }
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!key || !EVP_PKEY_assign_RSA(key.get(), rsa.release())) return nullptr;
  return key;
}

bssl::UniquePtr<EVP_PKEY> NewEcKey() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return nullptr;
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!key || !EVP_PKEY_assign_EC_KEY(key.get(), ec.release())) return nullptr;
  return key;
}

bssl::UniquePtr<X509> SelfSigned(EVP_PKEY* key) {
  bssl::UniquePtr<X509> cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3) ||
      !ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400)) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  static const char kCn[] = "example.com";
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const uint8_t*>(kCn), -1, -1,
                                  0) ||
      !X509_set_issuer_name(cert.get(), name) || !X509_set_pubkey(cert.get(), key) ||
      !X509_sign(cert.get(), key, EVP_sha256())) {
    return nullptr;
  }
  return cert;
}

struct ServerKeys {
  bssl::UniquePtr<EVP_PKEY> rsa_key, ec_key;
  bssl::UniquePtr<X509> rsa_cert, ec_cert;
};

const ServerKeys& Keys() {
  static ServerKeys* keys = [] {
    auto* k = new ServerKeys;
    k->rsa_key = NewRsaKey();
    k->ec_key = NewEcKey();
    if (k->rsa_key) k->rsa_cert = SelfSigned(k->rsa_key.get());
    if (k->ec_key) k->ec_cert = SelfSigned(k->ec_key.get());
    return k;
  }();
  return *keys;
}

bssl::UniquePtr<SSL_CTX> NewServerCtx(bool ecdsa) {
  const ServerKeys& keys = Keys();
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  EXPECT_TRUE(ctx);
  EXPECT_TRUE(keys.rsa_cert && keys.ec_cert);
  EXPECT_TRUE(SSL_CTX_use_certificate(ctx.get(), ecdsa ? keys.ec_cert.get() : keys.rsa_cert.get()));
  EXPECT_TRUE(SSL_CTX_use_PrivateKey(ctx.get(), ecdsa ? keys.ec_key.get() : keys.rsa_key.get()));
  return ctx;
}

struct HandshakeResult {
  bool ok = false;
  bssl::UniquePtr<SSL> client, server;
  uint32_t client_error_reason = 0;
  std::string errors;
};

// Runs a full handshake over a BIO pair, then sends application data both ways.
HandshakeResult Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx, bool ech_grease = false) {
  HandshakeResult r;
  ERR_clear_error();
  r.client.reset(SSL_new(client_ctx));
  r.server.reset(SSL_new(server_ctx));
  BIO *cb, *sb;
  if (!r.client || !r.server || !BIO_new_bio_pair(&cb, 0, &sb, 0)) return r;
  SSL_set_bio(r.client.get(), cb, cb);
  SSL_set_bio(r.server.get(), sb, sb);
  SSL_set_connect_state(r.client.get());
  SSL_set_accept_state(r.server.get());
  SSL_set_tlsext_host_name(r.client.get(), "example.com");
  SSL_set_enable_ech_grease(r.client.get(), ech_grease ? 1 : 0);
  SSL_set_mode(r.client.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_set_mode(r.server.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
  bool client_done = false, server_done = false;
  for (int i = 0; i < 50 && !(client_done && server_done); i++) {
    if (!client_done) {
      int ret = SSL_do_handshake(r.client.get());
      if (ret == 1) {
        client_done = true;
      } else if (SSL_get_error(r.client.get(), ret) != SSL_ERROR_WANT_READ) {
        r.client_error_reason = ERR_GET_REASON(ERR_peek_error());
        r.errors = "client: " + ErrorString();
        return r;
      }
    }
    if (!server_done) {
      int ret = SSL_do_handshake(r.server.get());
      if (ret == 1) {
        server_done = true;
      } else if (SSL_get_error(r.server.get(), ret) != SSL_ERROR_WANT_READ) {
        r.errors = "server: " + ErrorString();
        return r;
      }
    }
  }
  if (!client_done || !server_done) {
    r.errors = "handshake did not finish";
    return r;
  }
  // Application data, both directions (a few records' worth, to exercise the record layer).
  std::string big(40000, 'x');
  for (size_t i = 0; i < big.size(); i++) big[i] = char('a' + i % 26);
  for (auto [from, to] :
       {std::pair{r.client.get(), r.server.get()}, std::pair{r.server.get(), r.client.get()}}) {
    size_t written = 0, got = 0;
    std::string received;
    for (int i = 0; i < 100 && got < big.size(); i++) {
      if (written < big.size()) {
        int n = SSL_write(from, big.data() + written, int(big.size() - written));
        if (n > 0) written += size_t(n);
      }
      char buf[16384];
      int n = SSL_read(to, buf, sizeof(buf));
      if (n > 0) {
        got += size_t(n);
        received.append(buf, size_t(n));
      }
    }
    if (received != big) {
      r.errors = "application data mismatch: " + ErrorString();
      return r;
    }
  }
  r.ok = true;
  return r;
}

// One context using every API of the series at once.
bssl::UniquePtr<SSL_CTX> AllApisClientCtx() {
  auto ctx = NewClientCtx();
  ConfigureFirefox(ctx.get());  // order, DC, record_size_limit, 3 key shares, ffdhe, TLS 1.3 order
  EXPECT_TRUE(SSL_CTX_set_strict_cipher_list(ctx.get(), kSafariCiphers));  // legacy suites
  EXPECT_TRUE(SSL_CTX_set_verify_algorithm_prefs(ctx.get(), kSafariSigalgs.data(), kSafariSigalgs.size()));
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  EXPECT_TRUE(SSL_CTX_set_grease_signature_algorithms(ctx.get(), 1));
  return ctx;
}

TEST(BsslPatches, FullHandshakeWithAllApis) {
  auto client_ctx = AllApisClientCtx();
  // The hello really carries everything.
  ClientHello hello = HelloFrom(client_ctx.get(), /*ech_grease=*/true);
  EXPECT_EQ(kFirefoxExtensionOrder, WithoutGrease(hello.ExtensionTypes()));
  Ids sigalgs = U16List(hello.Find(TLSEXT_TYPE_signature_algorithms));
  ASSERT_FALSE(sigalgs.empty());
  EXPECT_TRUE(IsGrease(sigalgs[0]));
  EXPECT_EQ(kSafariSigalgs, Ids(sigalgs.begin() + 1, sigalgs.end()));

  struct Case {
    const char* name;
    Ids server_groups;
    uint16_t expected_group;
    bool expect_hrr;
  };
  for (const Case& c :
       {Case{"pq", {SSL_GROUP_X25519_MLKEM768, SSL_GROUP_X25519}, 4588, false},
        Case{"x25519", {SSL_GROUP_X25519}, 29, false}, Case{"third share", {SSL_GROUP_SECP256R1}, 23, false},
        Case{"hrr", {SSL_GROUP_FFDHE2048, SSL_GROUP_SECP384R1}, 24, true}}) {
    SCOPED_TRACE(c.name);
    auto server_ctx = NewServerCtx(/*ecdsa=*/false);
    ASSERT_TRUE(SSL_CTX_set1_group_ids(server_ctx.get(), c.server_groups.data(), c.server_groups.size()));
    HandshakeResult r = Handshake(client_ctx.get(), server_ctx.get(), /*ech_grease=*/true);
    ASSERT_TRUE(r.ok) << r.errors;
    EXPECT_EQ(TLS1_3_VERSION, SSL_version(r.client.get()));
    EXPECT_EQ(c.expected_group, SSL_get_group_id(r.client.get()));
    EXPECT_EQ(c.expect_hrr ? 1 : 0, SSL_used_hello_retry_request(r.client.get()));
  }
}

TEST(BsslPatches, SafariLegacyListServerPicksModernSuite) {
  auto client_ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_strict_cipher_list(client_ctx.get(), kSafariCiphers));
  ASSERT_TRUE(SSL_CTX_set_tls13_cipher_order(client_ctx.get(), kSafariTls13Order.data(), 3));
  ASSERT_TRUE(
      SSL_CTX_set_verify_algorithm_prefs(client_ctx.get(), kSafariSigalgs.data(), kSafariSigalgs.size()));
  ASSERT_TRUE(SSL_CTX_set1_group_ids(client_ctx.get(), kSafariGroups.data(), kSafariGroups.size()));
  SSL_CTX_set_grease_enabled(client_ctx.get(), 1);

  // TLS 1.3 server.
  auto server13 = NewServerCtx(false);
  HandshakeResult r = Handshake(client_ctx.get(), server13.get());
  ASSERT_TRUE(r.ok) << r.errors;
  EXPECT_EQ(TLS1_3_VERSION, SSL_version(r.client.get()));

  // TLS 1.2 servers with their default suite preferences.
  for (bool ecdsa : {false, true}) {
    auto server12 = NewServerCtx(ecdsa);
    ASSERT_TRUE(SSL_CTX_set_max_proto_version(server12.get(), TLS1_2_VERSION));
    SSL_CTX_set_options(server12.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
    r = Handshake(client_ctx.get(), server12.get());
    ASSERT_TRUE(r.ok) << r.errors;
    EXPECT_EQ(TLS1_2_VERSION, SSL_version(r.client.get()));
    EXPECT_TRUE(SSL_CIPHER_is_aead(SSL_get_current_cipher(r.client.get())));
  }
}

TEST(BsslPatches, LegacySuitesNegotiateOrFailCleanly) {
  auto client_ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_strict_cipher_list(client_ctx.get(), kSafariCiphers));
  ASSERT_TRUE(
      SSL_CTX_set_verify_algorithm_prefs(client_ctx.get(), kSafariSigalgs.data(), kSafariSigalgs.size()));
  ASSERT_TRUE(SSL_CTX_set1_group_ids(client_ctx.get(), kSafariGroups.data(), kSafariGroups.size()));

  struct Case {
    const char* name;
    uint16_t id;
    bool ecdsa;
    bool negotiable;
  };
  for (const Case& c :
       {Case{"ECDHE-ECDSA-DES-CBC3-SHA", 0xc008, true, true},
        Case{"ECDHE-RSA-DES-CBC3-SHA", 0xc012, false, true}, Case{"DES-CBC3-SHA", 0x000a, false, true},
        Case{"ECDHE-ECDSA-AES128-SHA256", 0xc023, true, true},
        Case{"ECDHE-RSA-AES128-SHA256", 0xc027, false, true}, Case{"AES128-SHA256", 0x003c, false, true},
        Case{"AES256-SHA256", 0x003d, false, true}, Case{"ECDHE-ECDSA-AES256-SHA384", 0xc024, true, false},
        Case{"ECDHE-RSA-AES256-SHA384", 0xc028, false, false}}) {
    SCOPED_TRACE(c.name);
    auto server_ctx = NewServerCtx(c.ecdsa);
    ASSERT_TRUE(SSL_CTX_set_max_proto_version(server_ctx.get(), TLS1_2_VERSION));
    ASSERT_TRUE(SSL_CTX_set_strict_cipher_list(server_ctx.get(), c.name)) << ErrorString();
    HandshakeResult r = Handshake(client_ctx.get(), server_ctx.get());
    if (c.negotiable) {
      ASSERT_TRUE(r.ok) << r.errors;
      EXPECT_EQ(c.id, SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(r.client.get())));
    } else {
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(uint32_t(SSL_R_CIPHER_OR_HASH_UNAVAILABLE), r.client_error_reason) << r.errors;
      EXPECT_NE(std::string::npos, r.errors.find("advertised only")) << r.errors;
    }
    ERR_clear_error();
  }
}

// --- 0011: advertised-only ciphers, extensions, omissions and point formats -------------------

// cycletls's default JA3 cipher list: TLS 1.3 in Firefox's order, then DHE suites BoringSSL lacks.
const Ids kCycletlsCiphers = {0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030,
                              0xc00a, 0xc009, 0xc013, 0xc014, 0x0033, 0x0039, 0x002f, 0x0035, 0x000a};

TEST(BsslPatches, CipherWireListIsSentExactly) {
  auto ctx = NewClientCtx();
  const Ids wire = {0x1302, 0x1304, 0xc02f, 0x0033, 0x0039, 0x00ff, 0xc0ac, 0x1305};
  ASSERT_TRUE(SSL_CTX_set_client_cipher_wire_list(ctx.get(), wire.data(), wire.size()));
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  ClientHello hello = HelloFrom(ctx.get());
  ASSERT_FALSE(hello.ciphers.empty());
  EXPECT_TRUE(IsGrease(hello.ciphers[0]));
  EXPECT_EQ(wire, Ids(hello.ciphers.begin() + 1, hello.ciphers.end()));
  // The same list whatever the versions offered (uTLS writes TLS 1.3 ids in TLS 1.2 hellos too).
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION));
  SSL_CTX_set_grease_enabled(ctx.get(), 0);
  EXPECT_EQ(wire, HelloFrom(ctx.get()).ciphers);
  ASSERT_TRUE(SSL_CTX_set_client_cipher_wire_list(ctx.get(), nullptr, 0));
  const Ids stock = HelloFrom(ctx.get()).ciphers;
  EXPECT_EQ(0, std::count(stock.begin(), stock.end(), 0x0033));
}

TEST(BsslPatches, CipherWireListHandshakesPickARealSuite) {
  auto client_ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_client_cipher_wire_list(client_ctx.get(), kCycletlsCiphers.data(),
                                                  kCycletlsCiphers.size()));
  for (bool ecdsa : {false, true}) {
    for (uint16_t max : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      SCOPED_TRACE(std::to_string(ecdsa) + " " + std::to_string(max));
      auto server_ctx = NewServerCtx(ecdsa);
      ASSERT_TRUE(SSL_CTX_set_max_proto_version(server_ctx.get(), max));
      HandshakeResult r = Handshake(client_ctx.get(), server_ctx.get());
      ASSERT_TRUE(r.ok) << r.errors;
      EXPECT_EQ(max, SSL_version(r.client.get()));
      EXPECT_EQ(0, SSL_get_advertised_only_cipher(r.client.get()));
    }
  }
  // After a HelloRetryRequest the second hello carries the same list, and the suite is checked again.
  {
    const Ids groups = {SSL_GROUP_X25519, SSL_GROUP_SECP384R1};
    ASSERT_TRUE(SSL_CTX_set1_group_ids(client_ctx.get(), groups.data(), groups.size()));
    auto server_ctx = NewServerCtx(false);
    const Ids server_groups = {SSL_GROUP_SECP384R1};
    ASSERT_TRUE(SSL_CTX_set1_group_ids(server_ctx.get(), server_groups.data(), server_groups.size()));
    HandshakeResult r = Handshake(client_ctx.get(), server_ctx.get());
    ASSERT_TRUE(r.ok) << r.errors;
    EXPECT_EQ(1, SSL_used_hello_retry_request(r.client.get()));
  }
  // A subset of the TLS 1.3 suites: the server takes the one offered.
  const Ids subset = {0x1304, 0x1303, 0xc02f};
  ASSERT_TRUE(SSL_CTX_set_client_cipher_wire_list(client_ctx.get(), subset.data(), subset.size()));
  auto server_ctx = NewServerCtx(false);
  HandshakeResult r = Handshake(client_ctx.get(), server_ctx.get());
  ASSERT_TRUE(r.ok) << r.errors;
  EXPECT_EQ(0x1303, SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(r.client.get())));
}

// Writes `body` to the client as a ServerHello record and lets it process it.
int FeedServerHello(Client& c, const Bytes& body) {
  Bytes record = {22,
                  3,
                  3,
                  uint8_t((body.size() + 4) >> 8),
                  uint8_t((body.size() + 4) & 0xff),
                  2,
                  0,
                  uint8_t(body.size() >> 8),
                  uint8_t(body.size() & 0xff)};
  record.insert(record.end(), body.begin(), body.end());
  BIO_write(c.rbio, record.data(), int(record.size()));
  return SSL_do_handshake(c.ssl.get());
}

// A ServerHello choosing `cipher`, echoing `session_id`, with the given raw extensions block.
Bytes ServerHello(uint16_t cipher, const Bytes& session_id, const Bytes& extensions) {
  Bytes b = {3, 3};
  for (int i = 0; i < 32; i++) b.push_back(uint8_t(i + 1));
  b.push_back(uint8_t(session_id.size()));
  b.insert(b.end(), session_id.begin(), session_id.end());
  b.push_back(uint8_t(cipher >> 8));
  b.push_back(uint8_t(cipher & 0xff));
  b.push_back(0);
  b.push_back(uint8_t(extensions.size() >> 8));
  b.push_back(uint8_t(extensions.size() & 0xff));
  b.insert(b.end(), extensions.begin(), extensions.end());
  return b;
}

struct ServerChoiceOutcome {
  uint32_t reason = 0;
  uint16_t advertised_only_cipher = 0;
  int has_extension = 0;
  uint16_t extension = 0;
  std::string errors;
};

ServerChoiceOutcome ServerChooses(SSL_CTX* ctx, uint16_t cipher, bool tls13,
                                  const Bytes& extra_extensions = {}) {
  Client c = NewMemoryClient(ctx, false);
  EXPECT_EQ(-1, SSL_do_handshake(c.ssl.get()));
  std::optional<ClientHello> hello = ParseClientHello(Drain(c.wbio));
  EXPECT_TRUE(hello.has_value());
  Bytes exts = extra_extensions;
  if (tls13) {
    // supported_versions = TLS 1.3 and an x25519 key share.
    const Bytes v13 = {0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 29, 0, 32};
    exts.insert(exts.end(), v13.begin(), v13.end());
    exts.insert(exts.end(), 32, 9);
  }
  ServerChoiceOutcome out;
  EXPECT_EQ(-1, FeedServerHello(c, ServerHello(cipher, tls13 ? hello->session_id : Bytes{}, exts)));
  out.reason = ERR_GET_REASON(ERR_peek_error());
  out.advertised_only_cipher = SSL_get_advertised_only_cipher(c.ssl.get());
  out.has_extension = SSL_get_advertised_only_extension(c.ssl.get(), &out.extension);
  out.errors = ErrorString();
  return out;
}

TEST(BsslPatches, ServerChoosingAnAdvertisedOnlySuiteFails) {
  auto ctx = NewClientCtx();
  const Ids wire = {0x1302, 0x1304, 0xc02f, 0x0033};
  ASSERT_TRUE(SSL_CTX_set_client_cipher_wire_list(ctx.get(), wire.data(), wire.size()));
  ServerChoiceOutcome dhe = ServerChooses(ctx.get(), 0x0033, false);
  EXPECT_EQ(uint32_t(SSL_R_CIPHER_OR_HASH_UNAVAILABLE), dhe.reason) << dhe.errors;
  EXPECT_EQ(0x0033, dhe.advertised_only_cipher);
  EXPECT_NE(std::string::npos, dhe.errors.find("cipher suite 0x0033 is advertised only")) << dhe.errors;
  ServerChoiceOutcome ccm = ServerChooses(ctx.get(), 0x1304, true);
  EXPECT_EQ(uint32_t(SSL_R_CIPHER_OR_HASH_UNAVAILABLE), ccm.reason) << ccm.errors;
  EXPECT_EQ(0x1304, ccm.advertised_only_cipher);
  // A suite that was not offered at all (0x1301 here, outside the subset) stays a protocol error.
  ServerChoiceOutcome unlisted = ServerChooses(ctx.get(), 0x1301, true);
  EXPECT_EQ(uint32_t(SSL_R_WRONG_CIPHER_RETURNED), unlisted.reason) << unlisted.errors;
  EXPECT_EQ(0, unlisted.advertised_only_cipher);
  ServerChoiceOutcome unlisted12 = ServerChooses(ctx.get(), 0xc030, false);
  EXPECT_EQ(uint32_t(SSL_R_WRONG_CIPHER_RETURNED), unlisted12.reason) << unlisted12.errors;
}

TEST(BsslPatches, OpaqueExtensionsAreSentAtTheirPlaces) {
  auto ctx = NewClientCtx();
  const Ids order = {22, 0, 23, 65281, 10, 11, 35, 16, 49, 13, 43, 45, 51, 50, 17};
  ASSERT_TRUE(SSL_CTX_set_extension_order(ctx.get(), order.data(), order.size()));
  const Bytes sigalgs_cert = {0, 4, 4, 3, 8, 4};
  const Bytes unknown = {0xab};
  ASSERT_TRUE(SSL_CTX_add_client_opaque_extension(ctx.get(), 22, nullptr, 0));
  ASSERT_TRUE(SSL_CTX_add_client_opaque_extension(ctx.get(), 49, nullptr, 0));
  ASSERT_TRUE(SSL_CTX_add_client_opaque_extension(ctx.get(), 50, sigalgs_cert.data(), sigalgs_cert.size()));
  ASSERT_TRUE(SSL_CTX_add_client_opaque_extension(ctx.get(), 17, nullptr, 0));
  ASSERT_TRUE(SSL_CTX_add_client_opaque_extension(ctx.get(), 0x1234, unknown.data(), unknown.size()));
  // Implemented ones, padding, pre_shared_key and duplicates are refused.
  for (uint16_t refused : {10, 21, 41, 42, 22}) {
    EXPECT_FALSE(SSL_CTX_add_client_opaque_extension(ctx.get(), refused, nullptr, 0)) << refused;
  }
  ERR_clear_error();
  SSL_CTX_set_client_padding(ctx.get(), 0);
  SSL_CTX_set_grease_enabled(ctx.get(), 1);
  ClientHello hello = HelloFrom(ctx.get());
  // ALPN (16) is not configured: skipped; 0x1234 is not listed: after the others, before GREASE.
  EXPECT_EQ((Ids{22, 0, 23, 65281, 10, 11, 35, 49, 13, 43, 45, 51, 50, 17, 0x1234}),
            WithoutGrease(hello.ExtensionTypes()));
  EXPECT_TRUE(IsGrease(hello.extensions.front().type));
  EXPECT_TRUE(IsGrease(hello.extensions.back().type));
  EXPECT_EQ(Bytes{}, *hello.Find(22));
  EXPECT_EQ(sigalgs_cert, *hello.Find(50));
  EXPECT_EQ(unknown, *hello.Find(0x1234));

  // A BoringSSL server ignores them; both versions complete.
  for (uint16_t max : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto server_ctx = NewServerCtx(false);
    ASSERT_TRUE(SSL_CTX_set_max_proto_version(server_ctx.get(), max));
    HandshakeResult r = Handshake(ctx.get(), server_ctx.get());
    ASSERT_TRUE(r.ok) << r.errors;
  }
}

TEST(BsslPatches, ServerAnsweringAnOpaqueExtensionFails) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_add_client_opaque_extension(ctx.get(), 22, nullptr, 0));
  ServerChoiceOutcome etm = ServerChooses(ctx.get(), 0xc02f, false, Bytes{0, 22, 0, 0});
  EXPECT_EQ(uint32_t(SSL_R_UNEXPECTED_EXTENSION), etm.reason) << etm.errors;
  EXPECT_EQ(1, etm.has_extension);
  EXPECT_EQ(22, etm.extension);
  // An extension never sent is refused as before, and not reported as advertised.
  ServerChoiceOutcome other = ServerChooses(ctx.get(), 0xc02f, false, Bytes{0x12, 0x34, 0, 0});
  EXPECT_EQ(uint32_t(SSL_R_UNEXPECTED_EXTENSION), other.reason) << other.errors;
  EXPECT_EQ(0, other.has_extension);
}

TEST(BsslPatches, OmittedExtensionsAreLeftOut) {
  auto ctx = NewClientCtx();
  const Ids omitted = {10, 11, 13, 23, 65281};
  ASSERT_TRUE(SSL_CTX_set_client_omitted_extensions(ctx.get(), omitted.data(), omitted.size()));
  const Ids bad = {51};
  EXPECT_FALSE(SSL_CTX_set_client_omitted_extensions(ctx.get(), bad.data(), bad.size()));
  ERR_clear_error();
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION));
  EXPECT_EQ((Ids{0, 35}), HelloFrom(ctx.get()).ExtensionTypes());
  // The renegotiation SCSV makes the server answer with renegotiation_info: still accepted. (A
  // BoringSSL server offers no ECDHE without supported_groups: keep that one here.)
  const Ids omitted_but_groups = {11, 13, 23, 65281};
  ASSERT_TRUE(
      SSL_CTX_set_client_omitted_extensions(ctx.get(), omitted_but_groups.data(), omitted_but_groups.size()));
  const Ids wire = {0xc02f, 0x00ff};
  ASSERT_TRUE(SSL_CTX_set_client_cipher_wire_list(ctx.get(), wire.data(), wire.size()));
  auto server_ctx = NewServerCtx(false);
  HandshakeResult r = Handshake(ctx.get(), server_ctx.get());
  ASSERT_TRUE(r.ok) << r.errors;
  EXPECT_EQ(0xc02f, SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(r.client.get())));
  EXPECT_EQ(1, SSL_get_secure_renegotiation_support(r.client.get()));  // the server's RI was taken
}

// NSS's QUIC hello offers TLS 1.3 only and still carries extended_master_secret (23, empty) and
// renegotiation_info (65281, an empty renegotiated_connection); BoringSSL leaves both out unless told.
TEST(BsslPatches, Tls12ExtensionsInTls13OnlyHello) {
  auto ctx = NewClientCtx();
  ASSERT_TRUE(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION));
  ClientHello stock = HelloFrom(ctx.get());
  EXPECT_EQ(nullptr, stock.Find(23));
  EXPECT_EQ(nullptr, stock.Find(65281));
  ASSERT_TRUE(SSL_CTX_set_tls12_extensions_in_tls13_hello(ctx.get(), 1));
  ClientHello hello = HelloFrom(ctx.get());
  ASSERT_NE(nullptr, hello.Find(23));
  EXPECT_EQ(Bytes{}, *hello.Find(23));
  ASSERT_NE(nullptr, hello.Find(65281));
  EXPECT_EQ(Bytes{0x00}, *hello.Find(65281));
  // A TLS 1.3 server ignores both: the handshake completes.
  auto server_ctx = NewServerCtx(false);
  HandshakeResult r = Handshake(ctx.get(), server_ctx.get());
  ASSERT_TRUE(r.ok) << r.errors;
  EXPECT_EQ(TLS1_3_VERSION, SSL_version(r.client.get()));
}

TEST(BsslPatches, PointFormatsAsGiven) {
  auto ctx = NewClientCtx();
  const Bytes formats = {0, 1, 2};
  ASSERT_TRUE(SSL_CTX_set_client_ec_point_formats(ctx.get(), formats.data(), formats.size()));
  EXPECT_EQ((Bytes{3, 0, 1, 2}), *HelloFrom(ctx.get()).Find(TLSEXT_TYPE_ec_point_formats));
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION));
  auto server_ctx = NewServerCtx(true);
  HandshakeResult r = Handshake(ctx.get(), server_ctx.get());
  ASSERT_TRUE(r.ok) << r.errors;
  ASSERT_TRUE(SSL_CTX_set_client_ec_point_formats(ctx.get(), nullptr, 0));
  EXPECT_EQ((Bytes{1, 0}), *HelloFrom(ctx.get()).Find(TLSEXT_TYPE_ec_point_formats));
}

// The outer encrypted_client_hello's fields: {kdf, aead, enc length, payload length}.
std::vector<size_t> EchFields(const ClientHello& hello) {
  const Bytes* ech = hello.Find(TLSEXT_TYPE_encrypted_client_hello);
  if (!ech || ech->size() < 10 || (*ech)[0] != 0) return {};
  const size_t enc = size_t((*ech)[6]) << 8 | (*ech)[7];
  if (ech->size() < 10 + enc) return {};
  const size_t payload = size_t((*ech)[8 + enc]) << 8 | (*ech)[9 + enc];
  return {size_t((*ech)[1]) << 8 | (*ech)[2], size_t((*ech)[3]) << 8 | (*ech)[4], enc, payload};
}

// NSS's inner-hello length for Firefox ESR 153's hello without the name and PSK (what the engine
// computes from the profile): 35 + 34 (16 suites) + 2 + 2 + 5 + 7 + 25 (10 outer extensions).
constexpr uint16_t kFirefoxNssFixed = 110;

TEST(BsslPatches, EchGreaseNssSizing) {
  auto ctx = NewClientCtx();
  ConfigureFirefox(ctx.get());
  EXPECT_FALSE(SSL_CTX_set_ech_grease_nss_sizing(ctx.get(), kFirefoxNssFixed, 100, 0, 0));
  EXPECT_FALSE(SSL_CTX_set_ech_grease_nss_sizing(ctx.get(), kFirefoxNssFixed, 100, 32, 32));
  ASSERT_TRUE(SSL_CTX_set_ech_grease_nss_sizing(ctx.get(), kFirefoxNssFixed, 100, 32, 31));
  std::set<size_t> aeads;
  for (int i = 0; i < 16; i++) {
    // "example.com" (11): 110 + 9 + 11 + 89 = 219, rounded to 223, plus the tag: Firefox's 239.
    const std::vector<size_t> ech = EchFields(HelloFrom(ctx.get(), /*ech_grease=*/true));
    ASSERT_EQ(4u, ech.size());
    EXPECT_EQ(EVP_HPKE_HKDF_SHA256, ech[0]);
    EXPECT_EQ(32u, ech[2]);
    EXPECT_EQ(239u, ech[3]);
    aeads.insert(ech[1]);
  }
  EXPECT_EQ((std::set<size_t>{EVP_HPKE_AES_128_GCM, EVP_HPKE_CHACHA20_POLY1305}), aeads);
  // Zero restores BoringSSL's own sizes.
  ASSERT_TRUE(SSL_CTX_set_ech_grease_nss_sizing(ctx.get(), 0, 0, 1, 0));
  const size_t stock = EchFields(HelloFrom(ctx.get(), true))[3];
  EXPECT_TRUE(stock == 144 || stock == 176 || stock == 208 || stock == 240) << stock;
}

bssl::UniquePtr<SSL_SESSION>& LastTicket() {
  static bssl::UniquePtr<SSL_SESSION> session;
  return session;
}

int KeepTicket(SSL*, SSL_SESSION* session) {
  LastTicket().reset(session);
  return 1;
}

// A TLS 1.3 session from a full handshake of a client of ctx (which gets a new-session callback).
bssl::UniquePtr<SSL_SESSION> Tls13Session(SSL_CTX* ctx) {
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, KeepTicket);
  LastTicket().reset();
  auto server_ctx = NewServerCtx(false);
  HandshakeResult r = Handshake(ctx, server_ctx.get());
  EXPECT_TRUE(r.ok) << r.errors;
  return std::move(LastTicket());
}

// The ClientHello of a client of ctx that offers `session`.
ClientHello ResumingHelloFrom(SSL_CTX* ctx, SSL_SESSION* session, bool ech_grease) {
  Client c = NewMemoryClient(ctx, ech_grease);
  EXPECT_TRUE(SSL_set_session(c.ssl.get(), session));
  const int ret = SSL_do_handshake(c.ssl.get());
  EXPECT_EQ(SSL_ERROR_WANT_READ, SSL_get_error(c.ssl.get(), ret)) << ErrorString();
  std::optional<ClientHello> hello = ParseClientHello(Drain(c.wbio));
  EXPECT_TRUE(hello.has_value());
  return hello.value_or(ClientHello{});
}

TEST(BsslPatches, ResumingTls13WithoutSessionTicket) {
  auto ctx = NewClientCtx();
  ConfigureFirefox(ctx.get());
  ASSERT_TRUE(SSL_CTX_set_ech_grease_nss_sizing(ctx.get(), kFirefoxNssFixed, 100, 32, 31));
  bssl::UniquePtr<SSL_SESSION> session = Tls13Session(ctx.get());
  ASSERT_TRUE(session);
  ASSERT_EQ(TLS1_3_VERSION, SSL_SESSION_get_protocol_version(session.get()));
  // Stock: session_ticket stays beside pre_shared_key (Chrome's resumed hello).
  ClientHello stock = ResumingHelloFrom(ctx.get(), session.get(), true);
  Ids stock_types = stock.ExtensionTypes();
  ASSERT_FALSE(stock_types.empty());
  EXPECT_EQ(TLSEXT_TYPE_pre_shared_key, stock_types.back());
  EXPECT_NE(nullptr, stock.Find(TLSEXT_TYPE_session_ticket));
  // With the option: no session_ticket, pre_shared_key still last (Firefox's resumed hello).
  ASSERT_TRUE(SSL_CTX_set_omit_session_ticket_on_tls13_resumption(ctx.get(), 1));
  ClientHello nss = ResumingHelloFrom(ctx.get(), session.get(), true);
  Ids want = kFirefoxExtensionOrder;
  want.erase(std::find(want.begin(), want.end(), TLSEXT_TYPE_session_ticket));
  want.push_back(TLSEXT_TYPE_pre_shared_key);
  EXPECT_EQ(want, nss.ExtensionTypes());
  // The GREASE ECH payload grows by the pre_shared_key extension, then is rounded as on a fresh hello.
  const size_t psk = 4 + nss.Find(TLSEXT_TYPE_pre_shared_key)->size();
  size_t inner = 219 + psk;
  inner += (31 + 32 - inner % 32) % 32;
  EXPECT_EQ(inner + 16, EchFields(nss)[3]);
  // A fresh hello of the same context keeps session_ticket.
  EXPECT_NE(nullptr, HelloFrom(ctx.get()).Find(TLSEXT_TYPE_session_ticket));
}

}  // namespace

#endif  // CTN_BORINGSSL_PATCHES
