#include "dns/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "dns/https_record.h"

namespace ctn::dns {

namespace {

using Clock = std::chrono::steady_clock;

// Chrome's async resolver waits about a second before it retransmits to the next server (its DNS
// "fallback period") and makes two attempts (resolv.conf's default); c-ares's own defaults (5 s, 4
// tries) would hold a dead server's lookup for most of a minute.
constexpr int kQueryTimeoutMs = 1000;
constexpr int kQueryTries = 2;
// EDNS(0) with the DNS Flag Day 2020 payload size, so an HTTPS record with an ECH config fits in one
// UDP answer instead of a TCP retry.
constexpr int kEdnsPayload = 1232;
// Once the addresses are in, the HTTPS answer is waited for a while longer, not forever (Chrome
// gives HTTPS queries bounded "extra time" after A/AAAA): as long again as the addresses took,
// within these bounds.
constexpr std::chrono::milliseconds kHttpsGraceMin{50};
constexpr std::chrono::milliseconds kHttpsGraceMax{500};
// Channels kept (one per distinct dnsServers list); idle ones beyond this are dropped.
constexpr size_t kMaxChannels = 16;

std::string reason(int status) {
  switch (status) {
    case ARES_ENOTFOUND:
      return "NXDOMAIN (no such name)";
    case ARES_ENODATA:
      return "NODATA (the name has no address records)";
    case ARES_ETIMEOUT:
      return "timeout (no answer from the name server)";
    case ARES_ECONNREFUSED:
      return "connection refused by the name server";
    case ARES_EREFUSED:
      return "REFUSED (the name server refused the query)";
    case ARES_ESERVFAIL:
      return "SERVFAIL (the name server failed)";
    default:
      return ares_strerror(status);
  }
}

// The failures that say something about the name itself, which Chrome caches (briefly).
bool cacheable_failure(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }

// A name DNS is not asked about, so neither is its HTTPS record: localhost and its subdomains (RFC
// 6761 §6.3; c-ares answers them itself) and the names of /etc/hosts (Chrome answers those from the
// hosts file and asks no DNS either).
bool local_name(ares_channel channel, const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name == "localhost" || ends_with(".localhost") || ends_with(".localhost.")) return true;
  for (int family : {AF_INET, AF_INET6}) {
    hostent* entry = nullptr;
    if (ares_gethostbyname_file(channel, name.c_str(), family, &entry) == ARES_SUCCESS) {
      ares_free_hostent(entry);
      return true;
    }
  }
  return false;
}

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

}  // namespace

