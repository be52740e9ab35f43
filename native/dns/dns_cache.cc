#include "dns/dns_cache.h"

#include <algorithm>

namespace ctn::dns {

std::string DnsCache::key(std::string_view identity, std::string_view servers, int family,
                          std::string_view name) {
  std::string k;
  k.reserve(identity.size() + servers.size() + name.size() + 8);
  // Names are case-insensitive; the other parts are compared as they are. '\n' cannot occur in any.
  k.append(identity).push_back('\n');
  k.append(servers).push_back('\n');
  k.append(std::to_string(family)).push_back('\n');
  for (char c : name) k.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  return k;
}

DnsCache::Hit DnsCache::find(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  if (it->second.expires <= now) {
    entries_.erase(it);
    return {};
  }
  if (!it->second.error.empty()) return Hit{nullptr, &it->second.error};
  return Hit{&it->second.answer, nullptr};
}

void DnsCache::store(const std::string& key, const DnsAnswer& answer, Clock::time_point now) {
  if (answer.ttl_seconds == 0 || answer.addresses.empty()) return;
  const auto ttl = std::min<std::chrono::seconds>(std::chrono::seconds(answer.ttl_seconds), kMaxTtl);
  put(key, Entry{answer, {}, now + ttl}, now);
}

void DnsCache::store_negative(const std::string& key, const std::string& error, Clock::time_point now) {
  put(key, Entry{{}, error.empty() ? std::string("no address") : error, now + kNegativeTtl}, now);
}

void DnsCache::put(const std::string& key, Entry entry, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second = std::move(entry);
    return;
  }
  if (entries_.size() >= max_entries_) make_room(now);
  entries_.emplace(key, std::move(entry));
}

void DnsCache::make_room(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& kv) { return kv.second.expires <= now; });
  if (entries_.size() < max_entries_) return;
  auto soonest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second.expires < b.second.expires;
  });
  entries_.erase(soonest);
}

}  // namespace ctn::dns
