// The dialler: the stages that turn a pool key into a connected stream (Beast style, one handler
// per stage). DNS (the target's name first for proxies that take addresses), TCP connect, through a
// proxy TLS to an https:// proxy and the tunnel's handshake (CONNECT or SOCKS), then the target's
// TLS (inside the tunnel when there is one). It builds the layers on a Transport and tells its
// listener each stage (the engine runs the per-stage deadlines from those), each failure, and the
// end: the stream is ready and ALPN chose HTTP/2 or HTTP/1.1.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "common/dns_answer.h"
#include "core/ech_attempt.h"
#include "core/exchange.h"
#include "core/transport.h"
#include "dns/resolver.h"
#include "pool/pool.h"
#include "proxy/proxy.h"
#include "tls/tls_context.h"

namespace ctn {

// The engine resolver's query for `name` on behalf of `ex` (its dnsServers, family; nullptr: the
// defaults). The one place a request's identity joins the DNS cache key.
dns::ResolveQuery lookup_query(const Exchange* ex, std::string name);

class DialListener {
 public:
  virtual ~DialListener() = default;
  // The exchange the connection is being set up for now (it may change: an abandoned exchange's
  // waiter takes its place), or nullptr once nobody wants the connection: the next stage stops.
  virtual const Exchange* dial_for() const = 0;
  // A stage begins (Stage::kConnect, kProxy, kTls).
  virtual void dial_stage(Stage stage) = 0;
  virtual void dial_tcp_connected() = 0;
  virtual void dial_io(uint64_t in, uint64_t out) = 0;
  virtual void dial_failed(Error error) = 0;
  // The stream is ready for requests: HTTP/2 when the target's ALPN chose h2.
  virtual void dialled(bool http2) = 0;
};

class Dialler {
 public:
  // `sessions`: the TLS session cache, or nullptr (no resumption).
  Dialler(asio::io_context& io, const PoolKey& key, Transport& transport, TlsContextCache& tls_contexts,
          TlsSessionCache* sessions, dns::Resolver& resolver, DialListener& listener);

  // Starts with DNS. `owner` is kept alive by every pending stage handler.
  void start(std::weak_ptr<void> owner);
  // Stops a pending lookup and the connection attempts (the other stages end when the transport closes).
  void cancel();

  // The proxy (from the key), if any.
  const proxy::ProxyConfig* proxy() const { return proxy_ ? &*proxy_ : nullptr; }
  // Plain HTTP through an HTTP proxy without a tunnel: requests name the whole URL.
  bool absolute_form() const { return absolute_form_; }
  // The target's TLS handshake resumed an earlier session.
  bool tls_resumed() const { return tls_resumed_; }
  // What the target's name resolved to (empty for an IP literal or through a proxy that resolves):
  // its HTTPS record's ECH config list (the TLS stage's; the request's echConfigList wins over it)
  // and alpn (HTTP/3 discovery's).
  const DnsAnswer& dns_answer() const { return dns_answer_; }
  // What the target's ClientHello did about ECH (once the handshake is done): the fingerprint.
  EchStatus ech_status() const { return ech_status_; }

 private:
  // Where the TCP connection goes: the proxy, or the target itself.
  const std::string& dial_host() const { return proxy_ ? proxy_->host : key_.host; }
  uint16_t dial_port() const { return proxy_ ? proxy_->port : key_.port; }
  std::shared_ptr<void> keep() const { return owner_.lock(); }
  // The request's `family` (0, 4 or 6).
  int family() const;
  bool wanted() const { return listener_.dial_for() != nullptr; }

  // A lookup through the engine's resolver, with the request's dnsServers and family.
  void lookup(const std::string& name, bool https_record, int family,
              std::function<void(dns::ResolveResult)> done);
  void on_resolve_target(dns::ResolveResult result);
  // The caller's answer (RequestSpec::dns, now dns_answer_) instead of the resolver's.
  void connect_to_answer();
  void resolve_dial_host();
  void on_resolve(dns::ResolveResult result);
  // The addresses to try, in Happy Eyeballs order (the first that accepts wins).
  using Endpoints = std::vector<asio::ip::tcp::endpoint>;
  void connect(Endpoints endpoints);
  // Happy Eyeballs v2 (RFC 8305 §5): one attempt now, the next one 250 ms later or as soon as one
  // fails, racing; the first to connect wins and the others are closed.
  void start_attempt();
  void on_attempt(size_t index, const asio::error_code& ec);
  void on_connect(const asio::error_code& ec);
  void start_proxy();
  void on_proxy_tls(const asio::error_code& ec);
  void start_tunnel();
  void drive_tunnel();
  void on_tunnel_write(const asio::error_code& ec);
  void on_tunnel_read(const asio::error_code& ec, size_t bytes);
  void start_target();
  void on_handshake(const asio::error_code& ec);
  // The server rejected our real ECH: once, a new connection with its retry configs (or, without
  // them, with GREASE only); true when that retry is under way (or the request failed for good).
  bool retry_after_ech_rejection(SSL* ssl, uint32_t packed_error);
  void fail_proxy(Stage stage, const std::string& why);

  const PoolKey& key_;
  Transport& transport_;
  TlsContextCache& tls_contexts_;
  TlsSessionCache* sessions_;
  DialListener& listener_;
  std::weak_ptr<void> owner_;
  asio::io_context& io_;
  dns::Resolver& resolver_;
  std::shared_ptr<dns::PendingLookup> lookup_;
  DnsAnswer dns_answer_;
  // The connection race: the endpoints in order, the next to try, the attempts started (each its
  // own socket until one wins and becomes the transport's), the delay before the next one.
  Endpoints endpoints_;
  size_t next_endpoint_ = 0;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> attempts_;
  size_t attempts_in_flight_ = 0;
  asio::steady_timer attempt_delay_;
  asio::error_code last_connect_error_;
  bool connected_ = false;
  bool cancelled_ = false;
  uint32_t race_ = 0;  // which race an attempt's handler belongs to
  // Proxy (key_.proxy parsed); the tunnel's handshake while it runs; the target's address for
  // proxies that take addresses (socks4, socks5), resolved here.
  std::optional<proxy::ProxyConfig> proxy_;
  std::unique_ptr<proxy::Handshake> tunnel_;
  std::string target_address_;
  // The first address the TCP connect tried ("127.0.0.1:443", "[::1]:443"): a failed connect names
  // it, as Go's dialer (and so cycletls's error text) does.
  std::string first_dialed_;
  bool absolute_form_ = false;
  bool tls_resumed_ = false;
  // ECH: the list the current handshake offers and the one retry (ech_attempt.h), and what the
  // handshake did.
  EchAttempt ech_;
  EchStatus ech_status_ = EchStatus::kNone;
};

}  // namespace ctn
