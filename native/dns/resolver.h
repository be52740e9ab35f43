// The engine's DNS resolver: c-ares on the engine's io thread (no thread of its own), asking A, AAAA
// and HTTPS (type 65) at once, as Chrome does, and keeping answers for their TTL (DnsCache).
// c-ares's sockets are watched with Asio descriptors (its socket-state callback says which and for
// what), its retransmissions run from one Asio timer set from ares_timeout(); one c-ares channel per
// set of name servers asked (the system's, or a request's dnsServers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <asio.hpp>

#include "common/dns_answer.h"
#include "dns/dns_cache.h"

namespace ctn::dns {

struct ResolveQuery {
  std::string name;
  // The HTTPS record is asked only for https:// targets (as Chrome does), at the port's name
  // (https_query_name).
  bool https_record = false;
  uint16_t port = 443;
  // "" = the system's name servers (/etc/resolv.conf); else a list c-ares takes as it is:
  // "127.0.0.1:5353,[::1]:53" (lib/ validated and wrote it).
  std::string servers;
  int family = 0;  // 0 = any, 4 = IPv4 only, 6 = IPv6 only (Node's `family`)
  // Whose lookup this is: cached answers are never shared across identities.
  std::string identity;
};

struct ResolveResult {
  DnsAnswer answer;
  // Non-empty when the lookup failed: the resolver's reason ("NXDOMAIN (no such name)", "timeout
  // (no answer from the name server)", ...).
  std::string error;
};

// A started lookup; cancel() drops its handler (the queries end in c-ares on their own).
class PendingLookup {
 public:
  virtual ~PendingLookup() = default;
  virtual void cancel() = 0;
};

class Channel;
class Lookup;

class Resolver {
 public:
  explicit Resolver(asio::io_context& io, size_t cache_entries = DnsCache::kDefaultMaxEntries);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves on the io thread; `done` runs once, later (never inside this call), unless cancelled.
  std::shared_ptr<PendingLookup> resolve(ResolveQuery query, std::function<void(ResolveResult)> done);

  // Lookups that went to the name servers (cache hits excluded): for tests and stats.
  uint64_t lookups_sent() const { return lookups_sent_; }
  DnsCache& cache() { return cache_; }

 private:
  friend class Lookup;
  // The channel for `servers`, made on first use; nullptr (and `why`) when c-ares refuses it.
  std::shared_ptr<Channel> channel(const std::string& servers, std::string* why);

  asio::io_context& io_;
  DnsCache cache_;
  std::unordered_map<std::string, std::shared_ptr<Channel>> channels_;
  uint64_t lookups_sent_ = 0;
  // Expires with the resolver: a lookup's late timer (its HTTPS grace) then touches nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace ctn::dns
