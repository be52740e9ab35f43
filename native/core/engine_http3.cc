// The engine's HTTP/3 choices (the rest of Engine::Impl is in engine.cc): whether an exchange goes
// over QUIC (http3 "force", or "alt-svc" with an alternative remembered for its origin or advertised
// by its HTTPS record, asked first on a cold origin), what the origin's Alt-Svc fields and DNS HTTPS
// records teach, and how a QUIC attempt's failure or success changes what later requests do.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/dialler.h"
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
  if (take_alternative(ex)) return true;
  if (!ex.key.dial_addresses.empty()) {
    // The caller's answer (DNS over HTTPS) came with the request: its HTTPS record counts at once.
    learn_alternatives(ex.key, s.dns);
    take_alternative(ex);
    return true;
  }
  ex.h3_discovery = true;
  return true;
}

bool Engine::Impl::take_alternative(Exchange& ex) {
  const std::vector<AltSvcEndpoint> alternatives = alt_svc.lookup(alt_svc_key(ex.key));
  if (alternatives.empty()) return false;
  ex.key.quic_host = alternatives.front().host;
  ex.key.quic_port = alternatives.front().port;
  return true;
}

bool Engine::Impl::resolve_first(const std::shared_ptr<Exchange>& ex) {
  const RequestSpec& s = ex->spec;
  asio::error_code not_literal;
  asio::ip::make_address(s.host, not_literal);
  if (!not_literal) return false;  // an IP literal has no HTTPS record
  // A connection to the origin exists or is being made: its dial learns (or learnt) the record, and
  // the request rides on it, as in Chrome, which asks DNS only for a new connection.
  if (pool.has_connection(ex->key)) return false;
  enter_stage(ex, Stage::kDns);
  auto [waiting, first] = resolving_first_.try_emplace(ex->key);
  waiting->second.waiting.push_back(ex);
  if (!first) return true;
  // The dialler's query (and the QUIC channel's): one lookup, whose cached answer serves both.
  dns::ResolveQuery query = lookup_query(ex.get(), s.host);
  query.https_record = true;
  query.port = s.port;
  waiting->second.lookup = resolver.resolve(
      std::move(query), [this, key = ex->key](dns::ResolveResult r) { resolved_first(key, std::move(r)); });
  return true;
}

void Engine::Impl::resolved_first(const PoolKey& key, dns::ResolveResult result) {
  auto it = resolving_first_.find(key);
  if (it == resolving_first_.end()) return;
  const auto waiting = std::move(it->second.waiting);
  resolving_first_.erase(it);
  if (result.error.empty()) learn_alternatives(key, result.answer);
  for (const auto& ex : waiting) {
    if (ex->done) continue;
    if (!result.error.empty()) {
      // As the dialler would have failed it (a timeout is not cached: asking again would wait again).
      exchange_failed(
          ex, Error{ErrorCode::kDns, Stage::kDns, "DNS lookup of " + key.host + " failed: " + result.error},
          false);
      continue;
    }
    take_alternative(*ex);
    ex->stage = Stage::kQueue;
    // The connect deadline armed for the lookup goes on into the connection's dial (it covers both,
    // as without discovery), but not while the request waits in its queue.
    place(ex);
    if (!ex->done && ex->queued) enter_stage(ex, Stage::kQueue);
  }
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
  // The record feeds the memory Alt-Svc feeds, so the one race (and its broken marking) serves both.
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
