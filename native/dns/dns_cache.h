// What names resolved to, kept for their TTL (Chrome's HostCache, in small): bounded, keyed by who
// asks and how (the identity, the servers asked, the address family) and the name. Failures that say
// something about the name (NXDOMAIN, no data) are kept briefly; failures of the path (timeout,
// refused) are not kept at all, as Chrome does not cache them. One io thread uses it: no locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/dns_answer.h"

namespace ctn::dns {

class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;
  // Chrome's HostCache holds 1000 entries by default.
  static constexpr size_t kDefaultMaxEntries = 1000;
  // How long a negative answer is kept.
  static constexpr std::chrono::seconds kNegativeTtl{5};
  // Answers are kept no longer than this, whatever their TTL says.
  static constexpr std::chrono::seconds kMaxTtl{3600};

  explicit DnsCache(size_t max_entries = kDefaultMaxEntries) : max_entries_(max_entries ? max_entries : 1) {}

  // The key of one lookup. The one place the request's identity joins it (so two identities never see
  // each other's cached answers, or their timing).
  static std::string key(std::string_view identity, std::string_view servers, int family,
                         std::string_view name);

  struct Hit {
    const DnsAnswer* answer = nullptr;   // set on a positive hit
    const std::string* error = nullptr;  // set on a negative hit (the resolver's reason)
  };
  // The live entry under `key`, if any (an expired one is dropped).
  Hit find(const std::string& key, Clock::time_point now);
  // Keeps `answer` for its ttl_seconds (a zero TTL is not kept).
  void store(const std::string& key, const DnsAnswer& answer, Clock::time_point now);
  void store_negative(const std::string& key, const std::string& error, Clock::time_point now);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    DnsAnswer answer;
    std::string error;  // non-empty: a negative entry
    Clock::time_point expires;
  };
  void put(const std::string& key, Entry entry, Clock::time_point now);
  // Makes room for one more entry: the expired ones go, then the one closest to expiring.
  void make_room(Clock::time_point now);

  size_t max_entries_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace ctn::dns
