// HTTP/2 client session over nghttp2: bytes in, bytes out, events to a listener. No I/O: the
// connection object feeds socket bytes to receive() and writes what produce() hands out.
//
// The first flight follows an Http2Profile exactly, frame by frame:
//   connection preface, SETTINGS (entries in the profile's order, unknown ids and duplicates
//   included), WINDOW_UPDATE on stream 0 (connection_window_update), the PRIORITY frames, then the
//   HEADERS of each request (PRIORITY flag + headers_priority_spec when headers_priority, none
//   otherwise; pseudo-headers in pseudo_header_order), each followed by a WINDOW_UPDATE on its own
//   stream when stream_window_update is set. Stream ids start at first_stream_id.
// Requests submitted before the server's SETTINGS arrive go out at once, as browsers' do (until then
// the server's MAX_CONCURRENT_STREAMS is taken to be Options::initial_max_concurrent_streams).
//
// Usage:
//   ClientSession s(profile, listener);
//   s.start(&err);                      // queues preface, SETTINGS, WINDOW_UPDATE, PRIORITY
//   s.submit_request("GET", "https", "example.com", "/", headers, {}, &err);
//   s.produce(out);  write(out);       // whenever want_write()
//   s.receive(bytes, &err);             // for every read; then produce() again: ACKs, WINDOW_UPDATEs
//
// Threading and re-entrancy: one thread. Listener callbacks run inside receive(), produce() and
// close_all_streams(). From a callback, any method may be called except receive(), produce() and
// the destructor (no re-entry; do not destroy the session from its own callback). Nothing throws:
// an exception escaping a listener callback is caught, fails the session (failed() == true) and
// is reported by the receive()/produce() call it happened in.
//
// Limits a server cannot pass (common/http_types.h): each header block (head, 1xx head, trailers) is
// counted as nghttp2 decodes it, name + value + 32 per field (RFC 7541 §4.1), against
// kMaxHeaderSectionBytes and kMaxHeaderFields; more than kMaxInterimResponses 1xx heads. Past one,
// the stream is reset with PROTOCOL_ERROR and reported closed with StreamClose::reset_reason; the
// other streams go on. More CONTINUATION frames than a block within the budget needs ends the session.
//
// Limitations (nghttp2 1.52):
//   - Once the server has sent SETTINGS_NO_RFC7540_PRIORITIES=1, later HEADERS carry no PRIORITY
//     flag and no PRIORITY frames are sent (RFC 9218 behaviour). The first flight is unaffected.
//   - nghttp2 never sets the PRIORITY flag for a spec equal to RFC 7540's default (dependency 0,
//     weight 16, not exclusive); produce() inserts the 5 priority bytes itself in that case, so the
//     wire carries what the profile says (as long as the HEADERS frame has room for them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/http_types.h"
#include "fingerprint/fingerprint.h"
#include "profiles/profile.h"

struct nghttp2_session;

