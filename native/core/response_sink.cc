#include "core/response_sink.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace ctn {

namespace {

// The head's Content-Length, or -1 when absent or not one plain number (the HTTP/1.1 parser and
// nghttp2 judge the framing; this only sizes a buffer).
int64_t declared_length(const HeaderList& headers) {
  const Header* cl = find_header(headers, "content-length");
  if (!cl || cl->value.empty()) return -1;
  int64_t n = 0;
  for (char c : cl->value) {
    if (c < '0' || c > '9' || n > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// Before the first bytes of a burst: its buffer sized once, from what the Content-Length says is
// left (a whole body: up to kWholeBodyReserveBytes and max_response_bytes; a streamed one: one
// burst), so it never reallocates and copies while it fills.
void reserve_burst(Exchange& ex, size_t at_least) {
  if (!ex.pending_body.empty()) return;
  size_t want = at_least;
  if (ex.content_length > 0 && static_cast<uint64_t>(ex.content_length) > ex.body_bytes) {
    uint64_t left = static_cast<uint64_t>(ex.content_length) - ex.body_bytes;
    uint64_t cap = ex.spec.whole_body ? kWholeBodyReserveBytes : kBodyFlushBytes;
    if (ex.spec.whole_body && ex.spec.max_response_bytes != 0) {
      cap = std::min<uint64_t>(
          cap, ex.spec.max_response_bytes - std::min(ex.body_bytes, ex.spec.max_response_bytes));
    }
    want = std::max<size_t>(want, static_cast<size_t>(std::min(left, cap)));
  }
  ex.pending_body.reserve(want);
}

// A whole body may not pass max_response_bytes (streams are not limited: their consumer bounds
// what is read ahead).
bool over_limit(const Exchange& ex, uint64_t more) {
  return ex.spec.whole_body && ex.spec.max_response_bytes != 0 &&
         ex.body_bytes + more > ex.spec.max_response_bytes;
}

}  // namespace

void ResponseSink::begin(Exchange& ex, ResponseHead&& head, ConnectionInfo connection) {
  ex.head_seen = true;
  ex.content_length = declared_length(head.headers);
  if (ex.spec.decompress) {
    if (const Header* ce = find_header(head.headers, "content-encoding")) {
      // A body read whole stops at the smaller cap as it is decoded, not after a chunk's output.
      uint64_t cap = ex.spec.max_decoded_bytes;
      const uint64_t whole_cap = ex.spec.whole_body ? ex.spec.max_response_bytes : 0;
      ex.decoder_capped_by_response = whole_cap != 0 && (cap == 0 || whole_cap < cap);
      if (ex.decoder_capped_by_response) cap = whole_cap;
      ex.decoder = BodyDecoder::for_encoding(ce->value, cap);
    }
  }
  Event e;
  e.kind = Event::Kind::kHead;
  e.id = ex.spec.id;
  e.head = std::move(head);
  e.connection = std::move(connection);
  events_.deliver(std::move(e));
}

void ResponseSink::append(Exchange& ex, std::string_view bytes) {
  ex.last_body_at = SteadyClock::now();  // body_idle_timeout_ms counts from the last byte
  if (!ex.decode_error.empty()) return;  // given up: the rest is read only to be dropped
  if (ex.decoder) {
    if (!ex.decoder->decode(bytes, ex.pending_body, &ex.decode_error)) {
      if (ex.decoder_capped_by_response && ex.decoder->cap_exceeded()) {
        ex.body_too_large = true;
        ex.decode_error = body_too_large_message(ex.spec.max_response_bytes);
      } else if (ex.decode_error.empty()) {
        ex.decode_error = "the body could not be decoded";
      }
      std::string().swap(ex.pending_body);
    }
    return;
  }
  // Checked before the bytes are copied.
  if (over_limit(ex, bytes.size())) {
    ex.body_too_large = true;
    ex.decode_error = body_too_large_message(ex.spec.max_response_bytes);
    std::string().swap(ex.pending_body);
    return;
  }
  reserve_burst(ex, bytes.size());
  ex.body_bytes += bytes.size();
  ex.pending_body.append(bytes);
}

std::span<char> ResponseSink::body_space(Exchange& ex, size_t want, uint64_t framed_left) {
  if (want == 0 || ex.decoder || !ex.decode_error.empty() || over_limit(ex, framed_left)) return {};
  reserve_burst(ex, want);
  // A buffer sized for the burst is filled before it grows (growing would copy all of it).
  const size_t room = ex.pending_body.capacity() - ex.pending_body.size();
  if (room > 0) want = std::min(want, room);
  // resize() zero-fills the `want` bytes just before the read writes them: they are in cache then,
  // and a fresh page is faulted in once, by the fill.
  const size_t at = ex.pending_body.size();
  ex.pending_body.resize(at + want);
  return {ex.pending_body.data() + at, want};
}

void ResponseSink::commit(Exchange& ex, size_t reserved, size_t placed) {
  ex.pending_body.resize(ex.pending_body.size() - (reserved - placed));
  if (placed == 0) return;
  ex.last_body_at = SteadyClock::now();
  ex.body_bytes += placed;
}

void ResponseSink::finish(Exchange& ex) {
  if (ex.decoder && ex.decode_error.empty()) ex.decoder->finish(&ex.decode_error);
}

void ResponseSink::flush(Exchange& ex) {
  // A paused consumer gets nothing until it asks for more (Engine::Impl::set_paused hands the
  // bytes on then). What gathers meanwhile is bounded by what the connection still lets the server
  // send: HTTP/2 and HTTP/3 give no window back, HTTP/1.1 holds its reads.
  if (ex.pending_body.empty() || held_back(ex)) return;
  if (ex.spec.consumer_credit && !ex.spec.whole_body) {
    ex.unacked += ex.pending_body.size();
    if (ex.unacked >= kConsumerCreditBytes) ex.paused = true;  // until the consumer asks for more
  }
  Event e;
  e.kind = Event::Kind::kBody;
  e.id = ex.spec.id;
  e.body = std::move(ex.pending_body);
  ex.pending_body.clear();
  events_.deliver(std::move(e));
}

Error ResponseSink::failure(const Exchange& ex) {
  return Error{ex.body_too_large ? ErrorCode::kBodyTooLarge : ErrorCode::kProtocol, Stage::kBody,
               ex.decode_error};
}

}  // namespace ctn
