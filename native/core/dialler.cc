#include "core/dialler.h"

#include <utility>

namespace ctn {

Dialler::Dialler(asio::io_context& io, const PoolKey& key, Transport& transport,
                 TlsContextCache& tls_contexts, TlsSessionCache* sessions, DialListener& listener)
    : key_(key),
      transport_(transport),
      tls_contexts_(tls_contexts),
      sessions_(sessions),
      listener_(listener),
      resolver_(io) {
  if (!key_.proxy.empty()) {
    // The engine parsed it before it became a pool key: it parses again.
    proxy::ProxyConfig config;
    std::string why;
    if (proxy::parse_proxy_url(key_.proxy, &config, &why)) proxy_ = std::move(config);
  }
}

// ---- DNS and TCP ----

void Dialler::start(std::weak_ptr<void> owner) {
  owner_ = std::move(owner);
  // The caller resolved the name already (lib's `lookup` or DNS over HTTPS): its answer is the DNS
  // stage. Every exchange of this key carries the same address set (the key holds it).
  if (!key_.dial_addresses.empty() && !proxy_) {
    const Exchange* ex = listener_.dial_for();
    if (!ex) return;  // nobody wants the connection any more
    answer_ = ex->spec.dns;
    connect_to_answer();
    return;
  }
  if (proxy_ && proxy::resolves_locally(proxy_->scheme)) {
    // socks4 and socks5 send the target's address: the name is looked up here (socks5h and
    // socks4a leave that to the proxy).
    asio::error_code not_literal;
    asio::ip::make_address(key_.host, not_literal);
    if (not_literal) {
      resolver_.async_resolve(
          key_.host, std::to_string(key_.port),
          [this, keep = keep()](const asio::error_code& ec, asio::ip::tcp::resolver::results_type r) {
            on_resolve_target(ec, std::move(r));
          });
      return;
    }
    target_address_ = key_.host;
  }
  resolve_dial_host();
}

void Dialler::on_resolve_target(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results) {
  if (!wanted()) return;
  const bool v4_only = proxy_->scheme == proxy::Scheme::kSocks4;
  for (const auto& entry : results) {
    if (ec) break;
    const asio::ip::address a = entry.endpoint().address();
    if (v4_only && !a.is_v4()) continue;
    target_address_ = a.to_string();
    break;
  }
  if (target_address_.empty()) {
    listener_.dial_failed(Error{
        ErrorCode::kDns, Stage::kDns,
        "DNS lookup of " + key_.host +
            " failed: " + (ec ? ec.message() : "no IPv4 address (SOCKS4 carries IPv4 addresses only)")});
    return;
  }
  resolve_dial_host();
}

void Dialler::resolve_dial_host() {
  // An IP literal needs no lookup: the connect starts at once, without the round trip through the
  // resolver's thread (two thread hops per connection for getaddrinfo to parse the literal).
  asio::error_code not_literal;
  const asio::ip::address literal = asio::ip::make_address(dial_host(), not_literal);
  if (!not_literal) {
    if (!wanted()) return;
    connect(Endpoints{asio::ip::tcp::endpoint(literal, dial_port())});
    return;
  }
  resolver_.async_resolve(
      dial_host(), std::to_string(dial_port()),
      [this, keep = keep()](const asio::error_code& ec, asio::ip::tcp::resolver::results_type r) {
        on_resolve(ec, std::move(r));
      });
}

void Dialler::on_resolve(const asio::error_code& ec, asio::ip::tcp::resolver::results_type results) {
  if (!wanted()) return;
  if (ec) {
    if (proxy_) {
      fail_proxy(Stage::kDns, "DNS lookup of the proxy host " + proxy_->host + " failed: " + ec.message());
    } else {
      listener_.dial_failed(
          Error{ErrorCode::kDns, Stage::kDns, "DNS lookup of " + key_.host + " failed: " + ec.message()});
    }
    return;
  }
  Endpoints endpoints;
  endpoints.reserve(results.size());
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  connect(std::move(endpoints));
}

void Dialler::connect_to_answer() {
  Endpoints endpoints;
  for (const std::string& address : answer_.addresses) {
    asio::error_code not_literal;
    const asio::ip::address ip = asio::ip::make_address(address, not_literal);
    if (not_literal) {
      // lib/ checks them; another process on the link might not have. Reported from the io loop,
      // as a resolver's failure is: the connection is still opening when start() runs.
      Error bad{ErrorCode::kDns, Stage::kDns,
                "DNS lookup of " + key_.host + " gave " + address + ", not an IP address"};
      asio::post(resolver_.get_executor(), [this, keep = keep(), bad = std::move(bad)]() mutable {
        if (wanted()) listener_.dial_failed(std::move(bad));
      });
      return;
    }
    endpoints.emplace_back(ip, key_.port);
  }
  connect(std::move(endpoints));
}

void Dialler::connect(Endpoints endpoints) {
  listener_.dial_stage(Stage::kConnect);
  first_dialed_.clear();
  // The condition runs before each attempt, while the operation (and its handler's `keep`) lives.
  auto note_attempt = [this](const asio::error_code&, const asio::ip::tcp::endpoint& next) {
    if (first_dialed_.empty()) {
      const std::string address = next.address().to_string();
      const std::string host = next.address().is_v6() ? "[" + address + "]" : address;
      first_dialed_ = host + ":" + std::to_string(next.port());
    }
    return true;
  };
  asio::async_connect(
      transport_.socket(), std::move(endpoints), note_attempt,
      [this, keep = keep()](const asio::error_code& ec, const asio::ip::tcp::endpoint&) { on_connect(ec); });
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
  // The fingerprinted handshake runs end to end with the target, inside the tunnel when there is
  // one (the proxy relays its bytes; an https:// proxy's TLS carries them).
  SSL* ssl = transport_.add_target_tls(std::move(context));
  if (!prepare_connection(ssl, profile, options, key_.server_name, &error)) {
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
    listener_.dial_failed(
        classify_handshake_failure(ssl, from_tls ? static_cast<uint32_t>(ec.value()) : 0, ec.message()));
    return;
  }
  tls_resumed_ = SSL_session_reused(ssl) != 0;
  listener_.dialled(negotiated_alpn(ssl) == "h2");
}

}  // namespace ctn
