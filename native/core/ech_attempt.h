// Encrypted ClientHello across the handshakes of one connection, TCP's (the dialler) and QUIC's (the
// HTTP/3 channel) alike: which ECHConfigList the first handshake offers, the one retry after a
// rejection, and the errors either reports, so both transports behave and fail the same way.
#pragma once

#include <string>

#include "common/error.h"

namespace ctn {

class EchAttempt {
 public:
  // The first handshake's list: the request's echConfigList (base64) wins over DNS's HTTPS record
  // (raw). Chosen once: a retry keeps what retry() set. False (ERR_INVALID_OPTION) when the
  // request's text is not base64.
  bool choose(const std::string& option_base64, const std::string& from_dns, Error* error);

  // Chrome's SSLConnectJob (and QUIC session attempt), on ERR_ECH_NOT_NEGOTIATED (BoringSSL's
  // SSL_R_ECH_REJECTED, raised only once the outer handshake's certificate verified against the
  // config's public_name): the retry configs make one new connection offer them; none means the
  // server turned ECH off ("secure disable", RFC 9849 §6.1.6), and the new connection goes without
  // ECH (the profile's GREASE). True when that retry is to be made; false with ERR_ECH_REJECTED in
  // *error when it was spent already (a second rejection is the request's failure).
  bool retry(std::string retry_configs, Error* error);

  // A handshake that failed before anything was sent because the list cannot be parsed: the
  // caller's echConfigList is misuse (ERR_INVALID_OPTION stays); DNS's list or the server's retry
  // configs are the server's fault, as any other handshake failure (ERR_TLS_HANDSHAKE).
  void blame(Error* error) const;

  // The list the current handshake offers (raw; "" = GREASE as the profile has it).
  const std::string& config_list() const { return config_list_; }
  bool offered() const { return !config_list_.empty(); }
  bool retry_left() const { return offered() && !retried_; }

 private:
  std::string config_list_;
  bool chosen_ = false;
  bool retried_ = false;
  bool from_option_ = false;
};

}  // namespace ctn