// ---- the channel: one c-ares channel driven by the io thread ----

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  explicit Channel(asio::io_context& io) : io_(io), timer_(io) {}
  ~Channel() {
    // ares_destroy ends every pending query (their callbacks see ARES_EDESTRUCTION) and closes its
    // sockets, telling on_socket_state, which releases the watches.
    if (channel_) ares_destroy(channel_);
    for (auto& [fd, watch] : watches_) release(*watch);
  }

  bool init(const std::string& servers, std::string* why) {
    init_library_once();
    ares_options options{};
    options.sock_state_cb = &Channel::on_socket_state;
    options.sock_state_cb_data = this;
    options.timeout = kQueryTimeoutMs;
    options.tries = kQueryTries;
    // NOCHECKRESP: a REFUSED or SERVFAIL answer is reported as such, not retried into a timeout.
    options.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
    options.ednspsz = kEdnsPayload;
    const int mask =
        ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ;
    int status = ares_init_options(&channel_, &options, mask);
    if (status == ARES_SUCCESS && !servers.empty())
      status = ares_set_servers_ports_csv(channel_, servers.c_str());
    if (status != ARES_SUCCESS) {
      *why = "the resolver could not start (" + std::string(ares_strerror(status)) + ")";
      return false;
    }
    return true;
  }

  ares_channel get() const { return channel_; }
  bool idle() const { return pending_ == 0; }
  void started() { ++pending_; }
  void finished() {
    if (pending_) --pending_;
  }

  // c-ares was called: its next retransmission deadline may have moved.
  void rearm() {
    timeval tv{};
    if (!ares_timeout(channel_, nullptr, &tv)) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
    timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->rearm();
    });
  }

 private:
  struct Watch {
    explicit Watch(asio::io_context& io, int fd) : descriptor(io, fd) {}
    asio::posix::stream_descriptor descriptor;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
    bool gone = false;
  };

  static void release(Watch& watch) {
    watch.gone = true;
    // The socket is c-ares's: it closes it. release() cancels our waits and forgets the fd.
    if (watch.descriptor.is_open()) watch.descriptor.release();
  }

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Channel*>(data);
    auto it = self->watches_.find(fd);
    if (!readable && !writable) {
      if (it != self->watches_.end()) {
        release(*it->second);
        self->watches_.erase(it);
      }
      return;
    }
    if (it == self->watches_.end())
      it = self->watches_.emplace(fd, std::make_shared<Watch>(self->io_, fd)).first;
    it->second->want_read = readable;
    it->second->want_write = writable;
    self->arm(it->second);
  }

  void arm(const std::shared_ptr<Watch>& watch) {
    if (watch->gone) return;
    if (watch->want_read && !watch->reading) wait(watch, false);
    if (watch->want_write && !watch->writing) wait(watch, true);
  }

  // One wait for the socket to become readable (or writable); c-ares then does its part, and the
  // wait starts again while c-ares still wants it.
  void wait(const std::shared_ptr<Watch>& watch, bool for_write) {
    (for_write ? watch->writing : watch->reading) = true;
    const auto what =
        for_write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read;
    watch->descriptor.async_wait(
        what, [weak = weak_from_this(), watch, for_write](const asio::error_code& ec) {
          (for_write ? watch->writing : watch->reading) = false;
          auto self = weak.lock();
          if (ec || watch->gone || !self) return;
          const int fd = watch->descriptor.native_handle();
          ares_process_fd(self->channel_, for_write ? ARES_SOCKET_BAD : fd, for_write ? fd : ARES_SOCKET_BAD);
          self->arm(watch);
          self->rearm();
        });
  }

  asio::io_context& io_;
  asio::steady_timer timer_;
  ares_channel channel_ = nullptr;
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  size_t pending_ = 0;
};

// ---- one lookup: addresses (A + AAAA) and the HTTPS record at once ----

class Lookup : public PendingLookup, public std::enable_shared_from_this<Lookup> {
 public:
  Lookup(Resolver& resolver, ResolveQuery query, std::string cache_key,
         std::function<void(ResolveResult)> done)
      : resolver_(resolver),
        resolver_alive_(resolver.alive_),
        query_(std::move(query)),
        cache_key_(std::move(cache_key)),
        done_(std::move(done)),
        https_grace_(resolver.io_) {}

  void cancel() override { drop(); }

  // Nobody is told anything any more. The handler goes now: it may hold what holds this lookup (a
  // connection keeps its pending lookup), and that cycle must not outlive the lookup.
  void drop() {
    done_ = nullptr;
    https_grace_.cancel();
  }

  void start(const std::shared_ptr<Channel>& channel) {
    channel_ = channel;
    started_at_ = Clock::now();
    ares_addrinfo_hints hints{};
    hints.ai_family = query_.family == 4 ? AF_INET : query_.family == 6 ? AF_INET6 : AF_UNSPEC;
    // Happy Eyeballs orders the addresses; c-ares's RFC 6724 sort would only cost sockets.
    hints.ai_flags = ARES_AI_NOSORT;
    // Decided before the addresses are asked for: c-ares answers a hosts-file name inside
    // ares_getaddrinfo, and that answer must not wait for an HTTPS record nobody will ask.
    const bool ask_https = query_.https_record && !local_name(channel->get(), query_.name);
    https_done_ = !ask_https;
    channel->started();
    ares_getaddrinfo(channel->get(), query_.name.c_str(), nullptr, &hints, &Lookup::on_addresses,
                     new std::shared_ptr<Lookup>(shared_from_this()));
    if (ask_https && !finished_) {
      channel->started();
      ares_query(channel->get(), https_query_name(query_.name, query_.port).c_str(), 1 /* IN */, kTypeHttps,
                 &Lookup::on_https, new std::shared_ptr<Lookup>(shared_from_this()));
    }
    channel->rearm();
  }

