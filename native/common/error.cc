#include "common/error.h"

namespace ctn {

std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidOption:
      return "ERR_INVALID_OPTION";
    case ErrorCode::kUnsupportedFingerprint:
      return "ERR_UNSUPPORTED_FINGERPRINT";
    case ErrorCode::kDns:
      return "ERR_DNS";
    case ErrorCode::kConnectRefused:
      return "ERR_CONNECT_REFUSED";
    case ErrorCode::kConnectTimeout:
      return "ERR_CONNECT_TIMEOUT";
    case ErrorCode::kConnect:
      return "ERR_CONNECT";
    case ErrorCode::kConnectionClosed:
      return "ERR_CONNECTION_CLOSED";
    case ErrorCode::kTlsHandshake:
      return "ERR_TLS_HANDSHAKE";
    case ErrorCode::kTlsCert:
      return "ERR_TLS_CERT";
    case ErrorCode::kProxy:
      return "ERR_PROXY";
    case ErrorCode::kTimeout:
      return "ERR_TIMEOUT";
    case ErrorCode::kBodyTruncated:
      return "ERR_BODY_TRUNCATED";
    case ErrorCode::kProtocol:
      return "ERR_PROTOCOL";
    case ErrorCode::kAborted:
      return "ERR_ABORTED";
    case ErrorCode::kClientClosed:
      return "ERR_CLIENT_CLOSED";
    case ErrorCode::kNotImplemented:
      return "ERR_NOT_IMPLEMENTED";
    case ErrorCode::kHostGone:
      return "ERR_HOST_GONE";
    case ErrorCode::kPortInUse:
      return "ERR_PORT_IN_USE";
    case ErrorCode::kShareSecret:
      return "ERR_SHARE_SECRET";
    case ErrorCode::kQueueFull:
      return "ERR_QUEUE_FULL";
    case ErrorCode::kBodyTooLarge:
      return "ERR_BODY_TOO_LARGE";
    case ErrorCode::kEchRejected:
      return "ERR_ECH_REJECTED";
    case ErrorCode::kInternal:
      return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

std::string body_too_large_message(uint64_t max_response_bytes) {
  return "the response body exceeds maxResponseBytes (" + std::to_string(max_response_bytes) + " bytes)";
}

std::string_view stage_name(Stage stage) noexcept {
  switch (stage) {
    case Stage::kQueue:
      return "queue";
    case Stage::kDns:
      return "dns";
    case Stage::kConnect:
      return "connect";
    case Stage::kProxy:
      return "proxy";
    case Stage::kTls:
      return "tls";
    case Stage::kWrite:
      return "write";
    case Stage::kHeaders:
      return "headers";
    case Stage::kBody:
      return "body";
    case Stage::kEngine:
      return "engine";
    case Stage::kLink:
      return "link";
  }
  return "engine";
}

bool error_code_from_name(std::string_view name, ErrorCode* out) noexcept {
  // kInternal is last: every code before it is reachable by counting.
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (error_code_name(code) == name) {
      *out = code;
      return true;
    }
  }
  return false;
}

bool stage_from_name(std::string_view name, Stage* out) noexcept {
  for (int i = 0; i <= static_cast<int>(Stage::kLink); ++i) {
    const auto stage = static_cast<Stage>(i);
    if (stage_name(stage) == name) {
      *out = stage;
      return true;
    }
  }
  return false;
}

}  // namespace ctn
