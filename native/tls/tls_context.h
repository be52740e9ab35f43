// TLS client contexts shaped by a Profile, plus the per-connection settings (SNI, hostname check,
// ALPS, ECH GREASE) that BoringSSL takes on the SSL object.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <openssl/ssl.h>
#include <asio/ssl/context.hpp>

#include "common/error.h"
#include "profiles/profile.h"

namespace ctn {

struct TlsOptions {
  bool verify = true;       // verify the chain against the system CA bundle and the host name
  bool http1_only = false;  // offer only http/1.1 in ALPN (and so no ALPS: Chrome's WebSocket hello)
  // The hello a browser sends when it reconnects with http/1.1 only because an HTTP/2 server could
  // not carry a WebSocket (no RFC 8441): http1_only plus what the profile's
  // TlsProfile::http1_retry_drops_cert_compression says (Firefox drops compress_certificate).
  bool http1_retry = false;
};

// Caches one context per (profile, options): building one parses the whole CA bundle.
// Used only from the engine's io thread.
class TlsContextCache {
 public:
  std::shared_ptr<asio::ssl::context> get(const Profile& profile, const TlsOptions& options, Error* error);

 private:
  std::map<std::tuple<std::string, bool, bool, bool>, std::shared_ptr<asio::ssl::context>> contexts_;
};

// Client TLS sessions kept for resumption, one slot per connection identity (the pool key's text):
// a later connection of the same identity offers the session (a PSK in TLS 1.3, a ticket in TLS
// 1.2), as a browser does for a second connection to a site. Never shared across identities, so
// SNI, verification mode and profile always match the session's. Only contexts of profiles with
// session_tickets store sessions. io thread only.
class TlsSessionCache {
 public:
  // What a connection attaches to its SSL object; must outlive the SSL object's I/O.
  struct Slot {
    TlsSessionCache* cache = nullptr;
    std::string key;
  };

  explicit TlsSessionCache(size_t max_keys = 1024) : max_keys_(max_keys) {}
  TlsSessionCache(const TlsSessionCache&) = delete;
  TlsSessionCache& operator=(const TlsSessionCache&) = delete;

  // Before the handshake: offers a session stored under slot->key (single-use ones are taken out),
  // and stores the sessions the server issues on this connection under it.
  void attach(SSL* ssl, Slot* slot);
  // Keeps `session` (the cache takes the reference) as the newest of `key`'s, making `key` the most
  // recently used; beyond max_keys, or beyond kSessionsPerKeyOnAverage * max_keys sessions in all,
  // the least recently used keys go.
  void store(const std::string& key, SSL_SESSION* session);
  size_t size() const { return entries_.size(); }
  size_t total_sessions() const { return total_sessions_; }
  // How many sessions `key` holds.
  size_t sessions(const std::string& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? 0 : it->second.sessions.size();
  }
  void clear() {
    entries_.clear();
    recency_.clear();
    total_sessions_ = 0;
  }

  // An identity keeps up to kSessionsPerKey sessions: connections opened side by side (a burst to
  // a server that closes after each response) each need one of their own, since a TLS 1.3 ticket
  // serves one connection (servers issue two per handshake). The memory bound stays the same as
  // kSessionsPerKeyOnAverage per key.
  static constexpr size_t kSessionsPerKey = 16;
  static constexpr size_t kSessionsPerKeyOnAverage = 4;

  // For TlsContextCache: makes a context hand new client sessions to the cache of their Slot.
  static void enable(SSL_CTX* ctx);

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);

  struct Entry {
    std::vector<bssl::UniquePtr<SSL_SESSION>> sessions;  // newest last
    std::list<std::string>::iterator recency;            // its place in recency_
  };
  void touch(Entry& entry) { recency_.splice(recency_.end(), recency_, entry.recency); }
  void erase(std::map<std::string, Entry>::iterator it) {
    total_sessions_ -= it->second.sessions.size();
    recency_.erase(it->second.recency);
    entries_.erase(it);
  }
  size_t max_keys_;
  size_t total_sessions_ = 0;
  std::map<std::string, Entry> entries_;
  // The keys, least recently used first: eviction takes the front in O(1) (a connection to a new
  // host, every time once the cache is full, must not scan every key).
  std::list<std::string> recency_;
};

