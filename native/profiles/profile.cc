#include "profiles/profile.h"

#include <openssl/ssl.h>

namespace ctn {

namespace {

Profile make_chrome() {
  Profile p;
  p.id = "chrome";
  auto& t = p.tls;
  // Chrome's TLS 1.2 suites in wire order (TLS 1.3 suites come first, ordered by BoringSSL).
  t.cipher_list =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
      "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:"
      "AES256-SHA";
  t.groups = {SSL_GROUP_X25519_MLKEM768, SSL_GROUP_X25519, SSL_GROUP_SECP256R1, SSL_GROUP_SECP384R1};
  t.verify_sigalgs = {SSL_SIGN_ECDSA_SECP256R1_SHA256, SSL_SIGN_RSA_PSS_RSAE_SHA256,
                      SSL_SIGN_RSA_PKCS1_SHA256,       SSL_SIGN_ECDSA_SECP384R1_SHA384,
                      SSL_SIGN_RSA_PSS_RSAE_SHA384,    SSL_SIGN_RSA_PKCS1_SHA384,
                      SSL_SIGN_RSA_PSS_RSAE_SHA512,    SSL_SIGN_RSA_PKCS1_SHA512};
  t.alpn = {"h2", "http/1.1"};
  t.cert_compression = {TLSEXT_cert_compression_brotli};
  return p;
}

const Profile kChrome = make_chrome();

}  // namespace

const Profile& default_profile() { return kChrome; }

const Profile* find_profile(const std::string& id) {
  if (id.empty() || id == kChrome.id) return &kChrome;
  return nullptr;
}

}  // namespace ctn
