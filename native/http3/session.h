// HTTP/3 client session over nghttp3: stream bytes in, stream bytes out, events to a listener. No
// I/O and no QUIC: the QUIC connection (native/quic) opens the streams, hands every stream's bytes
// to receive() and sends what next_output() returns, reporting back how much went out (sent()),
// what the peer acknowledged (acked()) and which streams closed (stream_closed()).
//
// Usage:
//   ClientSession s(listener);
//   s.start(control_id, qpack_encoder_id, qpack_decoder_id, &err);   // three local uni streams
//   int64_t id = <a new bidi stream>;  s.submit_request(id, "GET", "https", host, "/", headers, &err);
//   while (auto out = s.next_output()) { <write out->data to stream out->stream>; s.sent(id, n); }
//   s.receive(stream, bytes, fin, &err);   // every STREAM frame's payload, in order
//
// Threading and re-entrancy: one thread. Listener callbacks run inside receive() and
// stream_closed(); they may call any method but receive() and stream_closed(), and must not destroy
// the session. Nothing throws: an exception from a listener fails the session (the call it came
// from returns false with the message).
//
// Limits a server cannot pass (common/http_types.h): kMaxHeaderSectionBytes is announced as
// SETTINGS_MAX_FIELD_SECTION_SIZE and nghttp3 enforces it while decoding; a section beyond it is a
// QPACK error, which in nghttp3 0.8.0 leaves the decoder unusable, so it fails the session (the QUIC
// layer closes the connection). kMaxHeaderFields (and the byte count, name + value + 32 per field)
// are counted here and fail that stream only, as does a malformed response (nghttp3's checks: bad
// fields, a body that disagrees with its content-length): on_stream_closed with reset_reason, then
// on_reset_wanted; the other streams go on.
//
// Browser shape: an Http3Profile (profiles/profile.h) gives the control stream's SETTINGS (order,
// unknown ids, GREASE) and GREASE frame, PRIORITY_UPDATE per request, when the QPACK streams open
// (at start, or lazily through SessionListener::open_uni_stream once the peer allows a dynamic
// table), what the QPACK encoder inserts, and the pseudo-header order. What SETTINGS announce about
// our decoder (0x1 table capacity, 0x7 blocked streams, 0x6 field section size) is what nghttp3 is
// told to enforce. GREASE is drawn per session from std::random_device. An empty shape (no
// settings) is nghttp3's own SETTINGS and QPACK policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/http_types.h"
#include "profiles/profile.h"

struct nghttp3_conn;

namespace ctn::http3 {

// HTTP/3 error codes (RFC 9114 §8.1) the connection uses.
inline constexpr uint64_t kNoError = 0x100;
inline constexpr uint64_t kGeneralProtocolError = 0x101;
inline constexpr uint64_t kInternalError = 0x102;
inline constexpr uint64_t kRequestCancelled = 0x10c;
inline constexpr uint64_t kExcessiveLoad = 0x107;

// How a request stream ended.
struct StreamClose {
  // 0 when the stream ended normally; else the QUIC application error code (the server's
  // RESET_STREAM / STOP_SENDING, or ours).
  uint64_t error_code = 0;
  // The server's FIN arrived after a complete response (head and whole body).
  bool response_complete = false;
  // Why the session gave up on the stream itself (a limit passed); empty otherwise.
  std::string reset_reason;
};

class SessionListener {
 public:
  virtual ~SessionListener() = default;
  // The final response head (1xx heads are skipped): version 3.0, headers in order, pseudo-headers
  // removed, names as received.
  virtual void on_head(int64_t stream, ResponseHead&& head) = 0;
  // A slice of the body, valid during the call only.
  virtual void on_data(int64_t stream, std::string_view bytes) = 0;
  // The stream is over; exactly once per submitted request.
  virtual void on_stream_closed(int64_t stream, const StreamClose& close) = 0;
  // `n` bytes of a stream's payload were consumed by HTTP/3 and may be credited back to the peer's
  // flow-control window (QUIC's extend_max_stream_offset / extend_max_offset).
  virtual void on_consumed(int64_t stream, size_t n) = 0;
  // The session wants stream `stream` reset in both directions with `code` (a limit passed).
  virtual void on_reset_wanted(int64_t stream, uint64_t code) { (void)stream, (void)code; }
  // The peer acknowledged `n` more bytes of a request body (add_body); the session let them go.
  virtual void on_body_acked(int64_t stream, uint64_t n) { (void)stream, (void)n; }
  // A new local unidirectional stream for a lazily opened QPACK stream (QpackStreams::kLazy), or -1
  // when none can be opened (the session then fails).
  virtual int64_t open_uni_stream() { return -1; }
};

// One write the QUIC layer should make: `data` (one or more slices) on `stream`, with FIN after it
// when `fin`. The slices stay valid until the next call into the session.
struct Output {
  int64_t stream = -1;
  bool fin = false;
  std::span<const std::string_view> data;
  size_t size() const noexcept;
};

class ClientSession {
 public:
  // `random`: the GREASE source (uniform 64-bit numbers); empty: std::random_device.
  explicit ClientSession(SessionListener& listener, Http3Profile shape = {},
                         std::function<uint64_t()> random = {});
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Whether start() takes the QPACK streams (else they are opened lazily: pass -1 for both).
  bool qpack_streams_at_start() const noexcept { return shape_.qpack_streams == QpackStreams::kAtStart; }

