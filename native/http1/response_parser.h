// Incremental HTTP/1.x response parser: bytes in, events out. No I/O, no allocation per byte.
// Handles status line + headers, content-length, chunked (with chunk extensions and trailers),
// close-delimited bodies, interim 1xx responses (skipped, at most ParserLimits::max_interim; 101 ends the
// message), and bodiless responses (HEAD, 204, 304). Input may be split at any byte boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/http_types.h"

namespace ctn::http1 {

class ResponseListener {
 public:
  virtual ~ResponseListener() = default;
  // The final (non-1xx, or 101) response head.
  virtual void on_head(ResponseHead&& head) = 0;
  // A slice of the (de-chunked) body. The pointer is valid only during the call.
  virtual void on_body(std::string_view bytes) = 0;
  // Trailer fields of a chunked body (called only when there are some), before on_complete.
  virtual void on_trailers(HeaderList&& trailers) { (void)trailers; }
  // The message is complete. No further bytes of this response will be consumed.
  virtual void on_complete() = 0;
};

struct ParserLimits {
  size_t max_head_bytes = kMaxHeaderSectionBytes;  // status line + all header lines (and trailer lines)
  size_t max_headers = kMaxHeaderFields;
  int max_interim = kMaxInterimResponses;  // 1xx heads (not 101) before the final one
};

class ResponseParser {
 public:
  enum class Status { kOk, kError };

  explicit ResponseParser(ResponseListener& listener, ParserLimits limits = {});

  // Prepares for the next response. `head_request` makes any final response bodiless.
  void reset(bool head_request);

  // Consumes up to `bytes.size()` bytes. Returns the number consumed; after on_complete() it stops
  // consuming (the rest belongs to whatever follows on the connection). On a protocol violation it
  // returns with status() == kError and error() describing it; nothing more is consumed.
  size_t feed(std::string_view bytes);

  // The peer closed the connection. Completes a close-delimited body (on_complete is called);
  // returns false when the message was cut short (truncated head, content-length or chunked body).
  bool finish_eof();

  Status status() const noexcept { return status_; }
  const std::string& error() const noexcept { return error_; }
  bool complete() const noexcept { return state_ == State::kDone; }
  // Whether any byte of the current response has been consumed yet.
  bool started() const noexcept { return started_; }
  // After completion: may the connection carry another request? (HTTP/1.1 without
  // "Connection: close", HTTP/1.0 with "Connection: keep-alive"; never for close-delimited bodies
  // or 101.)
  bool keep_alive() const noexcept { return keep_alive_; }
  // After on_head: the body length when known from content-length, else -1.
  int64_t content_length() const noexcept { return content_length_; }
  // Body bytes the framing still promises in one stretch: what is left of a Content-Length body, or
  // of the current chunk's data; 0 elsewhere (head, chunk-size lines, close-delimited body, done).
  // The caller may read that many straight into the body and report them with skip_body.
  uint64_t framed_body_left() const noexcept;
  // `n` body bytes (at most framed_body_left()) were placed by the caller without passing through
  // feed(): the parser moves on as if it had handed them to on_body (on_complete at the end of a
  // Content-Length body).
  void skip_body(size_t n);

 private:
  enum class State {
    kStatusLine,
    kHeaderLine,
    kBodyLength,
    kBodyClose,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailerLine,
    kDone,
    kError,
  };
  size_t fail(std::string message);
  bool take_line(std::string_view bytes, size_t& pos, std::string_view& line);
  bool parse_status_line(std::string_view line);
  bool parse_header_line(std::string_view line, HeaderList& into);
  bool on_headers_done();
  bool parse_chunk_size(std::string_view line);
  bool choose_body_framing();
  // `n` bytes of the current Content-Length body or chunk's data were consumed.
  void body_placed(size_t n);

  ResponseListener& listener_;
  ParserLimits limits_;
  State state_ = State::kStatusLine;
  Status status_ = Status::kOk;
  std::string error_;
  bool head_request_ = false;
  bool started_ = false;
  bool keep_alive_ = false;
  int64_t content_length_ = -1;
  uint64_t remaining_ = 0;
  size_t head_bytes_ = 0;
  int interim_ = 0;   // 1xx heads skipped so far
  std::string line_;  // partial line carried between feed() calls
  // line_ holds a line already handed out by take_line(); it is cleared on the next call.
  bool line_taken_ = false;
  // In kChunkDataEnd: the CR of the CRLF after chunk data has been consumed.
  bool chunk_cr_seen_ = false;
  ResponseHead head_;
  HeaderList trailers_;
};

}  // namespace ctn::http1
