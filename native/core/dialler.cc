#include "core/dialler.h"

#include <chrono>
#include <utility>

#include "dns/happy_eyeballs.h"

namespace ctn {

Dialler::Dialler(asio::io_context& io, const PoolKey& key, Transport& transport,
                 TlsContextCache& tls_contexts, TlsSessionCache* sessions, dns::Resolver& resolver,
                 DialListener& listener)
    : key_(key),
      transport_(transport),
      tls_contexts_(tls_contexts),
      sessions_(sessions),
      listener_(listener),
      io_(io),
      resolver_(resolver),
      attempt_delay_(io) {
  if (!key_.proxy.empty()) {
    // The engine parsed it before it became a pool key: it parses again.
    proxy::ProxyConfig config;
    std::string why;
    if (proxy::parse_proxy_url(key_.proxy, &config, &why)) proxy_ = std::move(config);
  }
}

void Dialler::cancel() {
  cancelled_ = true;
  if (lookup_) lookup_->cancel();
  attempt_delay_.cancel();
  asio::error_code ignored;
  for (auto& attempt : attempts_) attempt->close(ignored);
}

// ---- DNS and TCP ----

dns::ResolveQuery lookup_query(const Exchange* ex, std::string name) {
  dns::ResolveQuery query;
  query.name = std::move(name);
  if (!ex) return query;
  query.servers = ex->spec.dns_servers;
  query.family = static_cast<int>(ex->spec.family);
  // The cache is the identity's own: another identity never sees its answers or their timing.
  query.identity = ex->spec.identity;
  return query;
}

void Dialler::lookup(const std::string& name, bool https_record, int family,
                     std::function<void(dns::ResolveResult)> done) {
  dns::ResolveQuery query = lookup_query(listener_.dial_for(), name);
  query.https_record = https_record;
  query.port = key_.port;
  query.family = family;
  lookup_ = resolver_.resolve(std::move(query), [done = std::move(done), keep = keep()](
                                                    dns::ResolveResult r) { done(std::move(r)); });
}

int Dialler::family() const {
  const Exchange* ex = listener_.dial_for();
  return ex ? static_cast<int>(ex->spec.family) : 0;
}

void Dialler::start(std::weak_ptr<void> owner) {
  owner_ = std::move(owner);
  // The caller resolved the name already (lib's `lookup` or DNS over HTTPS): its answer is the DNS
  // stage. Every exchange of this key carries the same address set (the key holds it).
  if (!key_.dial_addresses.empty() && !proxy_) {
    const Exchange* ex = listener_.dial_for();
    if (!ex) return;  // nobody wants the connection any more
    dns_answer_ = ex->spec.dns;
    connect_to_answer();
    return;
  }
  if (proxy_ && proxy::resolves_locally(proxy_->scheme)) {
    // socks4 and socks5 send the target's address: the name is looked up here (socks5h and
    // socks4a leave that to the proxy).
    asio::error_code not_literal;
    asio::ip::make_address(key_.host, not_literal);
    if (not_literal) {
      const int family = proxy_->scheme == proxy::Scheme::kSocks4 ? 4 : this->family();
      lookup(key_.host, false, family, [this](dns::ResolveResult r) { on_resolve_target(std::move(r)); });
      return;
    }
    target_address_ = key_.host;
  }
  resolve_dial_host();
}

void Dialler::on_resolve_target(dns::ResolveResult result) {
  if (!wanted() || cancelled_) return;
  const bool v4_only = proxy_->scheme == proxy::Scheme::kSocks4;
  const std::vector<std::string> ordered =
      dns::happy_eyeballs_order(result.answer.addresses, v4_only ? 4 : family());
  if (result.error.empty() && !ordered.empty()) target_address_ = ordered.front();
  if (target_address_.empty()) {
    const std::string why = !result.error.empty() ? result.error
                            : v4_only             ? "no IPv4 address (SOCKS4 carries IPv4 addresses only)"
                                                  : "no address of the family asked for";
    listener_.dial_failed(
        Error{ErrorCode::kDns, Stage::kDns, "DNS lookup of " + key_.host + " failed: " + why});
    return;
  }
  resolve_dial_host();
}

void Dialler::resolve_dial_host() {
  // An IP literal needs no lookup: the connect starts at once.
  asio::error_code not_literal;
  const asio::ip::address literal = asio::ip::make_address(dial_host(), not_literal);
  if (!not_literal) {
    if (!wanted()) return;
    connect(Endpoints{asio::ip::tcp::endpoint(literal, dial_port())});
    return;
  }
  // The HTTPS record is asked for an https:// target we connect to ourselves (through an HTTP or
  // SOCKS5h proxy the proxy resolves the name, and nothing here may ask for it).
  const bool https_record = !proxy_ && key_.tls;
  lookup(dial_host(), https_record, family(), [this](dns::ResolveResult r) { on_resolve(std::move(r)); });
}

void Dialler::on_resolve(dns::ResolveResult result) {
  if (!wanted() || cancelled_) return;
  const std::vector<std::string> ordered = dns::happy_eyeballs_order(result.answer.addresses, family());
  if (!result.error.empty() || ordered.empty()) {
    const std::string why = !result.error.empty() ? result.error : "no address of the family asked for";
    if (proxy_) {
      fail_proxy(Stage::kDns, "DNS lookup of the proxy host " + proxy_->host + " failed: " + why);
    } else {
      listener_.dial_failed(
          Error{ErrorCode::kDns, Stage::kDns, "DNS lookup of " + key_.host + " failed: " + why});
    }
    return;
  }
  if (!proxy_) dns_answer_ = std::move(result.answer);
  Endpoints endpoints;
  endpoints.reserve(ordered.size());
  for (const std::string& address : ordered) {
    asio::error_code bad;
    const asio::ip::address a = asio::ip::make_address(address, bad);
    if (!bad) endpoints.emplace_back(a, dial_port());
  }
  connect(std::move(endpoints));
}

void Dialler::connect_to_answer() {
  // Every address is checked before the order drops what is not one of the family's.
  for (const std::string& address : dns_answer_.addresses) {
    asio::error_code not_literal;
    asio::ip::make_address(address, not_literal);
    if (not_literal) {
      // lib/ checks them; another process on the link might not have. Reported from the io loop,
      // as a resolver's failure is: the connection is still opening when start() runs.
      Error bad{ErrorCode::kDns, Stage::kDns,
                "DNS lookup of " + key_.host + " gave " + address + ", not an IP address"};
      asio::post(io_, [this, keep = keep(), bad = std::move(bad)]() mutable {
        if (wanted()) listener_.dial_failed(std::move(bad));
      });
      return;
    }
  }
  Endpoints endpoints;
  for (const std::string& address : dns::happy_eyeballs_order(dns_answer_.addresses, family())) {
    endpoints.emplace_back(asio::ip::make_address(address), key_.port);
  }
  if (endpoints.empty()) {
    Error none{ErrorCode::kDns, Stage::kDns,
               "DNS lookup of " + key_.host + " failed: no address of the family asked for"};
    asio::post(io_, [this, keep = keep(), none = std::move(none)]() mutable {
      if (wanted()) listener_.dial_failed(std::move(none));
    });
    return;
  }
  connect(std::move(endpoints));
}

void Dialler::connect(Endpoints endpoints) {
  listener_.dial_stage(Stage::kConnect);
  const asio::ip::address first = endpoints.front().address();
  const std::string address = first.to_string();
  first_dialed_ = (first.is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(dial_port());
  endpoints_ = std::move(endpoints);
  next_endpoint_ = 0;
  // A new race (the first, or the one reconnect after an ECH rejection): the last race's attempts
  // are closed and their handlers, should any still be queued, see another race number.
  ++race_;
  connected_ = false;
  attempts_.clear();
  attempts_in_flight_ = 0;
  start_attempt();
}

void Dialler::start_attempt() {
  if (next_endpoint_ >= endpoints_.size()) return;
  const size_t index = attempts_.size();
  attempts_.push_back(std::make_unique<asio::ip::tcp::socket>(io_));
  ++attempts_in_flight_;
  attempts_.back()->async_connect(endpoints_[next_endpoint_++],
                                  [this, race = race_, index, keep = keep()](const asio::error_code& ec) {
                                    if (race == race_) on_attempt(index, ec);
                                  });
  if (next_endpoint_ >= endpoints_.size()) return;
  attempt_delay_.expires_after(std::chrono::milliseconds(dns::kConnectionAttemptDelayMs));
  attempt_delay_.async_wait([this, race = race_, keep = keep()](const asio::error_code& ec) {
    if (!ec && race == race_ && !connected_ && !cancelled_ && wanted()) start_attempt();
  });
}

void Dialler::on_attempt(size_t index, const asio::error_code& ec) {
  // A loser closed after the race was won (or the race called off): nothing more to do.
  if (connected_ || cancelled_) return;
  --attempts_in_flight_;
  if (!wanted()) return;
  asio::error_code ignored;
  if (ec) {
    last_connect_error_ = ec;
    attempts_[index]->close(ignored);
    if (next_endpoint_ < endpoints_.size()) {
      // RFC 8305 §5: a failed attempt starts the next one at once.
      attempt_delay_.cancel();
      start_attempt();
    } else if (attempts_in_flight_ == 0) {
      on_connect(last_connect_error_);
    }
    return;
  }
  connected_ = true;
  attempt_delay_.cancel();
  transport_.socket() = std::move(*attempts_[index]);
  for (auto& attempt : attempts_) attempt->close(ignored);
  on_connect(ec);
}

void Dialler::on_connect(const asio::error_code& ec) {
  if (!wanted()) return;
  if (ec) {
    // A host name is followed by the address tried: "connect to localhost:8443 (127.0.0.1:8443)".
    const std::string named = dial_host() + ":" + std::to_string(dial_port());
    const bool literal = first_dialed_.empty() || first_dialed_ == named ||
                         first_dialed_ == "[" + dial_host() + "]:" + std::to_string(dial_port());
    const std::string what = "connect to " + std::string(proxy_ ? "the proxy " : "") + named +
                             (literal ? "" : " (" + first_dialed_ + ")") + " failed: " + ec.message();
    if (proxy_) {
      fail_proxy(Stage::kConnect, what);
      return;
    }
    const bool refused = ec == asio::error::connection_refused;
    listener_.dial_failed(
        Error{refused ? ErrorCode::kConnectRefused : ErrorCode::kConnect, Stage::kConnect, what});
    return;
  }
  asio::error_code ignored;
  transport_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  listener_.dial_tcp_connected();
  if (proxy_) {
    start_proxy();
    return;
  }
  start_target();
}

// ---- through a proxy ----

void Dialler::fail_proxy(Stage stage, const std::string& why) {
  listener_.dial_failed(
      Error{ErrorCode::kProxy, stage, why + " (proxy " + proxy::redacted_url(*proxy_) + ")"});
}

void Dialler::start_proxy() {
  listener_.dial_stage(Stage::kProxy);
  if (proxy_->scheme != proxy::Scheme::kHttps) {
    start_tunnel();
    return;
  }
  // TLS to the proxy itself: verified as any server is (unless insecureSkipVerify), HTTP/1.1 only.
  Error error;
  const TlsOptions options{key_.verify, true};
  const Profile& profile = *listener_.dial_for()->profile;
  auto context = tls_contexts_.get(profile, options, &error);
  if (!context) {
    listener_.dial_failed(std::move(error));
    return;
  }
  Transport::TlsStream& tls = transport_.add_proxy_tls(std::move(context));
  if (!prepare_connection(tls.native_handle(), profile, options, proxy_->host, &error)) {
    listener_.dial_failed(std::move(error));
    return;
  }
  tls.async_handshake(asio::ssl::stream_base::client,
                      [this, keep = keep()](const asio::error_code& ec) { on_proxy_tls(ec); });
}

void Dialler::on_proxy_tls(const asio::error_code& ec) {
  if (!wanted()) return;
  if (ec) {
    const bool from_tls = ec.category() == asio::error::get_ssl_category();
    const Error why =
        classify_handshake_failure(transport_.proxy_tls()->native_handle(),
                                   from_tls ? static_cast<uint32_t>(ec.value()) : 0, ec.message());
    fail_proxy(Stage::kProxy, "the TLS handshake with the proxy failed: " + why.message);
    return;
  }
  start_tunnel();
}

void Dialler::start_tunnel() {
  const Exchange* ex = listener_.dial_for();
  if (proxy::is_http_proxy(proxy_->scheme) && !key_.tls && !(ex && ex->spec.upgrade)) {
    // Plain HTTP through an HTTP proxy: absolute-form requests, no tunnel. An upgrade needs the
    // bytes after it to reach the target untouched: it goes through CONNECT.
    absolute_form_ = true;
    start_target();
    return;
  }
  tunnel_ = std::make_unique<proxy::Handshake>(*proxy_, target_address_.empty() ? key_.host : target_address_,
                                               key_.port);
  drive_tunnel();
}

void Dialler::drive_tunnel() {
  switch (tunnel_->status()) {
    case proxy::Handshake::Status::kSend:
      transport_.with_stream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(tunnel_->output()),
                          [this, keep = keep()](const asio::error_code& ec, size_t n) {
                            listener_.dial_io(0, n);
                            on_tunnel_write(ec);
                          });
      });
      return;
    case proxy::Handshake::Status::kReceive:
      transport_.with_stream([&](auto& stream) {
        stream.async_read_some(
            asio::buffer(transport_.read_buffer()),
            [this, keep = keep()](const asio::error_code& ec, size_t n) { on_tunnel_read(ec, n); });
      });
      return;
    case proxy::Handshake::Status::kDone:
      tunnel_.reset();
      start_target();
      return;
    case proxy::Handshake::Status::kFailed:
      fail_proxy(Stage::kProxy, tunnel_->error());
      return;
  }
}

