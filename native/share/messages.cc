#include "share/messages.h"

#include <algorithm>

#include "mux/frame.h"

namespace ctn::mux {

namespace {

template <size_t N>
void put_bytes(PayloadWriter& w, const std::array<uint8_t, N>& a) {
  w.raw(std::string_view(reinterpret_cast<const char*>(a.data()), N));
}

template <size_t N>
bool get_bytes(PayloadReader& r, std::array<uint8_t, N>* a) {
  std::string s;
  if (!r.raw(N, &s)) return false;
  for (size_t i = 0; i < N; ++i) (*a)[i] = static_cast<uint8_t>(s[i]);
  return true;
}

bool get_magic(PayloadReader& r) {
  std::string m;
  return r.raw(kMagic.size(), &m) && m == kMagic;
}

void put_headers(PayloadWriter& w, const HeaderList& headers) {
  w.u32(static_cast<uint32_t>(headers.size()));
  for (const auto& h : headers) w.str(h.name).str(h.value);
}

bool get_headers(PayloadReader& r, HeaderList* headers) {
  uint32_t n = 0;
  if (!r.u32(&n)) return false;
  headers->clear();
  // Each header needs at least 8 bytes: a count beyond what the payload can hold is a lie.
  for (uint32_t i = 0; i < n; ++i) {
    Header h;
    if (!r.str(&h.name) || !r.str(&h.value)) return false;
    headers->push_back(std::move(h));
  }
  return true;
}

}  // namespace

std::string encode_hello(const Hello& h) {
  PayloadWriter w;
  w.raw(kMagic).u16(h.version).u32(h.pid);
  put_bytes(w, h.reserved);
  return w.take();
}

bool decode_hello(std::string_view payload, Hello* h) {
  PayloadReader r(payload);
  return get_magic(r) && r.u16(&h->version) && r.u32(&h->pid) && get_bytes(r, &h->reserved) && r.at_end();
}

std::string encode_ready(const Ready& ready) {
  PayloadWriter w;
  w.u32(ready.stream_window).u32(ready.host_pid);
  return w.take();
}

bool decode_ready(std::string_view payload, Ready* ready) {
  PayloadReader r(payload);
  return r.u32(&ready->stream_window) && r.u32(&ready->host_pid) && r.at_end();
}

std::string encode_request(const RequestSpec& s) {
  PayloadWriter w;
  w.str(s.method).u8(s.tls ? 1 : 0).str(s.host).u16(s.port).str(s.target);
  put_headers(w, s.headers);
  w.u64(s.body.size());
  w.str(s.server_name).u8(s.insecure_skip_verify ? 1 : 0).u8(s.force_http1 ? 1 : 0).str(s.profile);
  w.u8(s.preset_headers ? 1 : 0);
  w.str(s.fingerprint.ja3).str(s.fingerprint.ja4r).str(s.fingerprint.http2_fingerprint);
  w.u8(s.fingerprint.disable_grease ? 1 : 0);
  w.u64(s.timeout_ms).u8(s.whole_body ? 1 : 0).u8(s.decompress ? 1 : 0).u64(s.max_decoded_bytes);
  w.u64(s.max_response_bytes);
  w.u64(s.client_id).u64(s.connect_timeout_ms).u64(s.tls_timeout_ms).u64(s.headers_timeout_ms);
  w.u64(s.body_idle_timeout_ms);
  w.str(s.proxy);
  w.u8(s.body_stream ? 1 : 0).u8(s.upgrade ? 1 : 0).u8(s.http1_retry_hello ? 1 : 0);
  w.u8(s.websocket_over_http2 ? 1 : 0);
  return w.take();
}

bool decode_request(std::string_view payload, RequestSpec* s, uint64_t* body_size_out, std::string* why) {
  PayloadReader r(payload);
  uint64_t body_size = 0;
  const bool ok = r.str(&s->method) && r.boolean(&s->tls) && r.str(&s->host) && r.u16(&s->port) &&
                  r.str(&s->target) && get_headers(r, &s->headers) && r.u64(&body_size) &&
                  r.str(&s->server_name) && r.boolean(&s->insecure_skip_verify) &&
                  r.boolean(&s->force_http1) && r.str(&s->profile) && r.boolean(&s->preset_headers) &&
                  r.str(&s->fingerprint.ja3) &&
                  r.str(&s->fingerprint.ja4r) && r.str(&s->fingerprint.http2_fingerprint) &&
                  r.boolean(&s->fingerprint.disable_grease) && r.u64(&s->timeout_ms) &&
                  r.boolean(&s->whole_body) && r.boolean(&s->decompress) &&
                  r.u64(&s->max_decoded_bytes) && r.u64(&s->max_response_bytes) && r.u64(&s->client_id) && r.u64(&s->connect_timeout_ms) &&
                  r.u64(&s->tls_timeout_ms) && r.u64(&s->headers_timeout_ms) &&
                  r.u64(&s->body_idle_timeout_ms) && r.str(&s->proxy) && r.boolean(&s->body_stream) &&
                  r.boolean(&s->upgrade) && r.boolean(&s->http1_retry_hello) &&
                  r.boolean(&s->websocket_over_http2) && r.at_end();
  if (!ok) {
    *why = "malformed REQUEST payload";
    return false;
  }
  if (s->method.empty() || s->host.empty() || s->port == 0) {
    *why = "REQUEST without method, host or port";
    return false;
  }
  if ((s->body_stream || s->upgrade) && body_size != 0) {
    *why = "REQUEST announces both a body size and a streamed body";
    return false;
  }
  // The body arrives in REQUEST_BODY frames; its announced size lets the host reserve once and
  // refuse a stream that sends more than it said.
  s->body.clear();
  if (body_size > (uint64_t{1} << 40)) {
    *why = "REQUEST announces an absurd body size";
    return false;
  }
  s->body.reserve(static_cast<size_t>(std::min<uint64_t>(body_size, uint64_t{64} << 20)));
  s->retry_on_host_gone = false;
  *body_size_out = body_size;
  return true;
}

std::string encode_head(const ResponseHead& head, const ConnectionInfo& c) {
  PayloadWriter w;
  w.u16(static_cast<uint16_t>(head.status)).str(head.reason);
  w.u8(static_cast<uint8_t>(head.version_major)).u8(static_cast<uint8_t>(head.version_minor));
  put_headers(w, head.headers);
  w.u64(c.connection_id).u8(c.reused ? 1 : 0).str(c.alpn).str(c.tls_version).str(c.cipher);
  w.u8(c.tls_resumed ? 1 : 0);
  return w.take();
}

bool decode_head(std::string_view payload, ResponseHead* head, ConnectionInfo* c) {
  PayloadReader r(payload);
  uint16_t status = 0;
  uint8_t major = 0, minor = 0;
  if (!(r.u16(&status) && r.str(&head->reason) && r.u8(&major) && r.u8(&minor) &&
        get_headers(r, &head->headers) && r.u64(&c->connection_id) && r.boolean(&c->reused) &&
        r.str(&c->alpn) && r.str(&c->tls_version) && r.str(&c->cipher) && r.boolean(&c->tls_resumed) &&
        r.at_end())) {
    return false;
  }
  head->status = status;
  head->version_major = major;
  head->version_minor = minor;
  return true;
}

std::string encode_error(const Error& e) {
  PayloadWriter w;
  w.str(error_code_name(e.code)).str(stage_name(e.stage)).str(e.message);
  return w.take();
}

bool decode_error(std::string_view payload, Error* e) {
  PayloadReader r(payload);
  std::string code, stage;
  if (!(r.str(&code) && r.str(&stage) && r.str(&e->message) && r.at_end())) return false;
  // A name this build does not know still settles the request, as an internal error.
  if (!error_code_from_name(code, &e->code)) e->code = ErrorCode::kInternal;
  if (!stage_from_name(stage, &e->stage)) e->stage = Stage::kEngine;
  return true;
}

std::string encode_client_limits(const ClientLimitsMessage& m) {
  return PayloadWriter().u32(m.max_in_flight).u32(m.max_queued).take();
}
bool decode_client_limits(std::string_view payload, ClientLimitsMessage* m) {
  PayloadReader r(payload);
  return r.u32(&m->max_in_flight) && r.u32(&m->max_queued) && r.at_end();
}

std::string encode_u32(uint32_t v) { return PayloadWriter().u32(v).take(); }
bool decode_u32(std::string_view payload, uint32_t* v) {
  PayloadReader r(payload);
  return r.u32(v) && r.at_end();
}
std::string encode_u64(uint64_t v) { return PayloadWriter().u64(v).take(); }
bool decode_u64(std::string_view payload, uint64_t* v) {
  PayloadReader r(payload);
  return r.u64(v) && r.at_end();
}

}  // namespace ctn::mux
