#include "share/election.h"

#include <algorithm>

namespace ctn::share {

Election::Election(HubContext& hub, Listener& listener)
    : hub_(hub), listener_(listener), backoff_timer_(hub.io) {}

void Election::locate(const std::string& dir) {
  socket_dir_ = dir.empty() ? default_socket_dir() : dir;
  socket_path_ = share::socket_path(socket_dir_, hub_.options.port);
  lock_path_ = socket_dir_ + "/" + std::to_string(hub_.options.port) + ".lock";
}

void Election::begin() {
  if (running_ || halted_) return;
  running_ = true;
  ++hub_.counters.elections;
  deadline_ = Clock::now() + ms(hub_.options.handover_timeout_ms);
  attempts_ = 0;
  silent_closes_ = 0;
  attempt();
}

void Election::attempt() {
  if (halted_) return;
  // Checked on every election, not once: a directory opened to others meanwhile is refused.
  std::string why;
  if (!ensure_socket_dir(socket_dir_, &why)) return fail(ErrorCode::kShareSecret, why);
  LocalAcceptor acceptor(hub_.io);
  BindResult bound = bind_or_find_host(acceptor, socket_path_, lock_path_);
  switch (bound.outcome) {
    case BindResult::Outcome::kBound:
      running_ = false;
      return listener_.elected(std::move(acceptor), bound.inode);
    case BindResult::Outcome::kLive:
      return listener_.host_found();
    case BindResult::Outcome::kRefused:
      return fail(ErrorCode::kShareSecret, bound.why);
  }
}

void Election::retry(const std::string& why) {
  const auto backoff = ms(std::min<uint64_t>(100, uint64_t{5} << std::min(attempts_, 5)));
  ++attempts_;
  if (Clock::now() + backoff > deadline_) {
    fail(ErrorCode::kHostGone, "no engine host became available on port " +
                                   std::to_string(hub_.options.port) + " within " +
                                   std::to_string(hub_.options.handover_timeout_ms) + " ms (" + why + ")");
    return;
  }
  backoff_timer_.expires_after(backoff);
  backoff_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec && running_) attempt();
  });
}

void Election::fail(ErrorCode code, const std::string& why) {
  running_ = false;
  listener_.election_failed(code, why);
}

void Election::stop(bool for_good) {
  running_ = false;
  halted_ = halted_ || for_good;
  backoff_timer_.cancel();
}

}  // namespace ctn::share
