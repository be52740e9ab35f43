// The deadlines of exchanges: timeout_ms over the whole exchange, and one per phase as the exchange
// moves through its stages (connect: DNS, TCP and the proxy's handshake together; TLS; headers;
// body idle, which every body byte moves on). A paused exchange's headers and body deadlines wait
// a whole period again: the caller holds the response back, not the server. The timers are the
// exchange's own; a deadline that passes is reported to the listener, which fails the exchange.
#pragma once

#include <memory>

#include "core/exchange.h"

namespace ctn {

class DeadlineListener {
 public:
  // `ex` passed a deadline: ERR_CONNECT_TIMEOUT (connecting) or ERR_TIMEOUT, with its stage.
  virtual void deadline_passed(const std::shared_ptr<Exchange>& ex, Error error) = 0;

 protected:
  ~DeadlineListener() = default;
};

class Deadlines {
 public:
  explicit Deadlines(DeadlineListener& listener) : listener_(listener) {}

  // Starts RequestSpec::timeout_ms (when set) from now.
  void start_total(const std::shared_ptr<Exchange>& ex);
  // `ex` moves to `stage`; the deadline of the phase it enters starts (or goes on).
  void enter_stage(const std::shared_ptr<Exchange>& ex, Stage stage);
  // No phase deadline runs (the exchange waits in the queue).
  static void clear_phase(Exchange& ex);
  // No deadline at all runs any more (settled, or an upgrade's handshake is over).
  static void cancel(Exchange& ex);

 private:
  void on_total_deadline(const std::shared_ptr<Exchange>& ex);
  void arm_phase(const std::shared_ptr<Exchange>& ex, Phase phase, uint64_t ms);
  void on_phase_deadline(const std::shared_ptr<Exchange>& ex, Phase phase);

  DeadlineListener& listener_;
};

}  // namespace ctn
