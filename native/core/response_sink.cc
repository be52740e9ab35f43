#include "core/response_sink.h"

#include <algorithm>
#include <utility>

namespace ctn {

void ResponseSink::begin(Exchange& ex, ResponseHead&& head, ConnectionInfo connection) {
  ex.head_seen = true;
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

void ResponseSink::append(Exchange& ex, std::string_view bytes, int64_t content_length) {
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
  // A body read whole lands in memory: it may not pass max_response_bytes (streams are not
  // limited: their consumer bounds what is read ahead). Checked before the bytes are copied.
  if (ex.spec.whole_body && ex.spec.max_response_bytes != 0 &&
      ex.body_bytes + bytes.size() > ex.spec.max_response_bytes) {
    ex.body_too_large = true;
    ex.decode_error = body_too_large_message(ex.spec.max_response_bytes);
    std::string().swap(ex.pending_body);
    return;
  }
  ex.body_bytes += bytes.size();
  if (ex.pending_body.empty()) {
    // Size the burst buffer once, from what the response says is left (bounded).
    const int64_t cap = ex.spec.whole_body ? kWholeBodyReserveBytes : static_cast<int64_t>(kBodyFlushBytes);
    const size_t want =
        content_length > 0 ? static_cast<size_t>(std::min<int64_t>(content_length, cap)) : bytes.size();
    ex.pending_body.reserve(std::max(want, bytes.size()));
  }
  ex.pending_body.append(bytes);
}

void ResponseSink::finish(Exchange& ex) {
  if (ex.decoder && ex.decode_error.empty()) ex.decoder->finish(&ex.decode_error);
}

void ResponseSink::flush(Exchange& ex) {
  if (ex.pending_body.empty()) return;
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
