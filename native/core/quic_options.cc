#include "core/quic_options.h"

#include <memory>

#include "tls/tls_context.h"

namespace ctn {

namespace {

// The transport shape of each browser whose QUIC is established (docs/quic-gap.md). Edge is
// Chromium: Chrome's shape, as its QUIC hello is Chrome's.
const quic::TransportShape* transport_of(const Profile& profile) {
  static const quic::TransportShape chrome = quic::chrome_156_transport();
  static const quic::TransportShape firefox = quic::firefox_153_transport();
  if (profile.id.rfind("chrome_", 0) == 0 || profile.id.rfind("edge_", 0) == 0) return &chrome;
  if (profile.id.rfind("firefox_", 0) == 0) return &firefox;
  return nullptr;
}

}  // namespace

bool profile_supports_http3(const Profile& profile, Error* error) {
  if (profile.quic_tls && transport_of(profile)) return true;
  *error = Error{ErrorCode::kUnsupportedFingerprint, Stage::kQueue,
                 "the profile '" + profile.id +
                     "' has no established QUIC fingerprint: HTTP/3 is refused rather than guessed"};
  return false;
}

quic::Options quic_options_from_profile(const Profile& profile, const PoolKey& key,
                                        const asio::ip::udp::endpoint& server) {
  quic::Options o;
  o.server = server;
  o.server_name = key.server_name;
  o.verify = key.verify;
  o.ca_file = key.verify ? ca_bundle_path() : std::string();
  // The exchange's own deadlines (tls_timeout_ms, timeout_ms) bound the handshake; this one only
  // keeps a connection nobody waits on any more from lingering.
  o.handshake_timeout_ms = 30'000;
  o.read_timeout_ms = 0;
  if (const quic::TransportShape* shape = transport_of(profile)) o.transport = *shape;
  o.http3 = profile.http3;  // SETTINGS, GREASE, PRIORITY_UPDATE, QPACK and pseudo-header order
  if (profile.quic_tls) {
    auto hello = std::make_shared<TlsProfile>(*profile.quic_tls);
    o.shape_client_hello = [hello](SSL_CTX* ctx, Error* error) {
      return shape_quic_context(ctx, *hello, error);
    };
    o.shape_client_hello_ssl = [hello](SSL* ssl, Error* error) {
      return prepare_quic_connection(ssl, *hello, error);
    };
  }
  return o;
}

}  // namespace ctn
