// The response sink: where both channels (HTTP/1.1 and HTTP/2) put a response as it arrives. It
// decodes the body (BodyDecoder, under the request's caps), gathers it into bursts, counts the
// read-ahead credit of a streamed body, and hands head and body events on. The per-response state
// lives in the Exchange (reset for every attempt); the sink holds no socket and no timer, so it runs
// alone in tests.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/exchange.h"

namespace ctn {

// Body bytes are handed to JS in bursts: everything readable right now, up to this much. One event
// per TLS record (16 KiB) would cost an allocation, a JS object and a later concat each.
inline constexpr size_t kBodyFlushBytes = 1024 * 1024;
// A whole body is reserved up front from its Content-Length, up to this much and never past
// max_response_bytes (it grows past it): a hostile Content-Length cannot reserve more.
inline constexpr int64_t kWholeBodyReserveBytes = 64 * 1024 * 1024;

class ResponseSink {
 public:
  explicit ResponseSink(EventSink& events) : events_(events) {}

  // The head arrived: a decoder for its Content-Encoding (when the request asks for decoding) and
  // the head event. The caller has moved the exchange to Stage::kBody.
  void begin(Exchange& ex, ResponseHead&& head, ConnectionInfo connection);
  // Body bytes as received. The head's Content-Length sizes a burst's buffer once. After a failure
  // (failed()) the rest is read only to be dropped.
  void append(Exchange& ex, std::string_view bytes);
  // A direct read: room at the end of the gathered body for up to `want` bytes that the caller
  // reads straight into it (a socket read, no copy through the connection's read buffer). Empty
  // when the bytes must go through append instead: a decoder, a failure, or `framed_left` (body
  // bytes the framing still promises) passing max_response_bytes (append reports that). A
  // non-empty space must be committed before anything else touches the exchange's body.
  std::span<char> body_space(Exchange& ex, size_t want, uint64_t framed_left);
  // `placed` of the `reserved` bytes of the last body_space were read; the rest is given back.
  void commit(Exchange& ex, size_t reserved, size_t placed);
  // The body ended as the framing says: a decoder checks the encoded stream was complete.
  void finish(Exchange& ex);
  // Hands the gathered bytes on as one body event. A streamed body whose consumer asked for credit
  // pauses (Exchange::paused) once kConsumerCreditBytes (request.h) went out unacknowledged; while
  // it is paused its bytes stay gathered here.
  void flush(Exchange& ex);

  // A streamed body whose consumer paused: nothing of it goes on (bytes, end) until it resumes.
  static bool held_back(const Exchange& ex) {
    return ex.paused && ex.spec.consumer_credit && !ex.spec.whole_body;
  }
  // The body cannot be decoded (ERR_PROTOCOL) or passed max_response_bytes (ERR_BODY_TOO_LARGE).
  static bool failed(const Exchange& ex) { return !ex.decode_error.empty(); }
  static Error failure(const Exchange& ex);
  // How much is gathered and not yet handed on.
  static size_t pending(const Exchange& ex) { return ex.pending_body.size(); }

 private:
  EventSink& events_;
};

}  // namespace ctn
