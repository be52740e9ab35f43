#include "core/admission.h"

#include "core/deadlines.h"

namespace ctn {

Admission::Client& Admission::client(uint64_t id) {
  auto [it, inserted] = clients_.try_emplace(id);
  if (inserted) it->second.limits.max_in_flight = options_.max_in_flight_per_client;
  return it->second;
}

bool Admission::has_room(uint64_t client_id) {
  const Client& c = client(client_id);
  return c.limits.max_in_flight == 0 || c.in_flight < c.limits.max_in_flight;
}

void Admission::admit(Exchange& ex) {
  if (ex.admitted) return;
  ex.admitted = true;
  client(ex.spec.client_id).in_flight++;
}

std::optional<std::string> Admission::queue_full(uint64_t client_id) {
  const size_t client_max = client(client_id).limits.max_queued;
  if (client_max && queue_.size(client_id) >= client_max) {
    return "this client's max_queued (" + std::to_string(client_max) + ")";
  }
  if (options_.max_queued && queue_.size() >= options_.max_queued) {
    return "max_queued (" + std::to_string(options_.max_queued) + ")";
  }
  return std::nullopt;
}

void Admission::enqueue(const std::shared_ptr<Exchange>& ex, bool front) {
  ex->stage = Stage::kQueue;
  Deadlines::clear_phase(*ex);
  const uint64_t cid = ex->spec.client_id;
  ex->queued = front ? queue_.push_front(cid, ex) : queue_.push_back(cid, ex);
  queued_gauge_++;
}

bool Admission::release(Exchange& ex) {
  if (ex.queued) {
    queue_.erase(*ex.queued);
    ex.queued.reset();
    queued_gauge_--;
  }
  const uint64_t cid = ex.spec.client_id;
  bool freed = false;
  if (ex.admitted) {
    ex.admitted = false;
    client(cid).in_flight--;
    freed = true;
  }
  forget_if_unused(cid);
  return freed;
}

void Admission::set_limits(uint64_t client_id, ClientLimits limits) {
  Client& c = client(client_id);
  c.limits = limits;
  c.own_limits = true;
}

void Admission::drop_limits(uint64_t client_id) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return;
  it->second.own_limits = false;
  forget_if_unused(client_id);
}

void Admission::forget_if_unused(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  const Client& c = it->second;
  if (c.in_flight == 0 && !c.own_limits && queue_.size(id) == 0) clients_.erase(it);
}

}  // namespace ctn
