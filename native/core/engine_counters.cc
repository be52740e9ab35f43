#include "core/engine_counters.h"

namespace ctn {

void EngineCounters::adjust(OriginCounters* origin, int64_t open, int64_t idle, int64_t connecting,
                            int64_t streams) {
  // Unsigned wrap-around adds a negative delta exactly.
  auto add = [](std::atomic<uint64_t>& a, int64_t d) {
    if (d != 0) a.fetch_add(static_cast<uint64_t>(d), std::memory_order_relaxed);
  };
  add(connections_open, open);
  add(connections_idle, idle);
  add(connections_connecting, connecting);
  if (origin) {
    add(origin->open, open);
    add(origin->idle, idle);
    add(origin->connecting, connecting);
    add(origin->h2_streams, streams);
  }
}

EngineStats EngineCounters::snapshot() const {
  EngineStats s;
  s.requests_started = requests_started.load();
  s.requests_in_flight = requests_in_flight.load();
  s.connections_opened = connections_opened.load();
  s.tls_handshakes = tls_handshakes.load();
  s.connections_open = connections_open.load();
  s.connections_idle = connections_idle.load();
  s.bytes_in = bytes_in.load();
  s.bytes_out = bytes_out.load();
  s.connections_live = connections_live.load();
  s.connections_connecting = connections_connecting.load();
  s.requests_queued = requests_queued.load();
  s.tls_resumed = tls_resumed.load();
  s.exchanges = exchanges.load();
  s.exchanges_reused = exchanges_reused.load();
  s.connections_reused = s.exchanges_reused;
  s.h2_pings_timed_out = h2_pings_timed_out.load();
  s.connections_swept = connections_swept.load();
  for (size_t k = 0; k < kErrorCodeCount; ++k) s.errors[k] = errors[k].load();
  s.identities = identities.snapshot();
  return s;
}

std::shared_ptr<IdentityCounters> IdentityCounterTable::find_or_add(const std::string& identity) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(identity);
  if (it != table_.end()) return it->second;
  if (table_.size() >= kMaxIdentities) {
    table_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(identity);
  return table_.emplace(identity, std::make_shared<IdentityCounters>()).first->second;
}

std::vector<IdentityStats> IdentityCounterTable::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<IdentityStats> out;
  out.reserve(order_.size());
  for (const std::string& name : order_) {
    const IdentityCounters& c = *table_.at(name);
    out.push_back(IdentityStats{name, c.connections_opened.load(), c.tls_handshakes.load(),
                                c.tls_resumed.load(), c.exchanges.load()});
  }
  return out;
}

}  // namespace ctn