namespace ctn::http2 {

// HTTP/2 error codes (RFC 9113 §7) the engine is likely to look at.
inline constexpr uint32_t kNoError = 0x0;
inline constexpr uint32_t kProtocolError = 0x1;
inline constexpr uint32_t kInternalError = 0x2;
inline constexpr uint32_t kFlowControlError = 0x3;
inline constexpr uint32_t kRefusedStream = 0x7;
inline constexpr uint32_t kCancel = 0x8;

// How a stream ended.
struct StreamClose {
  // 0 when both sides closed normally; else the RST_STREAM code (the server's, or ours from
  // reset_stream()), REFUSED_STREAM for streams above a GOAWAY's last stream id or requests that
  // could not be sent, or the code given to close_all_streams().
  uint32_t error_code = kNoError;
  // The server's END_STREAM arrived: the head, the whole body and any trailers were delivered.
  // (A RST_STREAM(NO_ERROR) after a complete response leaves this true; one before, false.)
  bool response_complete = false;
  // The server certainly did not process the request: it may be sent again on another connection
  // (REFUSED_STREAM, a stream above the GOAWAY's last stream id, or HEADERS never handed out).
  bool retryable = false;
  // Why we reset the stream ourselves, when the server passed one of our limits (a header list
  // beyond kMaxHeaderSectionBytes or kMaxHeaderFields, more than kMaxInterimResponses 1xx heads);
  // error_code is then PROTOCOL_ERROR. Empty otherwise.
  std::string reset_reason;
};

class SessionListener {
 public:
  virtual ~SessionListener() = default;
  // The final response head (1xx heads are skipped). version_major = 2, version_minor = 0,
  // reason empty; header names as received (lower case), in order, pseudo-headers removed.
  virtual void on_head(int32_t stream, ResponseHead&& head) = 0;
  // A slice of the response body; valid only during the call. With Options::manual_flow_control,
  // every byte must eventually be given back with consume().
  virtual void on_data(int32_t stream, std::string_view bytes) = 0;
  // Trailer fields (a HEADERS block after the body).
  virtual void on_trailers(int32_t stream, HeaderList&& trailers) { (void)stream, (void)trailers; }
  // The stream is gone; no further events for it. Called exactly once for every stream id
  // submit_request() returned (the destructor reports nothing: call close_all_streams() first).
  virtual void on_stream_closed(int32_t stream, const StreamClose& close) = 0;
  // The server's END_STREAM arrived (after on_head/on_data/on_trailers of that frame): its side of
  // the stream is done; ours may still be sending. on_stream_closed follows once both sides are.
  virtual void on_remote_end(int32_t stream) { (void)stream; }
  // The server sent GOAWAY. Streams above last_stream_id are then closed with REFUSED_STREAM
  // (retryable); those at or below it may still complete. No new request can be submitted.
  virtual void on_goaway(int32_t last_stream_id, uint32_t error_code, std::string_view debug_data) {
    (void)last_stream_id, (void)error_code, (void)debug_data;
  }
  // `bytes` of a streamed request body (submit_request with body_follows) went into DATA frames;
  // `last`: the frame carrying END_STREAM, the request is complete.
  virtual void on_request_body_sent(int32_t stream, size_t bytes, bool last) {
    (void)stream, (void)bytes, (void)last;
  }
  // The server's SETTINGS were applied (remote_max_concurrent_streams() may have changed).
  virtual void on_settings() {}
  // The ACK of a submit_ping() arrived, with the opaque value it returned.
  virtual void on_ping_ack(uint64_t opaque) { (void)opaque; }
};

class ClientSession {
 public:
  struct Options {
    // Flow control by the caller: the receive windows open again only for bytes given back with
    // consume(), so a slow reader stalls the server (back-pressure). Off: windows reopen as soon as
    // bytes are delivered to on_data (consume() is then a no-op).
    bool manual_flow_control = false;
    // The server's MAX_CONCURRENT_STREAMS assumed until its SETTINGS arrive.
    uint32_t initial_max_concurrent_streams = 100;
  };

  ClientSession(const Http2Profile& profile, SessionListener& listener);
  ClientSession(const Http2Profile& profile, SessionListener& listener, Options options);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Creates the nghttp2 session and queues the preface, SETTINGS, connection WINDOW_UPDATE and
  // PRIORITY frames. False (with *error) for a profile nghttp2 refuses: an invalid value for a
  // known SETTINGS id, a weight outside 1..256, a bad pseudo_header_order, an even first_stream_id,
  // a window increment beyond 2^31-1. Call once, before anything else.
  bool start(std::string* error);

  // Queues a request; returns its stream id, or -1 with *error. `headers` are the regular fields in
  // the caller's order; names are lower-cased on the wire; connection-specific fields (connection,
  // keep-alive, proxy-connection, transfer-encoding, upgrade, host), pseudo-headers, and `te` other
  // than "trailers" are dropped. A non-empty `body` goes out as DATA, the last one with END_STREAM;
  // an empty body puts END_STREAM on the HEADERS. An empty `authority` omits :authority.
  // Beyond can_submit() the request is accepted but waits (in order) for a free stream slot.
  // `body_follows`: the body is not known yet; it is given piecewise with append_request_body()
  // and goes out as the server's flow-control windows allow (END_STREAM with the last piece).
  // `extended_protocol`: an extended CONNECT (RFC 8441 §4): a `:protocol` pseudo-header with this
  // value follows the profile's pseudo-headers (Firefox's order: m, p, a, s, then :protocol). Only
  // after the server's SETTINGS allowed it (remote_allows_extended_connect()).
  int32_t submit_request(std::string_view method, std::string_view scheme, std::string_view authority,
                         std::string_view path, const HeaderList& headers, std::string body,
                         std::string* error, bool body_follows = false,
                         std::string_view extended_protocol = {});
  // More of a body_follows request's body; `end` after the last piece. False for unknown streams
  // or a body already ended.
  bool append_request_body(int32_t stream, std::string_view bytes, bool end);

