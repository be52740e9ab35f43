// One error vocabulary from C++ to TypeScript: a stable code, the stage it happened in, and a
// human message. The codes' spellings are part of the public contract (types/index.d.ts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ctn {

enum class ErrorCode {
  kInvalidOption,
  kUnsupportedFingerprint,
  kDns,
  kConnectRefused,
  kConnectTimeout,
  kConnect,
  kConnectionClosed,
  kTlsHandshake,
  kTlsCert,
  kProxy,
  kTimeout,
  kBodyTruncated,
  kProtocol,
  kAborted,
  kClientClosed,
  kNotImplemented,
  // Sharing one engine per port across processes (native/share).
  kHostGone,     // the process hosting the engine went away; retryable
  kPortInUse,    // the port is held by something that is not our engine, or another user's
  kShareSecret,  // the socket directory is unsafe, or the socket is another user's
  // Upstream pool and lifecycle (native/pool).
  kQueueFull,  // more requests waiting for a connection or a client slot than max_queued
  // A response read whole (not streamed) passed RequestSpec::max_response_bytes; the connection is
  // not reused (HTTP/1.1: closed; HTTP/2: the stream is reset).
  kBodyTooLarge,
  // The server rejected a real Encrypted ClientHello again after the one retry Chrome allows (with
  // its retry configs, or without ECH when it sent none): RFC 9849 §6.1.6.
  kEchRejected,
  kInternal,  // stays last: it sizes the per-code tables (kErrorCodeCount)
};

// Number of codes, for tables indexed by ErrorCode (EngineStats::errors).
inline constexpr size_t kErrorCodeCount = static_cast<size_t>(ErrorCode::kInternal) + 1;

// kProxy: TLS to an https:// proxy and the tunnel's handshake (CONNECT, SOCKS), between the TCP
// connect to the proxy and the target's TLS handshake.
enum class Stage { kQueue, kDns, kConnect, kProxy, kTls, kWrite, kHeaders, kBody, kEngine, kLink };

std::string_view error_code_name(ErrorCode code) noexcept;  // "ERR_DNS", ...
std::string_view stage_name(Stage stage) noexcept;          // "dns", ...
// The inverses, for errors that cross the process link by name; false for unknown names.
bool error_code_from_name(std::string_view name, ErrorCode* out) noexcept;
bool stage_from_name(std::string_view name, Stage* out) noexcept;

// The message of ERR_BODY_TOO_LARGE, the same from the engine and from the process link.
std::string body_too_large_message(uint64_t max_response_bytes);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  Stage stage = Stage::kEngine;
  std::string message;
};

}  // namespace ctn