  // Creates the nghttp3 client and binds its control and QPACK streams (ids of local
  // unidirectional streams the QUIC connection opened; the QPACK ones -1 when opened lazily). Call
  // once; false with *error on failure.
  bool start(int64_t control_stream, int64_t qpack_encoder_stream, int64_t qpack_decoder_stream,
             std::string* error);

  // A request on `stream` (a new local bidirectional stream): HEADERS, with FIN unless `with_body`
  // (the body then comes through add_body, DATA frames as flow control allows, FIN after its end).
  // `headers` are the regular fields in the caller's order (names lower-cased, connection-specific
  // ones dropped). False with *error when nghttp3 refuses.
  bool submit_request(int64_t stream, std::string_view method, std::string_view scheme,
                      std::string_view authority, std::string_view path, const HeaderList& headers,
                      std::string* error, bool with_body = false);
  // More of the body of a request submitted `with_body`; `end` after the last. The bytes are kept
  // until the peer acknowledges them (on_body_acked). Ignored for other streams.
  void add_body(int64_t stream, std::string chunk, bool end);

  // The next stream bytes to send, if any (empty `data` with fin: a bare FIN).
  std::optional<Output> next_output();
  // `n` bytes of the last Output of `stream` went into QUIC packets (n may be less than its size:
  // the rest comes back from next_output()). FIN counts once all data was taken.
  bool sent(int64_t stream, size_t n);
  // The QUIC layer cannot take more of `stream` now (flow control) / can again.
  void block(int64_t stream);
  void unblock(int64_t stream);
  // The peer acknowledged `n` more bytes of `stream` (nghttp3 frees them).
  bool acked(int64_t stream, uint64_t n);

  // Bytes of `stream` received (in order); `fin`: the last ones. False with *error when the
  // session cannot go on (a connection error: the QUIC layer closes with error_code()).
  bool receive(int64_t stream, std::string_view bytes, bool fin, std::string* error);
  // QUIC closed `stream` (app_error_code 0 for a clean close). Reports on_stream_closed for
  // requests. False with *error on a critical stream.
  bool stream_closed(int64_t stream, uint64_t app_error_code, std::string* error);
  // The peer reset the receiving side of `stream`.
  void stream_reset(int64_t stream);

  // The peer's SETTINGS (the first frame of its control stream) were read: what they allow (a QPACK
  // dynamic table) is known to the encoder from here on.
  bool peer_settings_received() const noexcept { return peer_settings_handled_; }

  // The HTTP/3 error code to close the connection with after a failure.
  uint64_t error_code() const noexcept { return error_code_; }
  bool failed() const noexcept { return failed_; }

 private:
  struct Request;
  struct Callbacks;
  struct ConnDeleter {
    void operator()(nghttp3_conn* c) const noexcept;
  };
  bool fail(std::string message, uint64_t code, std::string* error);
  // Stops reading `stream`, reports it closed with its reset_reason and asks for the reset.
  void give_up(int64_t stream, uint64_t code);
  // Reports a request's stream closed to the listener (once) and forgets it.
  void report_closed(int64_t stream, uint64_t code);
  // The lazy QPACK streams (once the peer allows a table or our decoder has instructions for it)
  // and, once the peer's SETTINGS are in, the at-once capacity instruction.
  bool update_qpack_streams(std::string* error);

  SessionListener& listener_;
  Http3Profile shape_;
  std::function<uint64_t()> random_;
  bool qpack_bound_ = false;
  bool peer_settings_handled_ = false;
  std::unique_ptr<nghttp3_conn, ConnDeleter> conn_;
  std::map<int64_t, std::unique_ptr<Request>> requests_;
  static constexpr size_t kMaxSlices = 16;
  std::string_view out_slices_[kMaxSlices];
  uint64_t error_code_ = kNoError;
  bool failed_ = false;
  std::string callback_error_;
};

}  // namespace ctn::http3