void Dialler::on_tunnel_write(const asio::error_code& ec) {
  if (!wanted()) return;
  if (ec) {
    fail_proxy(Stage::kProxy, "sending the tunnel request to the proxy failed: " + ec.message());
    return;
  }
  tunnel_->sent();
  drive_tunnel();
}

void Dialler::on_tunnel_read(const asio::error_code& ec, size_t bytes) {
  if (!wanted()) return;
  if (ec) {
    fail_proxy(Stage::kProxy, std::string(is_eof(ec) ? "the proxy closed the connection" : ec.message()) +
                                  " before the tunnel was open");
    return;
  }
  listener_.dial_io(bytes, 0);
  const size_t used = tunnel_->feed(std::string_view(transport_.read_buffer().data(), bytes));
  if (used < bytes && tunnel_->status() != proxy::Handshake::Status::kFailed) {
    // The target speaks only after our first bytes (TLS ClientHello, HTTP request): anything
    // here came from the proxy, which is not following the protocol.
    fail_proxy(Stage::kProxy, "the proxy sent more than its reply");
    return;
  }
  drive_tunnel();
}

// ---- the target ----

// TCP (and the proxy's tunnel) are up: plain HTTP is ready, or the target's TLS handshake starts.
void Dialler::start_target() {
  if (!key_.tls) {
    listener_.dialled(false);
    return;
  }
  Error error;
  const TlsOptions options{key_.verify, key_.http1_only, key_.http1_retry};
  const Profile& profile = *listener_.dial_for()->profile;
  auto context = tls_contexts_.get(profile, options, &error);
  if (!context) {
    listener_.dial_failed(std::move(error));
    return;
  }
  // ECH: dns_answer_.ech_config_list is the target's ECHConfigList from its HTTPS record ("" = none).
  // The fingerprinted handshake runs end to end with the target, inside the tunnel when there is
  // one (the proxy relays its bytes; an https:// proxy's TLS carries them).
  if (!ech_.choose(listener_.dial_for()->spec.ech_config_list, dns_answer_.ech_config_list, &error)) {
    listener_.dial_failed(std::move(error));
    return;
  }
  SSL* ssl = transport_.add_target_tls(std::move(context));
  if (!prepare_connection(ssl, profile, options, key_.server_name, &error, ech_.config_list())) {
    ech_.blame(&error);
    listener_.dial_failed(std::move(error));
    return;
  }
  if (sessions_) {
    transport_.session_slot() = TlsSessionCache::Slot{sessions_, tls_session_key(key_)};
    sessions_->attach(ssl, &transport_.session_slot());
  }
  listener_.dial_stage(Stage::kTls);
  transport_.async_target_handshake([this, keep = keep()](const asio::error_code& ec) { on_handshake(ec); });
}