// What a connection's ClientHello did about Encrypted ClientHello (RFC 9849): nothing (the profile's
// browser sends no ECH), GREASE (a random payload), or a real ECH that the server accepted (a real
// offer that the server rejects never completes: see Dialler's retry).
enum class EchStatus { kNone, kGrease, kReal };
std::string_view ech_status_name(EchStatus status);  // "none", "grease", "real"

// Whether `t` sends a real ECH when it has an ECHConfigList. Chrome does (BoringSSL's ECH client is
// Chrome's). Firefox's NSS does too, but NSS encodes the inner hello differently from BoringSSL
// (its ech_outer_extensions list, the full cipher list inside, padding to 31 mod 32): a BoringSSL
// offer would not look like Firefox's, so NSS-shaped profiles keep their NSS-sized GREASE.
bool sends_real_ech(const TlsProfile& t);

// The raw ECHConfigList of a base64 text (RequestSpec::ech_config_list); false when it is not base64.
bool decode_ech_config_list(std::string_view base64, std::string* out);

// Applies per-connection settings before the handshake. `server_name` goes into SNI unless it is
// an IP literal; `verify_name` is what the certificate must match. With a non-empty
// `ech_config_list` (raw bytes) and a profile that sends_real_ech, the hello is a real Encrypted
// ClientHello: the profile's hello inside, the config's public_name in the outer SNI; a list the
// stack cannot parse fails (ERR_INVALID_OPTION; Chrome: ERR_INVALID_ECH_CONFIG_LIST), a list
// whose configs it cannot use falls back to GREASE (BoringSSL, so Chrome).
bool prepare_connection(SSL* ssl, const Profile& profile, const TlsOptions& options,
                        const std::string& server_name, Error* error, std::string_view ech_config_list = {});

// After a handshake: what its ClientHello did about ECH.
EchStatus ech_status_of(SSL* ssl, const TlsProfile& t);

// After a failed handshake: whether the server rejected a real ECH offer (SSL_R_ECH_REJECTED, its
// certificate verified against the config's public_name), and if so its retry configs ("" = none:
// the server turned ECH off).
bool ech_rejected(SSL* ssl, uint32_t packed_error, std::string* retry_configs);

// QUIC (RFC 9001): the ClientHello inside the Initial, shaped by `t` (a Profile's quic_tls). The
// first shapes a QUIC connection's own SSL_CTX after ngtcp2 configured it (refusing with
// ERR_UNSUPPORTED_FINGERPRINT what cannot be sent, or a hello that offers below TLS 1.3); the second
// adds what BoringSSL takes per SSL object (ALPS, trust_anchors, ECH GREASE, and a real ECH offer
// for `ech_config_list` as prepare_connection makes one), after SSL_new. The QUIC connection sets
// ALPN, SNI and the name check itself.
bool shape_quic_context(SSL_CTX* ctx, const TlsProfile& t, Error* error);
bool prepare_quic_connection(SSL* ssl, const TlsProfile& t, Error* error,
                             std::string_view ech_config_list = {});

// After a failed handshake: ERR_TLS_CERT with the verifier's reason, or ERR_TLS_HANDSHAKE.
// `packed_error` is the BoringSSL error code Asio reported (0 when the failure was not TLS's).
Error classify_handshake_failure(SSL* ssl, uint32_t packed_error, const std::string& fallback_message);

// The ALPN protocol the server chose, or "".
std::string negotiated_alpn(const SSL* ssl);
std::string negotiated_version(const SSL* ssl);
std::string negotiated_cipher(const SSL* ssl);

// Whether this build carries our BoringSSL patch series (explicit extension order, delegated
// credentials, record_size_limit, key share count, ffdhe, TLS 1.3 order, sigalg GREASE, ...).
bool tls_stack_patched();

// Whether this TLS stack can put `t` on the wire exactly; if not, `why` names the first element
// that it cannot (never approximated). Thread-safe, cheap: usable before any connection.
bool check_tls_profile(const TlsProfile& t, std::string* why);

// Whether the offered ALPN list of a profile may contain h2 (the HTTP/2 layer is present).
bool http2_available();

// Path of the CA bundle in use ("" when none was found).
const std::string& ca_bundle_path();

}  // namespace ctn
