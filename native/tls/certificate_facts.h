// What a certificate that failed verification says about itself, for the error message: the
// validity bound it is outside of, or the names it is valid for. Callers and tools that match on
// the texts other clients print (Go's "current time … is after <notAfter>", "certificate is valid
// for <names>, not <host>") need these facts; BoringSSL's verifier reason alone does not carry them.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace ctn {

// " (not after 2021-01-01T00:00:00Z)", " (not before …)" or " (certificate names: DNS:a, IP:1.2.3.4)"
// for the verifier's `verify_result` about the peer's leaf certificate; "" when the result is of
// another kind or the certificate is not at hand. Call after a failed handshake, before SSL_free.
std::string certificate_facts(const SSL* ssl, long verify_result);

}  // namespace ctn
