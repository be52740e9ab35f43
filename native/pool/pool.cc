#include "pool/pool.h"

#include <algorithm>

#include "proxy/proxy.h"

namespace ctn {

std::string describe(const PoolKey& key) {
  std::string s = key.tls ? "https://" : "http://";
  if (key.host.find(':') != std::string::npos) {
    s.append("[").append(key.host).append("]");
  } else {
    s += key.host;
  }
  s.append(":").append(std::to_string(key.port));
  s.append(" [").append(key.profile).append("]");
  if (!key.proxy.empty()) {
    // Never the password: a digest of the credentials tells different ones apart.
    proxy::ProxyConfig config;
    std::string why;
    s.append(" via ").append(proxy::parse_proxy_url(key.proxy, &config, &why) ? proxy::redacted_url(config)
                                                                              : "(invalid proxy)");
  }
  if (key.tls && key.server_name != key.host) s.append(" sni=").append(key.server_name);
  if (key.tls && !key.verify) s.append(" insecure");
  if (key.tls && key.http1_only) s.append(" http1");
  if (key.tls && key.http1_retry) s.append(" http1-retry");
  if (!key.dial_addresses.empty()) s.append(" dns=").append(key.dial_addresses);
  if (key.http3()) {
    s.append(" h3");
    if (key.quic_host != key.host || key.quic_port != key.port) {
      s.append("=").append(key.quic_host).append(":").append(std::to_string(key.quic_port));
    }
  }
  // Quoted: a name is any string (lib/ bounds its length), spaces included.
  if (!key.identity.empty()) s.append(" identity=\"").append(key.identity).append("\"");
  if (key.max_requests != 0) s.append(" max-requests=").append(std::to_string(key.max_requests));
  if (key.max_age_ms != 0) s.append(" max-age=").append(std::to_string(key.max_age_ms)).append("ms");
  return s;
}

std::string dial_address_set(std::vector<std::string> addresses) {
  std::sort(addresses.begin(), addresses.end());
  std::string joined;
  for (const std::string& address : addresses) {
    if (!joined.empty()) joined += ',';
    joined += address;
  }
  return joined;
}

std::string tls_session_key(const PoolKey& key) {
  PoolKey any_alpn = key;
  any_alpn.http1_only = false;
  any_alpn.http1_retry = false;
  any_alpn.quic_host.clear();  // TCP's TLS sessions; QUIC connections keep none yet
  any_alpn.quic_port = 0;
  any_alpn.max_requests = 0;
  any_alpn.max_age_ms = 0;
  // Resumption follows the name, as in a browser's session cache, whatever address the name led to.
  any_alpn.dial_addresses.clear();
  return describe(any_alpn);
}

Pool::Origin* Pool::find(const PoolKey& key) {
  auto it = origins_.find(key);
  return it == origins_.end() ? nullptr : &it->second;
}

const Pool::Origin* Pool::find(const PoolKey& key) const {
  auto it = origins_.find(key);
  return it == origins_.end() ? nullptr : &it->second;
}

std::shared_ptr<OriginCounters> Pool::add(const std::shared_ptr<PooledConnection>& conn) {
  std::map<PoolKey, Origin>::iterator it;
  {
    std::lock_guard<std::mutex> lock(mu_);
    it = origins_.try_emplace(conn->key()).first;
  }
  it->second.connections++;
  all_.emplace(conn.get(), conn);
  total_++;
  return it->second.counters;
}

void Pool::remove(PooledConnection* conn) {
  if (all_.erase(conn) == 0) return;
  total_--;
  auto it = origins_.find(conn->key());
  if (it == origins_.end()) return;
  Origin& o = it->second;
  o.connections--;
  auto same = [conn](const std::shared_ptr<PooledConnection>& c) { return c.get() == conn; };
  o.idle.erase(std::remove_if(o.idle.begin(), o.idle.end(), same), o.idle.end());
  http2_unusable(conn);
  if (auto c = o.connecting.lock(); !c || c.get() == conn) o.connecting.reset();
  prune(it);
}

// An identity without connections goes (counts are zero by then: every connection's account()
// ran at its close).
void Pool::prune(std::map<PoolKey, Origin>::iterator it) {
  const Origin& o = it->second;
  if (o.connections > 0 || !o.idle.empty() || !o.http2.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  origins_.erase(it);
}

bool Pool::at_origin_limit(const PoolKey& key) const {
  if (limits_.max_connections_per_origin == 0) return false;
  const Origin* o = find(key);
  return o && o->connections >= limits_.max_connections_per_origin;
}

bool Pool::may_open(const PoolKey& key) const {
  if (at_origin_limit(key)) return false;
  return limits_.max_connections == 0 || total_ < limits_.max_connections;
}

bool Pool::has_connection(const PoolKey& key) const {
  const Origin* o = find(key);
  return o && o->connections > 0;
}

bool Pool::can_place(const PoolKey& key, bool fresh_only) const {
  const Origin* o = find(key);
  if (o && !fresh_only) {
    for (const auto& w : o->http2) {
      if (auto c = w.lock(); c && c->accepts_streams()) return true;
    }
    if (!o->idle.empty()) return true;
    if (auto c = o->connecting.lock(); c && c->connecting()) return true;
  }
  if (may_open(key)) return true;
  if (at_origin_limit(key)) return false;
  // At the total limit: room can be made by closing an idle connection of another identity.
  for (const auto& [k, other] : origins_) {
    if (k == key) continue;
    if (!other.idle.empty()) return true;
    for (const auto& w : other.http2) {
      if (auto c = w.lock(); c && c->session_idle()) return true;
    }
  }
  return false;
}

std::shared_ptr<PooledConnection> Pool::take_http2(const PoolKey& key) {
  Origin* o = find(key);
  if (!o) return nullptr;
  auto& list = o->http2;
  std::shared_ptr<PooledConnection> free, least;
  std::vector<std::shared_ptr<PooledConnection>> dead;
  size_t live = 0;
  for (auto c = list.begin(); c != list.end();) {
    auto conn = c->lock();
    if (!conn || !conn->accepts_streams()) {
      c = list.erase(c);
      continue;
    }
    // An unused session whose socket the server has closed is no place for a request.
    if (conn->session_idle() && conn->peer_closed()) {
      c = list.erase(c);
      dead.push_back(std::move(conn));
      continue;
    }
    ++live;
    if (conn->can_take_stream()) {
      free = std::move(conn);
      break;
    }
    if (!least || conn->open_streams() < least->open_streams()) least = conn;
    ++c;
  }
  // Every session is full: open another one when allowed, else wait on the least loaded.
  // (A session being set up counts as the other one: the request rides on it.)
  if (!free && least && live < std::max<size_t>(limits_.max_h2_sessions_per_origin, 1)) {
    auto pending = o->connecting.lock();
    if (may_open(key) || (pending && pending->connecting())) least.reset();
  }
  // Closed last: closing may drop this identity's entry (`o`).
  for (auto& c : dead) c->close("the server closed the idle HTTP/2 connection");
  return free ? free : least;
}

std::shared_ptr<PooledConnection> Pool::take_idle(const PoolKey& key) {
  Origin* o = find(key);
  if (!o) return nullptr;
  auto& stack = o->idle;
  std::shared_ptr<PooledConnection> found;
  std::vector<std::shared_ptr<PooledConnection>> stale;
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    if (conn->idle()) {
      found = std::move(conn);
      break;
    }
    // Closed by the server, or it sent something nobody asked for: never reused.
    stale.push_back(std::move(conn));
  }
  // Closed last: closing may drop this identity's entry (`o`).
  for (auto& c : stale) c->close("the server closed the idle connection");
  return found;
}

std::shared_ptr<PooledConnection> Pool::connecting(const PoolKey& key) {
  Origin* o = find(key);
  if (!o) return nullptr;
  auto conn = o->connecting.lock();
  if (conn && conn->connecting()) return conn;
  o->connecting.reset();
  return nullptr;
}

void Pool::set_connecting(const std::shared_ptr<PooledConnection>& conn) {
  if (Origin* o = find(conn->key())) o->connecting = conn;
}

void Pool::note_protocol(const PoolKey& key, bool http2) {
  auto known = http1_origins_.find(key);
  if (http2) {
    if (known == http1_origins_.end()) return;
    http1_order_.erase(known->second);
    http1_origins_.erase(known);
    return;
  }
  if (known != http1_origins_.end()) return;
  if (http1_origins_.size() >= kRememberedHttp1Origins) {
    http1_origins_.erase(http1_order_.front());
    http1_order_.pop_front();
  }
  http1_origins_.emplace(key, http1_order_.insert(http1_order_.end(), key));
}

bool Pool::park(const std::shared_ptr<PooledConnection>& conn) {
  Origin* o = find(conn->key());
  if (!o || limits_.max_idle_per_origin == 0) return false;
  auto& stack = o->idle;
  std::vector<std::shared_ptr<PooledConnection>> extra;
  while (!stack.empty() && stack.size() >= limits_.max_idle_per_origin) {
    extra.push_back(std::move(stack.front()));
    stack.erase(stack.begin());
  }
  stack.push_back(conn);
  for (auto& c : extra) c->close("too many idle connections");
  return true;
}

void Pool::http2_ready(const std::shared_ptr<PooledConnection>& conn) {
  Origin* o = find(conn->key());
  if (!o) return;
  if (auto c = o->connecting.lock(); !c || c == conn) o->connecting.reset();
  o->http2.push_back(conn);
}

void Pool::http2_unusable(PooledConnection* conn) {
  Origin* o = find(conn->key());
  if (!o) return;
  auto& list = o->http2;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [conn](const std::weak_ptr<PooledConnection>& w) {
                              auto c = w.lock();
                              return !c || c.get() == conn;
                            }),
             list.end());
}

