// One error vocabulary from C++ to TypeScript: a stable code, the stage it happened in, and a
// human message. The codes' spellings are part of the public contract (types/index.d.ts).
#pragma once

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
  kInternal,
};

enum class Stage { kQueue, kDns, kConnect, kTls, kWrite, kHeaders, kBody, kEngine };

std::string_view error_code_name(ErrorCode code) noexcept;  // "ERR_DNS", ...
std::string_view stage_name(Stage stage) noexcept;           // "dns", ...

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  Stage stage = Stage::kEngine;
  std::string message;
};

}  // namespace ctn
