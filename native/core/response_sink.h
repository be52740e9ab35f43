// The response sink: where both channels (HTTP/1.1 and HTTP/2) put a response as it arrives. It
// decodes the body (BodyDecoder, under the request's caps), gathers it into bursts, counts the
// read-ahead credit of a streamed body, and hands head and body events on. The per-response state
// lives in the Exchange (reset for every attempt); the sink holds no socket and no timer, so it runs
// alone in tests.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/exchange.h"

namespace ctn {

// Body bytes are handed to JS in bursts: everything readable right now, up to this much. One event
// per TLS record (16 KiB) would cost an allocation, a JS object and a later concat each.
inline constexpr size_t kBodyFlushBytes = 1024 * 1024;
// A whole body is reserved up front from its Content-Length, up to this much (it grows past it).
inline constexpr int64_t kWholeBodyReserveBytes = 64 * 1024 * 1024;

class ResponseSink {
 public:
  explicit ResponseSink(EventSink& events) : events_(events) {}

  // The head arrived: a decoder for its Content-Encoding (when the request asks for decoding) and
  // the head event. The caller has moved the exchange to Stage::kBody.
  void begin(Exchange& ex, ResponseHead&& head, ConnectionInfo connection);
  // Body bytes as received. `content_length` (-1: unknown) sizes the first burst's buffer. After a
  // failure (failed()) the rest is read only to be dropped.
  void append(Exchange& ex, std::string_view bytes, int64_t content_length = -1);
  // The body ended as the framing says: a decoder checks the encoded stream was complete.
  void finish(Exchange& ex);
  // Hands the gathered bytes on as one body event. A streamed body whose consumer asked for credit
  // pauses (Exchange::paused) once kConsumerCreditBytes (request.h) went out unacknowledged.
  void flush(Exchange& ex);

  // The body cannot be decoded (ERR_PROTOCOL) or passed max_response_bytes (ERR_BODY_TOO_LARGE).
  static bool failed(const Exchange& ex) { return !ex.decode_error.empty(); }
  static Error failure(const Exchange& ex);
  // How much is gathered and not yet handed on.
  static size_t pending(const Exchange& ex) { return ex.pending_body.size(); }

 private:
  EventSink& events_;
};

}  // namespace ctn