  // Cancels a stream (RST_STREAM with `code`; a request still waiting is dropped before it is
  // sent). on_stream_closed follows, from the next produce(). Unknown streams are ignored.
  void reset_stream(int32_t stream, uint32_t code = kCancel);

  // Feeds bytes read from the socket. False (with *error) when the session cannot go on: a listener
  // callback threw, or nghttp2 failed fatally. Protocol errors by the server do not fail here:
  // nghttp2 queues a GOAWAY (produce() hands it out) and then want_read()/want_write() turn false.
  bool receive(std::string_view bytes, std::string* error);

  // Appends pending output to `out`: frames queued by start(), submit_request(), reset_stream(),
  // window updates, ACKs. Stops once at least `limit` bytes were appended (a whole frame is never
  // split). Returns false when nothing was appended (on a fatal error too: see failed()).
  bool produce(std::string& out, size_t limit = std::numeric_limits<size_t>::max());

  // Gives back `n` body bytes of `stream` delivered by on_data (manual flow control only). Works
  // after the stream closed too: the connection window still needs them.
  void consume(int32_t stream, size_t n);

  // Queues a PING; returns the opaque value on_ping_ack will report.
  uint64_t submit_ping();
  // Queues a GOAWAY (last stream id 0: we accept no streams) and ends the session once produce()
  // hands it out: want_read()/want_write() turn false, no more requests. Streams still open are not
  // reported: close_all_streams() does that when the socket closes.
  void terminate(uint32_t error_code = kNoError);

  // The connection is gone (EOF, socket or TLS error, timeout): reports every open stream closed
  // with `error_code` (retryable when its HEADERS were never handed out or lie above the GOAWAY's
  // last stream id). The session accepts no more requests.
  void close_all_streams(uint32_t error_code);

  // The server's first SETTINGS frame arrived (its parameters, not defaults, are known).
  bool remote_settings_received() const noexcept { return remote_settings_received_; }
  // The server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3): extended CONNECT allowed.
  bool remote_allows_extended_connect() const;
  // The server's MAX_CONCURRENT_STREAMS (Options::initial_max_concurrent_streams until its SETTINGS).
  size_t remote_max_concurrent_streams() const;
  // Streams submitted and not yet closed (requests waiting for a slot included).
  size_t open_streams() const noexcept { return streams_.size(); }
  // A new request would go out at once: started, not failed, no GOAWAY either way, a free stream
  // slot, stream ids left.
  bool can_submit() const;
  bool goaway_received() const noexcept { return goaway_received_; }
  int32_t goaway_last_stream_id() const noexcept { return goaway_last_stream_id_; }
  // Whether the session still wants to read / has output pending. Both false: close the socket.
  bool want_read() const;
  bool want_write() const;
  bool failed() const noexcept { return failed_; }
  const std::string& error() const noexcept { return error_; }
  // The frames the Akamai fingerprint is made of, as this session sent them (recorded when nghttp2
  // hands each out); complete once headers_sent.
  const fingerprint::H2FirstFlight& first_flight() const noexcept { return first_flight_; }

 private:
  struct Stream;
  struct Callbacks;
  struct SessionDeleter {
    void operator()(nghttp2_session* s) const noexcept;
  };

  void fail(std::string message);
  void scan_output(std::string& out, size_t from);
  void deliver_close(int32_t id, uint32_t error_code);

  Http2Profile profile_;
  SessionListener& listener_;
  Options options_;
  std::unique_ptr<nghttp2_session, SessionDeleter> session_;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  bool started_ = false;
  bool failed_ = false;
  bool closed_ = false;  // close_all_streams() or terminate()
  bool in_io_ = false;   // inside receive() or produce()
  bool goaway_received_ = false;
  bool remote_settings_received_ = false;
  int32_t goaway_last_stream_id_ = std::numeric_limits<int32_t>::max();
  bool patch_default_priority_ = false;
  uint64_t next_ping_ = 1;
  std::string error_;
  std::string callback_error_;        // what a throwing listener callback said
  std::string last_library_message_;  // nghttp2's last error_callback2 message
  fingerprint::H2FirstFlight first_flight_;
  // Output scanner (see scan_output): where the next frame header starts.
  size_t out_skip_ = 24;  // the client magic, then each frame's payload
  unsigned char out_hdr_[9] = {};
  size_t out_hdr_len_ = 0;
};

}  // namespace ctn::http2