bool Pool::evict_idle(const PoolKey* except) {
  std::shared_ptr<PooledConnection> victim;
  for (auto& [key, o] : origins_) {
    if (except && key == *except) continue;
    for (auto& c : o.idle) {
      if (!victim || c->idle_since() < victim->idle_since()) victim = c;
    }
    for (auto& w : o.http2) {
      auto c = w.lock();
      if (c && c->session_idle() && (!victim || c->idle_since() < victim->idle_since())) victim = c;
    }
  }
  if (!victim) return false;
  if (victim->is_http2()) {
    victim->retire();
  } else {
    victim->close("closed to make room for another connection");
  }
  return true;
}

size_t Pool::sweep() {
  std::vector<std::shared_ptr<PooledConnection>> stale;
  for (auto it = origins_.begin(); it != origins_.end();) {
    Origin& o = it->second;
    for (auto& c : o.idle) {
      if (!c->idle()) stale.push_back(c);
    }
    for (auto w = o.http2.begin(); w != o.http2.end();) {
      auto c = w->lock();
      if (!c) {
        w = o.http2.erase(w);
        continue;
      }
      if (c->session_idle() && c->peer_closed()) stale.push_back(c);
      ++w;
    }
    if (o.connecting.expired()) o.connecting.reset();
    auto next = std::next(it);
    prune(it);
    it = next;
  }
  for (auto& c : stale) c->close("the server closed the idle connection");
  return stale.size();
}

std::vector<std::shared_ptr<PooledConnection>> Pool::all() const {
  std::vector<std::shared_ptr<PooledConnection>> out;
  out.reserve(all_.size());
  for (auto& [ptr, weak] : all_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

void Pool::clear() {
  for (auto& [key, o] : origins_) {
    o.idle.clear();
    o.http2.clear();
    o.connecting.reset();
  }
}

std::vector<OriginStats> Pool::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OriginStats> out;
  out.reserve(origins_.size());
  for (const auto& [key, o] : origins_) {
    const OriginCounters& c = *o.counters;
    OriginStats s;
    s.key = describe(key);
    s.open = c.open.load(std::memory_order_relaxed);
    s.idle = c.idle.load(std::memory_order_relaxed);
    s.connecting = c.connecting.load(std::memory_order_relaxed);
    s.h2_streams = c.h2_streams.load(std::memory_order_relaxed);
    if (s.open == 0 && s.connecting == 0 && s.idle == 0 && s.h2_streams == 0) continue;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ctn
