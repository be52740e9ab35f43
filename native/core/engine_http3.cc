// The engine's HTTP/3 choices (the rest of Engine::Impl is in engine.cc): whether an exchange goes
// over QUIC (http3 "force", or "alt-svc" with an alternative remembered for its origin), what the
// origin's Alt-Svc fields and DNS HTTPS records teach, and how a QUIC attempt's failure or success
// changes what later requests do.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine_impl.h"
#include "core/quic_options.h"

namespace ctn {

bool Engine::Impl::choose_http3(Exchange& ex, Error* error) {
  const RequestSpec& s = ex.spec;
  if (s.http3 == "force") {
    const auto refuse = [&](std::string why) {
      *error = Error{ErrorCode::kInvalidOption, Stage::kQueue, std::move(why)};
      return false;
    };
    if (!s.tls) return refuse("HTTP/3 needs an https:// URL");
    if (!s.proxy.empty()) {
      proxy::ProxyConfig config;
      std::string why;
      const bool socks = proxy::parse_proxy_url(s.proxy, &config, &why) &&
                         config.scheme != proxy::Scheme::kHttp && config.scheme != proxy::Scheme::kHttps;
      return refuse(socks
                        ? "HTTP/3 through a SOCKS proxy needs UDP ASSOCIATE, which is not supported"
                        : "HTTP/3 cannot go through an HTTP proxy (as in Chrome): drop the proxy or HTTP/3");
    }
    if (s.upgrade) return refuse("WebSockets over HTTP/3 are not supported");
    if (!profile_supports_http3(*ex.profile, error)) return false;
    ex.key.quic_host = s.host;
    ex.key.quic_port = s.port;
    return true;
  }
  if (s.http3 != "alt-svc" || s.upgrade || !s.proxy.empty() || !s.tls || s.force_http1) return true;
  // A quicFingerprint the caller gave is refused by name, even where QUIC is only a possibility.
  if (!ex.profile->quic_fingerprint.empty() && !profile_supports_http3(*ex.profile, error)) return false;
  if (Error unsupported; !profile_supports_http3(*ex.profile, &unsupported)) return true;  // TCP, as asked
  const std::vector<AltSvcEndpoint> alternatives = alt_svc.lookup(alt_svc_key(ex.key));
  if (alternatives.empty()) return true;
  ex.key.quic_host = alternatives.front().host;
  ex.key.quic_port = alternatives.front().port;
  return true;
}

void Engine::Impl::http3_fallback(const std::shared_ptr<Exchange>& ex) {
  ex->key.quic_host.clear();
  ex->key.quic_port = 0;
  dispatch_or_requeue(ex);
}

void Engine::Impl::http3_broken(const PoolKey& quic_key) {
  alt_svc.mark_broken(alt_svc_key(quic_key), AltSvcEndpoint{quic_key.quic_host, quic_key.quic_port});
}

void Engine::Impl::http3_confirmed(const PoolKey& quic_key) {
  alt_svc.confirm(alt_svc_key(quic_key), AltSvcEndpoint{quic_key.quic_host, quic_key.quic_port});
}

void Engine::Impl::learn_alternatives(const PoolKey& key, const HeaderList& headers) {
  std::vector<std::string_view> lines;
  for (const Header& h : headers) {
    if (iequals(h.name, "alt-svc")) lines.push_back(h.value);
  }
  if (lines.empty() || !alt_svc_applies(key)) return;
  alt_svc.record_fields(alt_svc_key(key), lines);
}

void Engine::Impl::learn_alternatives(const PoolKey& key, const DnsAnswer& answer) {
  // Chrome races QUIC already on the first request when the HTTPS record lists h3; here the record
  // feeds the same memory Alt-Svc does, so the origin's next requests (http3: 'alt-svc') take QUIC.
  if (std::find(answer.alpn.begin(), answer.alpn.end(), "h3") == answer.alpn.end()) return;
  if (!alt_svc_applies(key)) return;
  std::string field = "h3=\":";
  field.append(std::to_string(key.port));
  field.append("\"; ma=");
  field.append(std::to_string(std::max<uint32_t>(answer.ttl_seconds, 1)));
  const std::vector<std::string_view> lines{field};
  alt_svc.record_fields(alt_svc_key(key), lines);
}

}  // namespace ctn
