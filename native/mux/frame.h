// The framed, multiplexed link between processes sharing one engine per port. Byte-in/byte-out:
// nothing here touches a socket, so the codec is tested split at every byte and fuzzed.
//
// A frame on the wire:
//   u32 length   bytes after this field (type + flags + stream + payload), big-endian
//   u8  type     FrameType
//   u8  flags    kEndStream on the last frame of a request body
//   u64 stream   request stream id, chosen by the client; 0 for link-level frames
//   payload
// 32-bit lengths: a 70 000-byte URL or a 10 MiB header block is just a long frame (cycletls's
// 16-bit lengths desynchronised the link there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ctn::mux {

// Bumped whenever a frame or payload layout changes: both ends must speak the same one.
// 2: REQUEST carries the proxy; 3: streamed bodies, SENT; 4: Unix socket, the kernel vouches for the
// peer's user (HELLO → READY, no CHALLENGE/AUTH), and REQUEST carries max_response_bytes;
// 5: REQUEST carries the http3 mode; 6: REQUEST carries quicFingerprint (#17) and #19's fields
// (identity, rotation limits, dnsServers, family, lib's DNS answer, echConfigList), and HEAD the
// connection's fingerprint
inline constexpr uint16_t kProtocolVersion = 6;
inline constexpr size_t kFrameHeaderSize = 14;
inline constexpr size_t kMaxFramePayload = 64u << 20;  // a request head with huge headers still fits
inline constexpr size_t kBodyChunk = 64u << 10;        // bodies travel in chunks this big, interleaved

enum class FrameType : uint8_t {
  kHello = 1,          // client → host: magic, version, pid, 32 reserved bytes
  kChallenge = 2,      // link v3 only (secret-based authentication): never sent, refused if received
  kAuth = 3,           // link v3 only
  kReady = 4,          // host → client: the link is open; initial per-stream window
  kRequest = 5,        // client → host: a request (everything but its body)
  kRequestBody = 6,    // client → host: a piece of the request body; kEndStream on the last
  kHead = 7,           // host → client: status, headers, connection facts
  kBody = 8,           // host → client: a piece of the response body (counts against the window)
  kEnd = 9,            // host → client: the response is complete
  kError = 10,         // host → client: the request failed (code, stage, message)
  kCancel = 11,        // client → host: stop this request
  kWindow = 12,        // client → host: the client consumed this many more body bytes of a stream
  kPing = 13,          // client → host
  kPong = 14,          // host → client
  kGoaway = 15,        // either way: no new requests on this link (reason)
  kClientLimits = 16,  // client → host: limits of one client (stream = its id) on the host's engine
  kSent = 17,          // host → client: this many more bytes of a streamed request body left the host
};
inline constexpr uint8_t kLastFrameType = 17;

enum FrameFlags : uint8_t { kEndStream = 1 };

std::string_view frame_type_name(FrameType type) noexcept;

struct Frame {
  FrameType type = FrameType::kPing;
  uint8_t flags = 0;
  uint64_t stream = 0;
  std::string payload;
  // Bytes at the front of `payload` that are not this frame's: the buffer a PayloadClaim handed
  // the decoder already held them (a body being gathered). 0 for an unclaimed frame.
  size_t payload_start = 0;
  size_t payload_size() const { return payload.size() - payload_start; }
};

// Asked once per frame, when its header is complete: a buffer the payload is appended to instead
// of a fresh one (empty: a fresh one). A body gathered whole grows in place, with no copy from
// frame to body; the frame returns the buffer with payload_start set.
using PayloadClaim = std::function<std::string(FrameType type, uint64_t stream, size_t payload_size)>;

// Appends one encoded frame to `out`.
void append_frame(std::string& out, FrameType type, uint8_t flags, uint64_t stream, std::string_view payload);
std::string encode_frame(FrameType type, uint8_t flags, uint64_t stream, std::string_view payload);

// Cuts a byte stream into frames. Payload bytes are copied once, from the input straight into the
// frame being assembled (no intermediate buffer), or not at all: a reader may put them straight
// into the payload being filled (payload_space, commit). After a malformed frame the decoder
// refuses everything else: a link that lost framing cannot be trusted again.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_payload = kMaxFramePayload) : max_payload_(max_payload) {}

  // Consumes `size` bytes; complete frames are appended to `out`. False on a malformed frame
  // (unknown type, a length outside the limits); `error()` says which.
  bool feed(const char* data, size_t size, std::vector<Frame>& out);
  // As feed, but stops once a frame is complete: *data and *size are advanced past what was
  // consumed. A reader that hands each frame on before the next one's header is read keeps the
  // claims in order (a body's buffer is with its owner again before the next frame claims it).
  bool feed_until_frame(const char** data, size_t* size, std::vector<Frame>& out);
  // Payload bytes still missing from the frame being filled (0 between frames).
  size_t payload_remaining() const { return in_payload_ ? payload_size_ - payload_fill_ : 0; }
  // The whole payload of the frame being filled (0 between frames).
  size_t payload_size() const { return in_payload_ ? payload_size_ : 0; }
  // Header bytes still missing (0 while a payload is being filled).
  size_t header_missing() const { return in_payload_ ? 0 : kFrameHeaderSize - header_fill_; }
  // Room for up to `max` more payload bytes of the frame being filled, at their final place; the
  // caller writes there and says how many with commit() before anything else is fed.
  std::span<char> payload_space(size_t max);
  // `n` bytes (at most the size of the last payload_space) were written there; a frame they
  // complete is appended to `out`.
  void commit(size_t n, std::vector<Frame>& out);
  void set_claim(PayloadClaim claim) { claim_ = std::move(claim); }
  const std::string& error() const { return error_; }
  // Before a peer has proven itself it may send only tiny frames; afterwards, big ones.
  void set_max_payload(size_t max_payload) { max_payload_ = max_payload; }
  // Bytes of a frame not yet complete.
  size_t buffered() const { return header_fill_ + payload_fill_; }
  // Nothing consumed yet (to tell "closed before saying anything" from "closed mid-frame").
  bool untouched() const { return !touched_; }

 private:
  bool start_frame();
  void finish_frame_if_complete(std::vector<Frame>& out);

  size_t max_payload_;
  char header_[kFrameHeaderSize] = {};
  size_t header_fill_ = 0;
  bool in_payload_ = false;  // header complete, payload of payload_size_ bytes being filled
  size_t payload_size_ = 0;
  size_t payload_fill_ = 0;  // of payload_size_, after current_.payload_start bytes
  Frame current_;
  PayloadClaim claim_;
  std::string error_;
  bool touched_ = false;
};

// Payload encoding: big-endian integers, strings as u32 length + bytes.
class PayloadWriter {
 public:
  PayloadWriter& u8(uint8_t v);
  PayloadWriter& u16(uint16_t v);
  PayloadWriter& u32(uint32_t v);
  PayloadWriter& u64(uint64_t v);
  PayloadWriter& str(std::string_view s);
  PayloadWriter& raw(std::string_view s);
  std::string& data() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Bounds-checked reading; every accessor returns false once the payload ran short.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view in) : in_(in) {}
  bool u8(uint8_t* v);
  bool u16(uint16_t* v);
  bool u32(uint32_t* v);
  bool u64(uint64_t* v);
  bool boolean(bool* v);
  bool str(std::string* s);
  bool raw(size_t n, std::string* s);
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace ctn::mux
