#include "core/ech_attempt.h"

#include <utility>

#include "tls/tls_context.h"

namespace ctn {

bool EchAttempt::choose(const std::string& option_base64, const std::string& from_dns, Error* error) {
  if (chosen_) return true;
  chosen_ = true;
  if (option_base64.empty()) {
    config_list_ = from_dns;
    return true;
  }
  from_option_ = true;
  if (!decode_ech_config_list(option_base64, &config_list_)) {
    *error = Error{ErrorCode::kInvalidOption, Stage::kTls, "echConfigList is not base64"};
    return false;
  }
  return true;
}

bool EchAttempt::retry(std::string retry_configs, Error* error) {
  if (retried_) {
    *error = Error{ErrorCode::kEchRejected, Stage::kTls,
                   "the server rejected the Encrypted ClientHello again after its retry configs"};
    return false;
  }
  retried_ = true;
  from_option_ = false;
  config_list_ = std::move(retry_configs);
  return true;
}

void EchAttempt::blame(Error* error) const {
  if (error->code == ErrorCode::kInvalidOption && !from_option_) error->code = ErrorCode::kTlsHandshake;
}

}  // namespace ctn
