#include "core/connection_fingerprint.h"

#include "tls/hello_capture.h"

namespace ctn {

namespace {

// response.fingerprint.ech: 'real' when the server accepted the Encrypted ClientHello we sent
// (BoringSSL's SSL_ech_accepted); 'grease' when the hello carried encrypted_client_hello otherwise
// (the preset's GREASE ECH). A connection whose real ECH the server rejected never carries a
// response: the dialler reconnects once (retry configs: 'real' if then accepted; secure disable:
// GREASE) or fails with ERR_ECH_REJECTED. 'none' without the extension.
fingerprint::EchSent ech_sent(const SSL* ssl, const fingerprint::TlsFingerprint& hello) {
  if (SSL_ech_accepted(ssl)) return fingerprint::EchSent::kReal;
  return hello.offers_ech ? fingerprint::EchSent::kGrease : fingerprint::EchSent::kNone;
}

}  // namespace

std::shared_ptr<fingerprint::ConnectionFingerprint> fingerprint_connection(const SSL* ssl,
                                                                           fingerprint::Transport transport) {
  if (!ssl) return nullptr;
  const std::string_view hello = captured_client_hello(ssl);
  auto out = std::make_shared<fingerprint::ConnectionFingerprint>();
  if (hello.empty() || !fingerprint::tls_fingerprint(hello, transport, &out->tls)) return nullptr;
  out->quic = transport == fingerprint::Transport::kQuic;
  out->ech = ech_sent(ssl, out->tls);
  out->resumed = SSL_session_reused(ssl) != 0;
  return out;
}

std::shared_ptr<const fingerprint::ConnectionFingerprint> with_http2(
    const fingerprint::ConnectionFingerprint& tls_part, const fingerprint::H2FirstFlight& flight) {
  auto out = std::make_shared<fingerprint::ConnectionFingerprint>(tls_part);
  out->akamai = fingerprint::akamai(flight);
  return out;
}

}  // namespace ctn
