#include "share/messages.h"

#include <algorithm>
#include <type_traits>

#include "core/request_fields.h"
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

void put_strings(PayloadWriter& w, const std::vector<std::string>& strings) {
  w.u32(static_cast<uint32_t>(strings.size()));
  for (const auto& one : strings) w.str(one);
}

bool get_strings(PayloadReader& r, std::vector<std::string>* strings) {
  uint32_t n = 0;
  if (!r.u32(&n)) return false;
  strings->clear();
  // Each string needs at least its 4-byte length: a count beyond the payload fails at the first read.
  for (uint32_t i = 0; i < n; ++i) {
    std::string one;
    if (!r.str(&one)) return false;
    strings->push_back(std::move(one));
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

std::string encode_request(const RequestSpec& spec) {
  PayloadWriter w;
  visit_request_fields(spec, [&](const RequestField& field, const auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    if (!field.on_link) return;
    if constexpr (std::is_same_v<T, bool>) {
      w.u8(member ? 1 : 0);
    } else if constexpr (std::is_same_v<T, uint16_t>) {
      w.u16(member);
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      w.u64(member);
    } else if constexpr (std::is_same_v<T, HeaderList>) {
      put_headers(w, member);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      put_strings(w, member);
    } else if (field.kind == FieldKind::kBody) {
      w.u64(member.size());
    } else {
      w.str(member);
    }
  });
  return w.take();
}

bool decode_request(std::string_view payload, RequestSpec* s, uint64_t* body_size_out, std::string* why) {
  PayloadReader r(payload);
  uint64_t body_size = 0;
  bool ok = true;
  std::string_view out_of_range;
  // Numbers are bounded as the binding bounds lib's: a deadline beyond a year would overflow the
  // engine's clock arithmetic, whoever sent it.
  visit_request_fields(*s, [&](const RequestField& field, auto& member) {
    using T = std::remove_cvref_t<decltype(member)>;
    if (!ok || !field.on_link) return;
    if constexpr (std::is_same_v<T, bool>) {
      ok = r.boolean(&member);
    } else if constexpr (std::is_same_v<T, uint16_t>) {
      ok = r.u16(&member);
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      ok = r.u64(&member);
      if (ok && member > field.max) {
        out_of_range = field.name;
        ok = false;
      }
    } else if constexpr (std::is_same_v<T, HeaderList>) {
      ok = get_headers(r, &member);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      ok = get_strings(r, &member);
    } else if (field.kind == FieldKind::kBody) {
      ok = r.u64(&body_size);
    } else {
      ok = r.str(&member);
    }
  });
  ok = ok && r.at_end();
  if (!out_of_range.empty()) {
    *why = "REQUEST " + std::string(out_of_range) + " out of range";
    return false;
  }
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

namespace {

// How a HEAD names its fingerprint.
enum class FingerprintMark : uint8_t { kNone = 0, kFull = 1, kSameAsBefore = 2 };

}  // namespace

std::string encode_head(const ResponseHead& head, const ConnectionInfo& c, LinkFingerprint* sent) {
  PayloadWriter w;
  w.u16(static_cast<uint16_t>(head.status)).str(head.reason);
  w.u8(static_cast<uint8_t>(head.version_major)).u8(static_cast<uint8_t>(head.version_minor));
  put_headers(w, head.headers);
  w.u64(c.connection_id).u8(c.reused ? 1 : 0).str(c.alpn).str(c.tls_version).str(c.cipher);
  w.u8(c.tls_resumed ? 1 : 0);
  const auto& f = c.fingerprint;
  if (!f) {
    w.u8(static_cast<uint8_t>(FingerprintMark::kNone));
  } else if (sent && sent->last == f) {
    w.u8(static_cast<uint8_t>(FingerprintMark::kSameAsBefore));
  } else {
    w.u8(static_cast<uint8_t>(FingerprintMark::kFull));
    w.str(f->tls.ja3)
        .str(f->tls.ja3n())
        .str(f->tls.ja4())
        .str(f->tls.ja4r())
        .str(f->akamai)
        .str(f->quic_ja4());
    w.u8(static_cast<uint8_t>(f->ech)).u8(f->resumed ? 1 : 0);
    if (sent) sent->last = f;
  }
  return w.take();
}

namespace {

// The fingerprint part of a HEAD (encode_head).
bool decode_fingerprint(PayloadReader& r, std::shared_ptr<const fingerprint::ConnectionFingerprint>* out,
                        LinkFingerprint* received) {
  uint8_t mark = 0;
  if (!r.u8(&mark)) return false;
  if (mark == static_cast<uint8_t>(FingerprintMark::kNone)) return true;
  if (mark == static_cast<uint8_t>(FingerprintMark::kSameAsBefore)) {
    if (!received || !received->last) return false;  // nothing before on this link
    *out = received->last;
    return true;
  }
  if (mark != static_cast<uint8_t>(FingerprintMark::kFull)) return false;
  auto f = std::make_shared<fingerprint::ConnectionFingerprint>();
  auto order_free = std::make_shared<fingerprint::OrderFreeFingerprint>();
  std::string quic_ja4;
  uint8_t ech = 0;
  if (!(r.str(&f->tls.ja3) && r.str(&order_free->ja3n) && r.str(&order_free->ja4) &&
        r.str(&order_free->ja4r) && r.str(&f->akamai) && r.str(&quic_ja4) && r.u8(&ech) &&
        r.boolean(&f->resumed))) {
    return false;
  }
  // A QUIC hello's JA4 is the connection's JA4 itself (encode_head writes it twice).
  if (!quic_ja4.empty() && quic_ja4 != order_free->ja4) return false;
  f->quic = !quic_ja4.empty();
  // The connections of one preset share their hello shape's part here too, as in the host's engine:
  // the binding then hands JS one array for all of them (binding/marshal.h FingerprintStrings).
  const fingerprint::OrderFreeFingerprint* before =
      received && received->last ? received->last->tls.order_free.get() : nullptr;
  if (before && before->ja3n == order_free->ja3n && before->ja4 == order_free->ja4 &&
      before->ja4r == order_free->ja4r) {
    f->tls.order_free = received->last->tls.order_free;
  } else {
    f->tls.order_free = std::move(order_free);
  }
  if (ech > static_cast<uint8_t>(fingerprint::EchSent::kReal)) return false;
  f->ech = static_cast<fingerprint::EchSent>(ech);
  *out = std::move(f);
  if (received) received->last = *out;
  return true;
}

}  // namespace

bool decode_head(std::string_view payload, ResponseHead* head, ConnectionInfo* c, LinkFingerprint* received) {
  PayloadReader r(payload);
  uint16_t status = 0;
  uint8_t major = 0, minor = 0;
  if (!(r.u16(&status) && r.str(&head->reason) && r.u8(&major) && r.u8(&minor) &&
        get_headers(r, &head->headers) && r.u64(&c->connection_id) && r.boolean(&c->reused) &&
        r.str(&c->alpn) && r.str(&c->tls_version) && r.str(&c->cipher) && r.boolean(&c->tls_resumed) &&
        decode_fingerprint(r, &c->fingerprint, received) && r.at_end())) {
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
