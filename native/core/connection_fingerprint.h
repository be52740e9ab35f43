// response.fingerprint: what one connection sent, computed once (native/fingerprint) from the
// ClientHello BoringSSL wrote (tls/hello_capture) and, over HTTP/2, the frames our session sent.
#pragma once

#include <openssl/ssl.h>

#include <memory>

#include "fingerprint/fingerprint.h"

namespace ctn {

// The TLS part (ja3, ja3n, ja4, ja4r; quic_ja4 for QUIC; ech; resumed), or null when no hello was
// captured (plain HTTP). Call after the handshake. Not shared yet: the caller may add the HTTP/2 part.
std::shared_ptr<fingerprint::ConnectionFingerprint> fingerprint_connection(const SSL* ssl,
                                                                           fingerprint::Transport transport);

// `tls_part` with the Akamai string of a complete HTTP/2 first flight added.
std::shared_ptr<const fingerprint::ConnectionFingerprint> with_http2(
    const fingerprint::ConnectionFingerprint& tls_part, const fingerprint::H2FirstFlight& flight);

}  // namespace ctn
