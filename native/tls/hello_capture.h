// The ClientHello handshake message exactly as BoringSSL wrote it (after GREASE, permutation,
// padding and the PSK binders; over TCP and in QUIC's CRYPTO frames alike), kept on the SSL for
// the connection's fingerprint (native/fingerprint). With a real Encrypted ClientHello this is the
// outer hello: what an observer on the path sees, and what the fingerprint describes.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

namespace ctn {

// Starts watching `ssl`'s outgoing handshake messages; the first ClientHello is kept (a second one,
// after a HelloRetryRequest, is not: the first is what identifies the client) and the watch then
// ends, so no later record pays for it.
void capture_client_hello(SSL* ssl);

// The captured ClientHello (empty when none was captured); valid as long as `ssl`. Kept rather
// than moved out so that a const SSL (what a QUIC connection lends) is enough: a few hundred bytes
// per connection, freed with it.
std::string_view captured_client_hello(const SSL* ssl);

}  // namespace ctn
