#include "pool/alt_svc_store.h"

#include <algorithm>
#include <utility>

#include "proxy/proxy.h"

namespace ctn {

AltSvcKey alt_svc_key(const PoolKey& key) {
  AltSvcKey k{key, key.identity};
  k.origin.http1_only = false;
  k.origin.http1_retry = false;
  k.origin.quic_host.clear();
  k.origin.quic_port = 0;
  k.origin.identity.clear();  // kept once, in k.identity
  k.origin.max_requests = 0;
  k.origin.max_age_ms = 0;
  return k;
}

bool alt_svc_applies(const PoolKey& key) {
  if (!key.tls) return false;
  if (key.proxy.empty()) return true;
  proxy::ProxyConfig config;
  std::string why;
  if (!proxy::parse_proxy_url(key.proxy, &config, &why)) return false;
  return config.scheme != proxy::Scheme::kHttp && config.scheme != proxy::Scheme::kHttps;
}

bool alt_svc_port_allowed(uint16_t origin_port, uint16_t alternative_port) {
  constexpr uint16_t kUnrestrictedPort = 1024;
  return !(origin_port < kUnrestrictedPort && alternative_port >= kUnrestrictedPort);
}

AltSvcStore::AltSvcStore(AltSvcLimits limits, Now now) : limits_(limits), now_(std::move(now)) {}

void AltSvcStore::forget(std::map<AltSvcKey, Origin>::iterator it) {
  origin_recency_.erase(it->second.recency);
  origins_.erase(it);
  size_.store(origins_.size(), std::memory_order_relaxed);
}

void AltSvcStore::record(const AltSvcKey& key, const AltSvcHeader& header) {
  if (header.kind == AltSvcHeader::Kind::kInvalid) return;
  const Clock::time_point now = now_();
  Origin fresh;
  if (header.kind == AltSvcHeader::Kind::kAlternatives) {
    for (const AltSvcAlternative& alt : header.alternatives) {
      if (std::find(fresh.offered.begin(), fresh.offered.end(), alt.alpn) == fresh.offered.end()) {
        fresh.offered.push_back(alt.alpn);
      }
      if (alt.alpn != kAltSvcHttp3 || alt.max_age_s == 0) continue;
      AltSvcEndpoint endpoint{alt.host.empty() ? key.origin.host : alt.host, alt.port};
      const bool seen = std::any_of(fresh.alternatives.begin(), fresh.alternatives.end(),
                                    [&](const Alternative& a) { return a.endpoint == endpoint; });
      if (seen || fresh.alternatives.size() == kMaxAlternativesPerOrigin) continue;
      const auto age = std::min<std::chrono::seconds>(std::chrono::seconds(alt.max_age_s), kMaxAge);
      fresh.alternatives.push_back({std::move(endpoint), now + age, alt.persist});
    }
  }

  std::lock_guard lock(mu_);
  // RFC 7838 §3: a new Alt-Svc replaces whatever the origin had.
  if (auto it = origins_.find(key); it != origins_.end()) forget(it);
  if (fresh.alternatives.empty()) return;
  if (limits_.max_origins == 0) return;
  while (origins_.size() >= limits_.max_origins) forget(origins_.find(origin_recency_.back()));
  origin_recency_.push_front(key);
  fresh.recency = origin_recency_.begin();
  origins_.emplace(key, std::move(fresh));
  size_.store(origins_.size(), std::memory_order_relaxed);
}

void AltSvcStore::record_fields(const AltSvcKey& key, const std::vector<std::string_view>& lines) {
  if (lines.empty()) return;
  record(key, alt_svc_parse_fields(lines));
}

std::vector<AltSvcEndpoint> AltSvcStore::lookup(const AltSvcKey& key) {
  const Clock::time_point now = now_();
  std::lock_guard lock(mu_);
  std::vector<AltSvcEndpoint> usable;
  auto it = origins_.find(key);
  if (it == origins_.end()) return usable;
  auto& alternatives = it->second.alternatives;
  std::erase_if(alternatives, [&](const Alternative& a) { return a.expires <= now; });
  if (alternatives.empty()) {
    forget(it);
    return usable;
  }
  origin_recency_.splice(origin_recency_.begin(), origin_recency_, it->second.recency);
  for (const Alternative& a : alternatives) {
    if (!alt_svc_port_allowed(key.origin.port, a.endpoint.port)) continue;
    auto broken = broken_.find({key, a.endpoint});
    if (broken == broken_.end() || broken->second.until <= now) usable.push_back(a.endpoint);
  }
  return usable;
}

std::vector<std::string> AltSvcStore::offered(const AltSvcKey& key) const {
  std::lock_guard lock(mu_);
  auto it = origins_.find(key);
  return it == origins_.end() ? std::vector<std::string>{} : it->second.offered;
}

void AltSvcStore::mark_broken(const AltSvcKey& key, const AltSvcEndpoint& endpoint) {
  const Clock::time_point now = now_();
  std::lock_guard lock(mu_);
  BrokenKey broken_key{key, endpoint};
  auto it = broken_.find(broken_key);
  if (it == broken_.end()) {
    if (limits_.max_broken == 0) return;
    while (broken_.size() >= limits_.max_broken) {
      broken_.erase(broken_recency_.back());
      broken_recency_.pop_back();
    }
    broken_recency_.push_front(broken_key);
    it = broken_.emplace(std::move(broken_key), Broken{0, now, broken_recency_.begin()}).first;
  } else {
    broken_recency_.splice(broken_recency_.begin(), broken_recency_, it->second.recency);
    // Several attempts failing together (a race, parallel requests) count as one failure: the
    // back-off doubles per episode, not per attempt.
    if (it->second.until > now) return;
  }
  Broken& b = it->second;
  ++b.failures;
  // 300 s << 10 is already beyond the cap: the shift never overflows.
  const uint32_t shift = std::min<uint32_t>(b.failures - 1, 10);
  b.until = now + std::min<std::chrono::seconds>(kBrokenDelay * (int64_t{1} << shift), kMaxBrokenDelay);
}

void AltSvcStore::confirm(const AltSvcKey& key, const AltSvcEndpoint& endpoint) {
  std::lock_guard lock(mu_);
  auto it = broken_.find({key, endpoint});
  if (it == broken_.end()) return;
  broken_recency_.erase(it->second.recency);
  broken_.erase(it);
}

bool AltSvcStore::is_broken(const AltSvcKey& key, const AltSvcEndpoint& endpoint) const {
  const Clock::time_point now = now_();
  std::lock_guard lock(mu_);
  auto it = broken_.find({key, endpoint});
  return it != broken_.end() && it->second.until > now;
}

size_t AltSvcStore::broken_size() const {
  std::lock_guard lock(mu_);
  return broken_.size();
}

}  // namespace ctn
