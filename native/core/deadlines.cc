#include "core/deadlines.h"

#include <chrono>
#include <string>

namespace ctn {

namespace {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kConnect:
      return "connect";
    case Phase::kTls:
      return "TLS handshake";
    case Phase::kHeaders:
      return "headers";
    case Phase::kBody:
      return "body idle";
    case Phase::kNone:
      break;
  }
  return "phase";
}

}  // namespace

void Deadlines::start_total(const std::shared_ptr<Exchange>& ex) {
  const uint64_t ms = ex->spec.timeout_ms;
  if (ms == 0) return;
  ex->deadline.expires_after(std::chrono::milliseconds(ms));
  ex->deadline.async_wait([this, weak = std::weak_ptr<Exchange>(ex)](const asio::error_code& ec) {
    auto ex = weak.lock();
    if (ec || !ex || ex->done) return;
    on_total_deadline(ex);
  });
}

void Deadlines::clear_phase(Exchange& ex) {
  ex.phase = Phase::kNone;
  ex.phase_timer.cancel();
}

void Deadlines::cancel(Exchange& ex) {
  ex.deadline.cancel();
  clear_phase(ex);
}

void Deadlines::on_total_deadline(const std::shared_ptr<Exchange>& ex) {
  const bool connecting = ex->stage == Stage::kDns || ex->stage == Stage::kConnect;
  const ErrorCode code = connecting ? ErrorCode::kConnectTimeout : ErrorCode::kTimeout;
  listener_.deadline_passed(ex, Error{code, ex->stage,
                                      "timed out after " + std::to_string(ex->spec.timeout_ms) + " ms (" +
                                          std::string(stage_name(ex->stage)) + ")"});
}

void Deadlines::enter_stage(const std::shared_ptr<Exchange>& ex, Stage stage) {
  ex->stage = stage;
  const RequestSpec& s = ex->spec;
  switch (stage) {
    case Stage::kDns:
    case Stage::kConnect:
    case Stage::kProxy:
      // One deadline for the lookups, the TCP connect and the proxy's handshake together.
      if (ex->phase != Phase::kConnect) arm_phase(ex, Phase::kConnect, s.connect_timeout_ms);
      break;
    case Stage::kTls:
      if (ex->phase != Phase::kTls) arm_phase(ex, Phase::kTls, s.tls_timeout_ms);
      break;
    case Stage::kHeaders:
      if (ex->phase != Phase::kHeaders) arm_phase(ex, Phase::kHeaders, s.headers_timeout_ms);
      break;
    case Stage::kBody:
      ex->last_body_at = SteadyClock::now();
      if (ex->phase != Phase::kBody) arm_phase(ex, Phase::kBody, s.body_idle_timeout_ms);
      break;
    default:
      // Queued or writing the request: no phase deadline (timeout_ms still runs).
      if (ex->phase != Phase::kNone) clear_phase(*ex);
      break;
  }
}

void Deadlines::arm_phase(const std::shared_ptr<Exchange>& ex, Phase phase, uint64_t ms) {
  ex->phase = phase;
  ex->phase_timer.cancel();
  if (ms == 0) return;
  ex->phase_timer.expires_after(std::chrono::milliseconds(ms));
  ex->phase_timer.async_wait([this, weak = std::weak_ptr<Exchange>(ex), phase](const asio::error_code& ec) {
    auto ex = weak.lock();
    if (ec || !ex || ex->done || ex->phase != phase) return;
    on_phase_deadline(ex, phase);
  });
}

void Deadlines::on_phase_deadline(const std::shared_ptr<Exchange>& ex, Phase phase) {
  const RequestSpec& s = ex->spec;
  uint64_t ms = 0;
  switch (phase) {
    case Phase::kConnect:
      ms = s.connect_timeout_ms;
      break;
    case Phase::kTls:
      ms = s.tls_timeout_ms;
      break;
    case Phase::kHeaders:
      ms = s.headers_timeout_ms;
      break;
    case Phase::kBody:
      ms = s.body_idle_timeout_ms;
      break;
    case Phase::kNone:
      return;
  }
  const auto limit = std::chrono::milliseconds(ms);
  if (ex->paused && (phase == Phase::kHeaders || phase == Phase::kBody)) {
    // The caller holds the response back, not the server: wait a whole period again.
    arm_phase(ex, phase, ms);
    return;
  }
  if (phase == Phase::kBody) {
    // Body bytes move the deadline without touching the timer: look how long it has really been.
    const auto quiet = SteadyClock::now() - ex->last_body_at;
    if (quiet < limit) {
      ex->phase_timer.expires_after(limit - quiet);
      ex->phase_timer.async_wait([this, weak = std::weak_ptr<Exchange>(ex)](const asio::error_code& ec) {
        auto ex = weak.lock();
        if (ec || !ex || ex->done || ex->phase != Phase::kBody) return;
        on_phase_deadline(ex, Phase::kBody);
      });
      return;
    }
  }
  const ErrorCode code = phase == Phase::kConnect ? ErrorCode::kConnectTimeout : ErrorCode::kTimeout;
  listener_.deadline_passed(
      ex, Error{code, ex->stage,
                std::string(phase_name(phase)) + " timeout of " + std::to_string(ms) + " ms exceeded"});
}

}  // namespace ctn