 private:
  static std::shared_ptr<Lookup> take(void* arg) {
    std::unique_ptr<std::shared_ptr<Lookup>> holder(static_cast<std::shared_ptr<Lookup>*>(arg));
    return std::move(*holder);
  }

  static void on_addresses(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
    auto self = take(arg);
    std::unique_ptr<ares_addrinfo, void (*)(ares_addrinfo*)> owned(result, ares_freeaddrinfo);
    if (status == ARES_EDESTRUCTION) return self->drop();  // the engine is going away: nobody to tell
    if (auto channel = self->channel_.lock()) channel->finished();
    self->addresses_done_ = true;
    self->status_ = status;
    if (status == ARES_SUCCESS && result) {
      std::optional<uint32_t> ttl;
      char text[INET6_ADDRSTRLEN] = {};
      for (const ares_addrinfo_node* node = result->nodes; node; node = node->ai_next) {
        const void* raw = nullptr;
        if (node->ai_family == AF_INET && node->ai_addr)
          raw = &reinterpret_cast<const sockaddr_in*>(node->ai_addr)->sin_addr;
        else if (node->ai_family == AF_INET6 && node->ai_addr)
          raw = &reinterpret_cast<const sockaddr_in6*>(node->ai_addr)->sin6_addr;
        if (!raw || !inet_ntop(node->ai_family, raw, text, sizeof text)) continue;
        if (std::find(self->answer_.addresses.begin(), self->answer_.addresses.end(), text) !=
            self->answer_.addresses.end())
          continue;
        self->answer_.addresses.emplace_back(text);
        const uint32_t node_ttl = node->ai_ttl > 0 ? static_cast<uint32_t>(node->ai_ttl) : 0;
        ttl = ttl ? std::min(*ttl, node_ttl) : node_ttl;
      }
      self->answer_.ttl_seconds = ttl.value_or(0);
      if (self->answer_.addresses.empty()) self->status_ = ARES_ENODATA;
    }
    if (self->status_ != ARES_SUCCESS || self->https_done_) {
      self->finish();
      return;
    }
    // The addresses are in, the HTTPS answer is not yet: wait for it a bounded while.
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - self->started_at_);
    self->https_grace_.expires_after(std::clamp(took, kHttpsGraceMin, kHttpsGraceMax));
    self->https_grace_.async_wait([self](const asio::error_code& ec) {
      if (!ec) self->finish();
    });
  }

  static void on_https(void* arg, int status, int /*timeouts*/, unsigned char* message, int length) {
    auto self = take(arg);
    if (status == ARES_EDESTRUCTION) return self->drop();
    if (auto channel = self->channel_.lock()) channel->finished();
    self->https_done_ = true;
    if (self->finished_) return;
    if (status == ARES_SUCCESS && message && length > 0) {
      std::vector<HttpsRecord> records;
      std::string why;
      if (parse_https_response(
              std::string_view(reinterpret_cast<const char*>(message), static_cast<size_t>(length)), &records,
              &why)) {
        self->https_ = choose_https_record(records, self->query_.name, self->query_.port);
      }
    }
    // An HTTPS lookup that failed leaves the connection as it would be without the record.
    if (self->addresses_done_) {
      self->https_grace_.cancel();
      self->finish();
    }
  }

  void finish() {
    if (finished_ || resolver_alive_.expired()) return;
    finished_ = true;
    ResolveResult result;
    auto now = Clock::now();
    if (status_ != ARES_SUCCESS) {
      result.error = reason(status_);
      if (cacheable_failure(status_)) resolver_.cache_.store_negative(cache_key_, result.error, now);
    } else {
      result.answer = std::move(answer_);
      if (https_) {
        result.answer.ech_config_list = std::move(https_->ech_config_list);
        result.answer.alpn = std::move(https_->alpn);
        result.answer.ttl_seconds = std::min(result.answer.ttl_seconds, https_->ttl_seconds);
      }
      resolver_.cache_.store(cache_key_, result.answer, now);
    }
    // Later, never inside resolve() (c-ares answers a hosts-file name or a literal at once).
    asio::post(resolver_.io_, [self = shared_from_this(), result = std::move(result)]() mutable {
      if (auto done = std::move(self->done_)) done(std::move(result));
    });
  }

  Resolver& resolver_;
  std::weak_ptr<int> resolver_alive_;
  ResolveQuery query_;
  std::string cache_key_;
  std::function<void(ResolveResult)> done_;
  std::weak_ptr<Channel> channel_;
  asio::steady_timer https_grace_;
  Clock::time_point started_at_;
  DnsAnswer answer_;
  std::optional<HttpsChoice> https_;
  int status_ = ARES_SUCCESS;
  bool addresses_done_ = false, https_done_ = false, finished_ = false;
};