void Dialler::on_handshake(const asio::error_code& ec) {
  if (!wanted()) return;
  SSL* ssl = transport_.target_ssl();
  if (ec) {
    const bool from_tls = ec.category() == asio::error::get_ssl_category();
    const uint32_t packed = from_tls ? static_cast<uint32_t>(ec.value()) : 0;
    if (retry_after_ech_rejection(ssl, packed)) return;
    listener_.dial_failed(classify_handshake_failure(ssl, packed, ec.message()));
    return;
  }
  tls_resumed_ = SSL_session_reused(ssl) != 0;
  ech_status_ = ech_status_of(ssl, listener_.dial_for()->profile->tls);
  listener_.dialled(negotiated_alpn(ssl) == "h2");
}

// ---- Encrypted ClientHello ----

// The server rejected our real ECH (EchAttempt::retry says what follows): a new connection, over
// the same addresses.
bool Dialler::retry_after_ech_rejection(SSL* ssl, uint32_t packed_error) {
  std::string retry_configs;
  if (!ech_.offered() || !ech_rejected(ssl, packed_error, &retry_configs)) return false;
  if (Error again; !ech_.retry(std::move(retry_configs), &again)) {
    listener_.dial_failed(std::move(again));
    return true;
  }
  tunnel_.reset();
  transport_.reset();
  if (!key_.dial_addresses.empty() && !proxy_) {
    connect_to_answer();  // the caller's answer again (dns_answer_ still holds it)
  } else {
    resolve_dial_host();
  }
  return true;
}

}  // namespace ctn
