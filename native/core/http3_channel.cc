#include "core/http3_channel.h"

#include <algorithm>
#include <utility>

#include "core/connection.h"
#include "core/dialler.h"
#include "core/engine_impl.h"
#include "core/quic_options.h"
#include "dns/happy_eyeballs.h"
#include "http1/request_writer.h"

namespace ctn {

// What the QUIC connection calls: forwards to the channel while it exists (the connection may
// outlive it by a posted handler or two), keeping the pooled connection alive during each call.
struct Http3Channel::Events final : quic::ConnectionListener {
  Http3Channel* channel = nullptr;
  void on_established() override {
    if (!channel) return;
    auto keep = channel->host_.self();
    channel->on_established();
  }
  void on_closed(const Error& why) override {
    if (!channel) return;
    auto keep = channel->host_.self();
    channel->on_closed(why);
  }
};

struct Http3Channel::StreamEvents final : quic::StreamListener {
  explicit StreamEvents(std::shared_ptr<Events> e) : events(std::move(e)) {}
  std::shared_ptr<Events> events;
  uint64_t handle = 0;
  template <typename F>
  void with_channel(F&& f) {
    if (Http3Channel* c = events->channel) {
      auto keep = c->host_.self();
      f(*c);
    }
  }
  void on_head(ResponseHead&& head) override {
    with_channel([&](Http3Channel& c) { c.on_head(handle, std::move(head)); });
  }
  void on_body(std::string_view bytes) override {
    with_channel([&](Http3Channel& c) { c.on_body(handle, bytes); });
  }
  void on_end(const Error* error) override {
    with_channel([&](Http3Channel& c) { c.on_end(handle, error); });
  }
  void on_body_sent(uint64_t n) override {
    with_channel([&](Http3Channel& c) { c.on_body_sent(handle, n); });
  }
};

Http3Channel::Http3Channel(ChannelHost& host)
    : host_(host),
      engine_(host.engine()),
      race_timer_(host.engine().io),
      events_(std::make_shared<Events>()) {
  events_->channel = this;
}

Http3Channel::~Http3Channel() {
  events_->channel = nullptr;
  if (quic_) quic_->close();
}

// ---- resolving and starting ----

void Http3Channel::open(std::shared_ptr<Exchange> first) {
  before_start_.push_back(std::move(first));
  const PoolKey& key = host_.pool_key();
  if (!key.dial_addresses.empty() && key.quic_host == key.host) {
    // The caller resolved the origin (lib's `lookup` or DNS over HTTPS): its answer takes the
    // resolver's place, ordered and checked as the resolver's would be. An Alt-Svc alternative on
    // another host is resolved here as ever.
    asio::post(engine_.io, [this, keep = host_.self(), answer = before_start_.front()->spec.dns]() mutable {
      if (!closed_ && !before_start_.empty()) on_resolved(dns::ResolveResult{std::move(answer), {}});
    });
    return;
  }
  dns::ResolveQuery query = lookup_query(before_start_.front().get(), key.quic_host);
  // The origin's own HTTPS record gives the ECHConfigList, as for TCP (the same query, named by the
  // origin's port, so one cached answer serves both); an Alt-Svc alternative on another host offers
  // none.
  if (key.quic_host == key.host) {
    query.https_record = true;
    query.port = key.port;
  }
  lookup_ = engine_.resolver.resolve(
      std::move(query), [this, keep = host_.self()](dns::ResolveResult r) { on_resolved(std::move(r)); });
}

void Http3Channel::on_resolved(dns::ResolveResult result) {
  if (closed_) return;
  // One address: QUIC has no connection race here; the first in Happy Eyeballs order (IPv6 first).
  const int family = before_start_.empty() ? 0 : static_cast<int>(before_start_.front()->spec.family);
  const std::vector<std::string> ordered = dns::happy_eyeballs_order(result.answer.addresses, family);
  asio::error_code bad;
  const asio::ip::address address =
      ordered.empty() ? asio::ip::address() : asio::ip::make_address(ordered.front(), bad);
  if (ordered.empty() || bad || before_start_.empty()) {
    const std::string why = !result.error.empty() ? result.error : "no address of the family asked for";
    const Error error{ErrorCode::kDns, Stage::kDns,
                      "cannot resolve " + host_.pool_key().quic_host + ": " + why};
    auto waiting = std::move(before_start_);
    before_start_.clear();
    for (auto& ex : waiting) fail_exchange(ex, error);
    host_.close("the QUIC endpoint could not be resolved");
    return;
  }
  if (host_.pool_key().quic_host == host_.pool_key().host)
    dns_ech_config_list_ = result.answer.ech_config_list;
  server_ = asio::ip::udp::endpoint(address, host_.pool_key().quic_port);
  start_quic();
}

void Http3Channel::start_quic() {
  const Exchange& first = *before_start_.front();
  if (Error error; !ech_.choose(first.spec.ech_config_list, dns_ech_config_list_, &error)) {
    auto waiting = std::move(before_start_);
    before_start_.clear();
    for (auto& ex : waiting) fail_exchange(ex, error);
    host_.close("the request's echConfigList is not base64");
    return;
  }
  quic::Options options = quic_options_from_profile(*first.profile, host_.pool_key(), server_, ech_);
  // alt-svc mode: TCP is the way that works already, so a QUIC handshake that gets no answer (UDP
  // dropped on the way) gives up soon and the exchange goes over TCP.
  alt_svc_ = first.spec.http3 == "alt-svc";
  if (alt_svc_) options.handshake_timeout_ms = kAltSvcHandshakeBudgetMs;
  quic_ = quic::ClientConnection::create(engine_.io, std::move(options));
  quic_->set_listener(events_);
  engine_.counters.connection_established(false, false);
  auto waiting = std::move(before_start_);
  before_start_.clear();
  // Those carried over from a connection whose ECH was rejected were counted there already.
  const auto carried = std::move(ech_retry_);
  ech_retry_.clear();
  for (auto& ex : waiting) start_stream(ex, std::find(carried.begin(), carried.end(), ex) == carried.end());
  host_.account();
  // After the streams are queued: a start that fails at once (the port closed) reports to them.
  quic_->start();
  if (alt_svc_ && !closed_) {
    race_timer_.expires_after(std::chrono::milliseconds(kAltSvcRaceDelayMs));
    race_timer_.async_wait([this, keep = host_.self()](const asio::error_code& ec) { on_race_lost(ec); });
  }
}

void Http3Channel::on_race_lost(const asio::error_code& ec) {
  if (ec || closed_ || established_) return;
  race_lost_ = true;
  std::vector<std::shared_ptr<Exchange>> racing;
  for (auto& [handle, ex] : streams_) {
    if (ex->spec.http3 == "alt-svc" && !ex->head_seen) racing.push_back(ex);
  }
  for (auto& ex : racing) fall_back(ex);
}

void Http3Channel::fall_back(const std::shared_ptr<Exchange>& ex) {
  abandon(ex);  // its stream is reset (the server never saw it: the handshake is not done)
  ex->connection.reset();
  engine_.http3_fallback(ex);
}

void Http3Channel::submit(std::shared_ptr<Exchange> ex) {
  if (closed_) {
    fail_exchange(ex, Error{ErrorCode::kConnectionClosed, Stage::kEngine, kConnectionClosedReason});
    return;
  }
  ex->connection = host_.self();
  if (!quic_) {
    engine_.enter_stage(ex, Stage::kDns);
    before_start_.push_back(std::move(ex));
    return;
  }
  if (race_lost_ && !established_ && ex->spec.http3 == "alt-svc") {
    // This connection lost the race: TCP serves until (unless) its handshake completes.
    fall_back(ex);
    return;
  }
  start_stream(ex);
}

void Http3Channel::start_stream(const std::shared_ptr<Exchange>& ex, bool count) {
  host_.became_busy();
  ex->connection = host_.self();
  ex->reset_response();
  const RequestSpec& s = ex->spec;
  quic::Request request;
  request.method = s.method;
  const Header* host_header = find_header(s.headers, "host");
  request.authority = host_header ? host_header->value : host_.pool_key().host;
  request.path = s.target;
  // The preset's defaults as the browser sends them over HTTP/3 (Firefox: alt-used, no te), the
  // caller's own headers kept, as HTTP/1.1 respells the HTTP/2 list.
  request.headers = s.preset_headers
                        ? http1::respell_preset_headers(s.headers, ex->profile->headers,
                                                        profile_headers(*ex->profile, HeaderSet::kHttp3))
                        : s.headers;
  request.body = s.body;
  request.body_stream = s.body_stream;
  if (s.body_stream) {
    for (std::string& piece : ex->upload) {
      ex->upload_taken += piece.size();
      request.body += piece;
    }
    ex->upload.clear();
  }
  auto events = std::make_shared<StreamEvents>(events_);
  const uint64_t handle = quic_->open_stream(std::move(request), events);
  events->handle = handle;
  ex->quic_stream = handle;
  if (s.body_stream && ex->upload_ended) {
    quic_->write_body(handle, {}, true);
    ex->upload_end_given = true;
  }
  if (streams_started_++ > 0) ex->reused_connection = true;
  if (count) engine_.counters.count_exchange(ex->reused_connection);
  streams_[handle] = ex;
  if (!established_) {
    engine_.enter_stage(ex, Stage::kTls);
  } else {
    engine_.enter_stage(ex, s.body_stream && !ex->upload_end_given ? Stage::kWrite : Stage::kHeaders);
  }
  host_.account();
}

void Http3Channel::on_established() {
  if (closed_) return;
  established_ = true;
  engine_.counters.connection_established(true, false);
  for (auto& [handle, ex] : streams_) {
    engine_.enter_stage(ex, ex->spec.body_stream && !ex->upload_end_given ? Stage::kWrite : Stage::kHeaders);
  }
  race_timer_.cancel();
  engine_.http3_confirmed(host_.pool_key());
  auto conn = host_.self();
  conn->http3_established();
  engine_.http2_ready(conn);
}

void Http3Channel::on_closed(const Error& why) {
  if (closed_) return;
  if (!ech_retry_.empty()) return retry_after_ech_rejection();
  // Every stream got its on_end before this; what remains is the connection itself. An alt-svc
  // alternative that failed before its handshake backs off (Chrome's broken alternative services).
  (void)why;
  if (alt_svc_ && !established_) engine_.http3_broken(host_.pool_key());
  host_.close("the QUIC connection was closed");
}

// ---- Encrypted ClientHello ----

// The server rejected our real ECH (the exchanges that were on that connection wait in ech_retry_):
// one new QUIC connection, with its retry configs or without ECH, as TCP's dialler does
// (EchAttempt::retry). The streams of the closing connection are gone; the new one takes them anew.
void Http3Channel::retry_after_ech_rejection() {
  Error again;
  if (!ech_.retry(quic_->ech_retry_configs(), &again)) {  // cannot happen: on_end failed them
    auto carried = std::move(ech_retry_);
    ech_retry_.clear();
    for (auto& ex : carried) fail_exchange(ex, again);
    host_.close("the QUIC connection was closed");
    return;
  }
  // The rejected connection's events stop here; it is kept until the channel goes (its handler
  // is still running).
  events_->channel = nullptr;
  events_ = std::make_shared<Events>();
  events_->channel = this;
  rejected_quic_ = std::move(quic_);
  race_timer_.cancel();
  race_lost_ = false;
  streams_started_ = 0;
  before_start_.insert(before_start_.begin(), ech_retry_.begin(), ech_retry_.end());
  asio::post(engine_.io, [this, keep = host_.self()] {
    if (!closed_ && !before_start_.empty()) start_quic();
  });
}

// ---- responses ----

void Http3Channel::on_head(uint64_t handle, ResponseHead&& head) {
  auto it = streams_.find(handle);
  if (it == streams_.end()) return;
  host_.begin_response(*it->second, std::move(head));
  schedule_flush(handle);
}

void Http3Channel::on_body(uint64_t handle, std::string_view bytes) {
  auto it = streams_.find(handle);
  if (it == streams_.end()) return;
  host_.sink().append(*it->second, bytes);
  schedule_flush(handle);
}

void Http3Channel::schedule_flush(uint64_t handle) {
  touched_.push_back(handle);
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(engine_.io, [this, keep = host_.self()] {
    flush_posted_ = false;
    flush_touched();
  });
}

void Http3Channel::flush_touched() {
  auto touched = std::move(touched_);
  touched_.clear();
  for (uint64_t handle : touched) {
    auto it = streams_.find(handle);
    if (it == streams_.end()) continue;
    auto ex = it->second;
    if (ResponseSink::failed(*ex)) {
      fail_exchange(ex, ResponseSink::failure(*ex));
      continue;
    }
    if (ResponseSink::pending(*ex) > 0) host_.sink().flush(*ex);
    // Back-pressure: the consumer's credit ran out (or it paused): no window goes back to the server.
    if (ex->paused && quic_) quic_->set_paused(handle, true);
  }
}

void Http3Channel::on_end(uint64_t handle, const Error* error) {
  auto it = streams_.find(handle);
  if (it == streams_.end()) return;
  auto ex = std::move(it->second);
  streams_.erase(it);
  ex->connection.reset();
  if (!error) {
    if (!ex->head_seen) {
      engine_.exchange_failed(ex, Error{ErrorCode::kProtocol, Stage::kHeaders, "HTTP/3: no response head"},
                              false);
    } else {
      host_.sink().finish(*ex);
      if (ResponseSink::failed(*ex)) {
        engine_.exchange_failed(ex, ResponseSink::failure(*ex), false);
      } else {
        host_.sink().flush(*ex);
        engine_.exchange_succeeded(ex);
      }
    }
  } else if (ResponseSink::failed(*ex)) {
    engine_.exchange_failed(ex, ResponseSink::failure(*ex), false);
  } else {
    Error e = *error;
    if (e.code == ErrorCode::kEchRejected && !closed_) {
      // The first rejection: the exchange waits for the one new connection (on_closed follows);
      // the second one is the request's failure, with TCP's error.
      if (ech_.retry_left()) {
        ex->connection = host_.self();
        ech_retry_.push_back(std::move(ex));
        return;
      }
      ech_.retry("", &e);
    }
    if (e.stage == Stage::kTls || e.stage == Stage::kHeaders) e.stage = ex->stage;
    if (!ex->head_seen && !established_ && ex->spec.http3 == "alt-svc") {
      // The QUIC attempt of alt-svc mode failed before the handshake: TCP takes over, silently.
      engine_.http3_fallback(ex);
    } else if (!ex->head_seen && ex->reused_connection && idempotent_method(ex->spec.method) &&
               e.code == ErrorCode::kConnectionClosed) {
      engine_.exchange_lost(ex, std::move(e));
    } else {
      engine_.exchange_failed(ex, std::move(e), false);
    }
  }
  host_.account();
  if (streams_.empty()) host_.became_idle();
}

// ---- request bodies, back-pressure, cancel ----

void Http3Channel::upload_available(Exchange& ex) {
  if (!quic_ || ex.quic_stream == 0 || !streams_.count(ex.quic_stream)) return;  // taken at start_stream
  for (std::string& piece : ex.upload) {
    ex.upload_taken += piece.size();
    quic_->write_body(ex.quic_stream, std::move(piece), false);
  }
  ex.upload.clear();
  if (ex.upload_ended && !ex.upload_end_given) {
    ex.upload_end_given = true;
    quic_->write_body(ex.quic_stream, {}, true);
    if (established_ && ex.stage == Stage::kWrite) {
      engine_.enter_stage(ex.shared_from_this(), Stage::kHeaders);
    }
  }
}

void Http3Channel::on_body_sent(uint64_t handle, uint64_t n) {
  auto it = streams_.find(handle);
  if (it == streams_.end() || !it->second->spec.body_stream) return;
  engine_.emit(sent_event(it->second->spec.id, n));
}

void Http3Channel::resume(Exchange& ex) {
  // What gathered while paused goes first; if it uses up the new credit, the stream stays shut.
  if (!ex.spec.whole_body) host_.sink().flush(ex);
  if (ex.paused) return;
  if (quic_ && ex.quic_stream) quic_->set_paused(ex.quic_stream, false);
}

bool Http3Channel::abandon(const std::shared_ptr<Exchange>& ex) {
  for (auto it = before_start_.begin(); it != before_start_.end(); ++it) {
    if (*it == ex) {
      before_start_.erase(it);
      return true;
    }
  }
  auto it = streams_.find(ex->quic_stream);
  if (it == streams_.end() || it->second != ex) return false;
  streams_.erase(it);
  if (quic_) quic_->cancel_stream(ex->quic_stream);
  host_.account();
  if (streams_.empty()) host_.became_idle();
  return true;
}

void Http3Channel::fail_exchange(const std::shared_ptr<Exchange>& ex, Error error) {
  abandon(ex);
  ex->connection.reset();
  engine_.exchange_failed(ex, std::move(error), false);
}

void Http3Channel::close(const Error& error) {
  if (closed_) return;
  closed_ = true;
  if (lookup_) lookup_->cancel();
  race_timer_.cancel();
  auto streams = std::move(streams_);
  streams_.clear();
  auto waiting = std::move(before_start_);
  before_start_.clear();
  if (quic_) quic_->close();  // CONNECTION_CLOSE; its streams' ends find nothing here any more
  for (auto& [handle, ex] : streams) waiting.push_back(ex);
  for (auto& ex : waiting) {
    ex->connection.reset();
    Error e = error;
    if (ex->head_seen) e.code = ErrorCode::kBodyTruncated;
    e.stage = ex->stage;
    engine_.exchange_failed(ex, std::move(e), false);
  }
}

}  // namespace ctn
