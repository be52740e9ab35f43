#include "core/quic_options.h"

#include <map>
#include <memory>
#include <mutex>

#include <openssl/err.h>

#include "quic/hello_fingerprint.h"
#include "tls/tls_context.h"

namespace ctn {

namespace {

// The transport shape of each browser whose QUIC is established (docs/quic-gap.md). Edge is
// Chromium: Chrome's shape, as its QUIC hello is Chrome's.
const quic::TransportShape* transport_of(const Profile& profile) {
  // Never destroyed (nor the cache below): process.exit() runs the static destructors while the
  // engine's threads still connect.
  static const quic::TransportShape& chrome = *new quic::TransportShape(quic::chrome_156_transport());
  static const quic::TransportShape& firefox = *new quic::TransportShape(quic::firefox_153_transport());
  if (profile.id.rfind("chrome_", 0) == 0 || profile.id.rfind("edge_", 0) == 0) return &chrome;
  if (profile.id.rfind("firefox_", 0) == 0) return &firefox;
  return nullptr;
}

// A profile's quicFingerprint parsed once per distinct text: every request checks it and every
// connection is built from it. Shared by the engines of this process (hence the lock); bounded.
struct ParsedQuicFingerprint {
  std::shared_ptr<const quic::QuicFingerprint> fingerprint;  // null when refused
  Error refusal;
};

ParsedQuicFingerprint parse_quic_fingerprint(const std::string& text) {
  static constexpr size_t kMaxParsed = 64;
  static std::mutex mutex;
  static std::map<std::string, ParsedQuicFingerprint>& parsed =
      *new std::map<std::string, ParsedQuicFingerprint>;
  std::lock_guard lock(mutex);
  if (auto it = parsed.find(text); it != parsed.end()) return it->second;
  ParsedQuicFingerprint result;
  auto fingerprint = std::make_shared<quic::QuicFingerprint>();
  if (quic::quic_fingerprint_from_hello(text, fingerprint.get(), &result.refusal))
    result.fingerprint = std::move(fingerprint);
  if (parsed.size() >= kMaxParsed) parsed.clear();  // bounds memory, not correctness
  return parsed.emplace(text, result).first->second;
}

// The transport of a connection sending `fingerprint`'s hello: its transport parameters in their
// order (never shuffled) and SCID length; what a ClientHello does not carry (DCID length, first
// packet number, datagram size, padding, the first flight's layout) is the base preset's browser's
// when it has one, else the fingerprint's defaults (ngtcp2's).
quic::TransportShape transport_with(const quic::QuicFingerprint& fingerprint, const Profile& profile) {
  const quic::TransportShape* browser = transport_of(profile);
  if (!browser) return fingerprint.transport;
  quic::TransportShape shape = *browser;
  shape.parameters = fingerprint.transport.parameters;
  shape.scid_length = fingerprint.transport.scid_length;
  shape.shuffle = false;
  return shape;
}

}  // namespace

bool profile_supports_http3(const Profile& profile, Error* error) {
  if (!profile.quic_fingerprint.empty()) {
    ParsedQuicFingerprint parsed = parse_quic_fingerprint(profile.quic_fingerprint);
    if (!parsed.fingerprint) *error = parsed.refusal;
    return parsed.fingerprint != nullptr;
  }
  if (profile.quic_tls && transport_of(profile)) return true;
  *error = Error{ErrorCode::kUnsupportedFingerprint, Stage::kQueue,
                 "the profile '" + profile.id +
                     "' has no established QUIC fingerprint: HTTP/3 is refused rather than guessed"};
  return false;
}

quic::Options quic_options_from_profile(const Profile& profile, const PoolKey& key,
                                        const asio::ip::udp::endpoint& server, const EchAttempt& ech) {
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
  std::shared_ptr<const TlsProfile> hello;
  if (!profile.quic_fingerprint.empty()) {
    // Checked by profile_supports_http3 before any exchange got here.
    if (auto fingerprint = parse_quic_fingerprint(profile.quic_fingerprint).fingerprint) {
      o.transport = transport_with(*fingerprint, profile);
      hello = std::shared_ptr<const TlsProfile>(fingerprint, &fingerprint->tls);
    }
  } else if (profile.quic_tls) {
    hello = std::make_shared<TlsProfile>(*profile.quic_tls);
  }
  if (hello) {
    o.shape_client_hello = [hello](SSL_CTX* ctx, Error* error) {
      return shape_quic_context(ctx, *hello, error);
    };
    // ECH as over TCP: the list is offered when the hello's browser sends real ECH (Chrome).
    o.shape_client_hello_ssl = [hello, ech](SSL* ssl, Error* error) {
      if (prepare_quic_connection(ssl, *hello, error, ech.config_list())) return true;
      ech.blame(error);
      return false;
    };
  }
  if (ech.offered()) {
    // The failure's reason is the last error BoringSSL queued on this thread (ngtcp2 leaves it there).
    o.ech_rejected = [](SSL* ssl, std::string* retry_configs) {
      return ech_rejected(ssl, ERR_peek_last_error(), retry_configs);
    };
  }
  return o;
}

}  // namespace ctn
