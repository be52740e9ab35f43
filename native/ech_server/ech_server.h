// The echo's ECH endpoint: TLS over TCP holding ECH keys (BoringSSL's server side), so tests can see
// what a client's real Encrypted ClientHello carried. Each connection: one handshake (recording the
// ClientHello on the wire and, when ECH was decrypted, the inner one), one HTTP/1.1 request head,
// an answer in JSON of what the server saw, close. Bounded: connections at once, the head's size,
// one deadline per connection. One io thread (the caller's); used only by the echo.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <asio.hpp>

namespace ctn::ech_server {

// What the server does with the ECHConfigList it gives clients (ech_config_list()):
//   kAccept  - it holds that config's key: a real offer is accepted;
//   kRetry   - it holds another key only: it rejects the offer with that key's config as its retry
//              configs, and accepts the client's retry;
//   kDisable - it holds no ECH key: it rejects without retry configs (a client goes on without ECH);
//   kRotate  - it holds a new key for every connection: it rejects every offer, each time with that
//              connection's key as its retry configs, which the client's retry finds stale already.
enum class Mode { kAccept, kRetry, kDisable, kRotate };

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string cert_pem;  // certificate chain, valid for the inner names and public_name
  std::string key_pem;
  Mode mode = Mode::kAccept;
  std::string public_name = "ech-public.test";
  size_t max_connections = 64;
  uint64_t connection_deadline_ms = 10000;
};

// What the server reports of a ClientHello handshake message (header included): its SNI host name
// ("" when none) and whether it carries encrypted_client_hello (a real offer or GREASE: the server
// cannot tell them apart unless it decrypts). False for bytes that are no ClientHello. Hostile
// bytes: fuzzed (test/fuzz/ech_hello_fuzz.cc).
struct HelloFacts {
  std::string server_name;
  bool ech = false;
};
bool hello_facts(std::string_view client_hello, HelloFacts* out);

// The echo's answer, in JSON, for a request (`method`, `path`) on a connection whose ClientHello
// arrived as `outer_hello` (a handshake message; the outer one under ECH) and, when the server
// decrypted it, `inner_hello`; `accepted`: the server accepted ECH; `server_name`: the SNI the
// handshake went by (the inner one when accepted). One shape over TCP and over QUIC:
//   {"method","path","ech":{"offered","accepted"},"outerSni","innerSni","outerHello","innerHello"}
std::string answer_json(std::string_view method, std::string_view path, std::string_view outer_hello,
                        std::string_view inner_hello, bool accepted, std::string_view server_name);

// One ECH key of a server: the SSL_ECH_KEYS holding it as a retry config, and the ECHConfigList
// (raw) a client offers for it. X25519 / HKDF-SHA256, as BoringSSL's configs are.
struct EchKey {
  bssl::UniquePtr<SSL_ECH_KEYS> keys;
  std::string config_list;
};
bool make_ech_key(uint8_t config_id, const std::string& public_name, EchKey* out);

class Server {
 public:
  // Listens at once; nullptr with `error` set when the keys, certificate or socket fail.
  static std::shared_ptr<Server> start(asio::io_context& io, const Options& options, std::string* error);
  virtual ~Server() = default;

  virtual uint16_t port() const = 0;
  // The ECHConfigList (raw) a client should offer for this server.
  virtual const std::string& ech_config_list() const = 0;
  // The keys the next connection is served with (null in kDisable): the same every time, a new key
  // each call in kRotate. For another endpoint that must hold the same (the echo's HTTP/3 side); io
  // thread; valid until the next call.
  virtual SSL_ECH_KEYS* next_connection_keys() = 0;
  // Stops accepting and closes every connection (io thread).
  virtual void close() = 0;
};

}  // namespace ctn::ech_server
