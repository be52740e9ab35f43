#include "share/failover.h"

namespace ctn::share {

namespace {

bool idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
         method == "DELETE";
}

}  // namespace

bool may_run_again(const RequestSpec& spec) {
  return spec.retry_on_host_gone && idempotent(spec.method) && !spec.body_stream && !spec.upgrade;
}

Failover::Failover(HubContext& hub) : hub_(hub), deadline_timer_(hub.io) {}

void Failover::wait(RequestSpec&& spec) {
  waiting_.push_back(Waiting{std::move(spec), Clock::now() + ms(hub_.options.handover_timeout_ms)});
  hub_.counters.pending = waiting_.size();
  arm_deadline();
}

std::vector<RequestSpec> Failover::take_all() {
  std::vector<RequestSpec> all;
  all.reserve(waiting_.size());
  for (auto& w : waiting_) all.push_back(std::move(w.spec));
  waiting_.clear();
  hub_.counters.pending = 0;
  return all;
}

bool Failover::hold_upload(uint64_t id, std::string&& piece, bool end) {
  for (const auto& w : waiting_) {
    if (w.spec.id != id) continue;
    EarlyUpload& early = early_uploads_[id];
    if (early.ended) return true;
    if (!piece.empty()) early.pieces.push_back(std::move(piece));
    early.ended = end;
    return true;
  }
  return false;
}

bool Failover::cancel(uint64_t id) {
  for (auto w = waiting_.begin(); w != waiting_.end(); ++w) {
    if (w->spec.id != id) continue;
    early_uploads_.erase(id);
    hub_.sink.deliver(error_event(id, ErrorCode::kAborted, Stage::kQueue, "the request was aborted"));
    waiting_.erase(w);
    hub_.counters.pending = waiting_.size();
    return true;
  }
  return false;
}

void Failover::forget(uint64_t id) {
  early_uploads_.erase(id);
  for (auto w = waiting_.begin(); w != waiting_.end(); ++w) {
    if (w->spec.id != id) continue;
    waiting_.erase(w);
    hub_.counters.pending = waiting_.size();
    return;
  }
}

void Failover::fail_all(ErrorCode code, const std::string& why) {
  for (auto& w : waiting_) {
    early_uploads_.erase(w.spec.id);
    if (code == ErrorCode::kHostGone) ++hub_.counters.host_gone;
    hub_.sink.deliver(error_event(w.spec.id, code, Stage::kLink, why));
  }
  waiting_.clear();
  hub_.counters.pending = 0;
}

void Failover::arm_deadline() {
  if (waiting_.empty()) return;
  deadline_timer_.expires_at(waiting_.front().deadline);
  deadline_timer_.async_wait([this](const asio::error_code& ec) { on_deadline(ec); });
}

void Failover::on_deadline(const asio::error_code& ec) {
  if (ec) return;
  const auto now = Clock::now();
  while (!waiting_.empty() && waiting_.front().deadline <= now) {
    ++hub_.counters.host_gone;
    early_uploads_.erase(waiting_.front().spec.id);
    hub_.sink.deliver(error_event(waiting_.front().spec.id, ErrorCode::kHostGone, Stage::kLink,
                                  "no engine host became available on port " +
                                      std::to_string(hub_.options.port) + " within " +
                                      std::to_string(hub_.options.handover_timeout_ms) + " ms"));
    waiting_.pop_front();
  }
  hub_.counters.pending = waiting_.size();
  arm_deadline();
}

}  // namespace ctn::share
