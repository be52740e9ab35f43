#include "tls/certificate_facts.h"

#include <arpa/inet.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>
#include <memory>

namespace ctn {

namespace {

// RFC 3339 in UTC to the second: how Go (and most tools) print certificate validity bounds.
std::string rfc3339(const ASN1_TIME* time) {
  int64_t posix = 0;
  if (time == nullptr || !ASN1_TIME_to_posix(time, &posix)) return "";
  const std::time_t t = static_cast<std::time_t>(posix);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return "";
  char text[32];
  return std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc) ? text : "";
}

// The subjectAltName DNS names and IP addresses, "DNS:a, IP:1.2.3.4", in certificate order.
std::string subject_alt_names(X509* leaf) {
  struct Free {
    void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
  };
  std::unique_ptr<GENERAL_NAMES, Free> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  std::string out;
  for (size_t i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    std::string entry;
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      entry = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                   static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_STRING* ip = name->d.iPAddress;
      const int length = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      const int family = length == 4 ? AF_INET : AF_INET6;
      if ((length != 4 && length != 16) ||
          inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) == nullptr) {
        continue;
      }
      entry = std::string("IP:") + text;
    } else {
      continue;
    }
    out += (out.empty() ? "" : ", ") + entry;
  }
  return out;
}

}  // namespace

std::string certificate_facts(const SSL* ssl, long verify_result) {
  // The peer's certificates live in the handshake's session until the SSL is freed; outside a
  // handshake (SSL_in_init false) there is no such session to ask.
  if (!SSL_in_init(ssl)) return "";
  bssl::UniquePtr<X509> leaf(SSL_get_peer_certificate(ssl));
  if (!leaf) return "";
  switch (verify_result) {
    case X509_V_ERR_CERT_HAS_EXPIRED: {
      // Only when the leaf is the certificate out of its period (not an intermediate).
      const std::string bound = rfc3339(X509_get0_notAfter(leaf.get()));
      const bool leaf_expired = X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0;
      return leaf_expired && !bound.empty() ? " (not after " + bound + ")" : "";
    }
    case X509_V_ERR_CERT_NOT_YET_VALID: {
      const std::string bound = rfc3339(X509_get0_notBefore(leaf.get()));
      const bool leaf_early = X509_cmp_current_time(X509_get0_notBefore(leaf.get())) > 0;
      return leaf_early && !bound.empty() ? " (not before " + bound + ")" : "";
    }
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
      const std::string names = subject_alt_names(leaf.get());
      return " (certificate names: " + (names.empty() ? std::string("none") : names) + ")";
    }
    default:
      return "";
  }
}

}  // namespace ctn