// ---- the resolver ----

Resolver::Resolver(asio::io_context& io, size_t cache_entries) : io_(io), cache_(cache_entries) {}

// Channels go first (their queries end with ARES_EDESTRUCTION, telling nobody), then the cache.
Resolver::~Resolver() { channels_.clear(); }

std::shared_ptr<Channel> Resolver::channel(const std::string& servers, std::string* why) {
  if (auto it = channels_.find(servers); it != channels_.end()) return it->second;
  if (channels_.size() >= kMaxChannels) {
    std::erase_if(channels_, [](const auto& kv) { return kv.second->idle(); });
  }
  auto channel = std::make_shared<Channel>(io_);
  if (!channel->init(servers, why)) return nullptr;
  channels_.emplace(servers, channel);
  return channel;
}

namespace {

// A lookup answered without asking anyone (the cache, or a failure to start): its handler still runs
// later, never inside resolve().
class Answered : public PendingLookup {
 public:
  void cancel() override { *cancelled_ = true; }
  std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
};

}  // namespace

std::shared_ptr<PendingLookup> Resolver::resolve(ResolveQuery query,
                                                 std::function<void(ResolveResult)> done) {
  // query.identity partitions the cache: two identities never share an answer or its timing.
  std::string key = DnsCache::key(query.identity, query.servers, query.family,
                                  query.name + (query.https_record ? "#https:" : "#") +
                                      std::to_string(query.https_record ? query.port : 0));
  const DnsCache::Hit hit = cache_.find(key, Clock::now());
  std::optional<ResolveResult> known;
  std::string why;
  std::shared_ptr<Channel> chosen;
  if (hit.answer) {
    known = ResolveResult{*hit.answer, {}};
  } else if (hit.error) {
    known = ResolveResult{{}, *hit.error};
  } else if (!(chosen = channel(query.servers, &why))) {
    known = ResolveResult{{}, why};
  }
  if (known) {
    auto answered = std::make_shared<Answered>();
    asio::post(io_, [cancelled = answered->cancelled_, done = std::move(done),
                     result = std::move(*known)]() mutable {
      if (!*cancelled) done(std::move(result));
    });
    return answered;
  }
  ++lookups_sent_;
  auto lookup = std::make_shared<Lookup>(*this, std::move(query), std::move(key), std::move(done));
  lookup->start(chosen);
  return lookup;
}

}  // namespace ctn::dns
