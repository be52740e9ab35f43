// What the engine is asked to do, and what it reports back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/http_types.h"
#include "profiles/profile.h"

namespace ctn {

// One HTTP exchange, already validated and normalised by the TypeScript layer.
struct RequestSpec {
  uint64_t id = 0;              // unique per engine, chosen by the caller
  std::string method;           // upper-case token, e.g. "GET"
  bool tls = true;              // https vs http
  std::string host;             // URL host without brackets (IPv6 literal allowed)
  uint16_t port = 443;
  std::string target;           // origin-form: "/path?query"
  HeaderList headers;           // exact order and casing; Host/Content-Length added when absent
  std::string body;
  std::string server_name;      // SNI override; empty = host (IP literals send no SNI)
  bool insecure_skip_verify = false;
  bool force_http1 = false;
  std::string profile;          // preset id; empty = the default preset
  // A profile composed from fingerprint strings (JA3, JA4_r, Akamai); wins over `profile`.
  std::shared_ptr<const Profile> custom_profile;
  uint64_t timeout_ms = 0;      // whole exchange: dns, connect, tls, headers and body; 0 = none
  // The caller wants the body only whole (not streamed): deliver it as one event at the end, so
  // nobody has to concatenate pieces.
  bool whole_body = false;
  // Decode a gzip/deflate/br/zstd Content-Encoding; 0 caps the decoded size at nothing.
  bool decompress = false;
  uint64_t max_decoded_bytes = 0;
};

// Facts about the connection a response came over (for tests, stats and the demo).
struct ConnectionInfo {
  uint64_t connection_id = 0;
  bool reused = false;
  std::string alpn;         // "http/1.1", "h2" or "" (none negotiated)
  std::string tls_version;  // "TLSv1.3", ... ; empty for plain HTTP
  std::string cipher;       // IANA-style name
};

struct Event {
  enum class Kind { kHead, kBody, kEnd, kError };
  Kind kind = Kind::kEnd;
  uint64_t id = 0;
  ResponseHead head;          // kHead
  ConnectionInfo connection;  // kHead
  std::string body;           // kBody
  Error error;                // kError
};

// Receives engine events on the io thread; must not block.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void deliver(Event&& event) = 0;
};

}  // namespace ctn
