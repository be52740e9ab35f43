// One connection of the process link (a Unix-domain stream socket), Beast style: one object per connection,
// one read and one write in flight at a time. The single reader cuts the byte stream into frames and hands
// each to the owner, which demultiplexes by stream id; a large payload is read straight into the buffer
// it ends in (the owner may name it: claim_payload). Outgoing frames wait in an outbox: link-level frames
// first, then one frame per stream in turn, so a large body never holds up the other streams; what is
// queued within one turn of the io loop leaves in one gathered write. Everything runs on the owner's io
// thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "mux/frame.h"

namespace ctn::mux {

class Link;

class LinkHandler {
 public:
  virtual ~LinkHandler() = default;
  virtual void on_frame(Link& link, Frame&& frame) = 0;
  // Once per link, after which the handler is never called again for it. `reason` is empty for a
  // close the owner asked for.
  virtual void on_link_closed(Link& link, const std::string& reason) = 0;
  // The outbox drained below its low-water mark: streams holding data may queue more.
  virtual void on_link_writable(Link& link) = 0;
  // A buffer the payload of the frame whose header just arrived is appended to (PayloadClaim);
  // empty: a fresh one.
  virtual std::string claim_payload(FrameType, uint64_t /*stream*/, size_t /*payload_size*/) { return {}; }
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  using Socket = asio::local::stream_protocol::socket;

  Link(Socket socket, LinkHandler& handler, size_t max_payload = kMaxFramePayload);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Starts the single read loop.
  void start();
  // Link-level frames (handshake, ping, goaway, window, cancel): ahead of stream data. A peer that
  // lets more than max_control_bytes() of them pile up (it sends PINGs but never reads the PONGs)
  // loses the link: the queue is never allowed to grow without bound.
  void send_control(FrameType type, uint8_t flags, uint64_t stream, std::string_view payload);
  // Stream frames go round-robin with other streams' frames; order within a stream is kept. The
  // payload is moved in and written from where it is (a body chunk is never copied again here).
  void send_stream(FrameType type, uint8_t flags, uint64_t stream, std::string payload);
  // A stream frame carrying bytes [offset, offset + length) of `body`, written from where they are:
  // a body the engine read in one piece leaves in several frames without being cut up.
  void send_stream_slice(FrameType type, uint8_t flags, uint64_t stream,
                         std::shared_ptr<const std::string> body, size_t offset, size_t length);
  // Closes now (pending output is dropped). Idempotent; the handler hears of it once.
  void close(const std::string& reason = {});
  // Closes once everything queued so far has been written (a GOAWAY before leaving).
  void close_after_flush(const std::string& reason = {});

  bool open() const { return !closed_; }
  void set_max_payload(size_t max_payload) { decoder_.set_max_payload(max_payload); }
  void set_max_control_bytes(size_t bytes) { max_control_bytes_ = bytes; }
  size_t max_control_bytes() const { return max_control_bytes_; }
  int native_handle() { return socket_.native_handle(); }
  // Bytes queued and not yet written: owners stop adding stream data above kHighWater.
  size_t queued_bytes() const { return queued_bytes_; }
  bool writable() const { return !closed_ && queued_bytes_ < kHighWater; }
  uint64_t frames_in() const { return frames_in_; }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  // Payload bytes read straight into the frame's buffer, never copied out of the read buffer.
  uint64_t bytes_in_place() const { return bytes_in_place_; }
  // The decoder has not seen a single byte (the peer said nothing before closing).
  bool peer_silent() const { return decoder_.untouched(); }
  uint32_t id() const { return id_; }

  static constexpr size_t kHighWater = 1u << 20;
  static constexpr size_t kLowWater = 256u << 10;
  static constexpr size_t kMaxControlBytes = 4u << 20;

 private:
  void on_read(const asio::error_code& ec, size_t n, size_t direct);
  // Hands frames_ to the handler; false once the link closed meanwhile.
  bool deliver_frames();
  // Writes what is queued once the current handler is done, so its frames share one write.
  void schedule_write();
  void start_write();
  void on_write(const asio::error_code& ec, size_t n);
  void finish(const std::string& reason);

  Socket socket_;
  LinkHandler* handler_;
  FrameDecoder decoder_;
  std::vector<char> read_buffer_;
  std::vector<Frame> frames_;

  // A frame waiting to be written: its 14-byte header and its payload (its own, or a slice of a
  // shared body), gathered in one write.
  struct OutFrame {
    std::string head;
    std::string payload;
    std::shared_ptr<const std::string> shared;
    size_t offset = 0, length = 0;  // of *shared
    std::string_view bytes() const {
      return shared ? std::string_view(*shared).substr(offset, length) : std::string_view(payload);
    }
    size_t size() const { return head.size() + (shared ? length : payload.size()); }
  };
  static OutFrame make_frame(FrameType type, uint8_t flags, uint64_t stream, size_t payload_size);
  void queue_stream(uint64_t stream, OutFrame&& frame);

  std::deque<OutFrame> control_;
  size_t control_bytes_ = 0;  // of control_
  size_t max_control_bytes_ = kMaxControlBytes;
  std::unordered_map<uint64_t, std::deque<OutFrame>> stream_out_;
  std::deque<uint64_t> ready_streams_;  // streams with frames waiting, in turn order
  std::vector<OutFrame> writing_;       // owns the bytes of the write in flight
  size_t queued_bytes_ = 0;
  bool write_in_flight_ = false;
  bool write_scheduled_ = false;
  bool close_after_flush_ = false;
  std::string flush_reason_;
  bool closed_ = false;
  bool was_above_low_water_ = false;
  uint64_t frames_in_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t bytes_in_place_ = 0;
  // The last frame had a large payload: the next is likely another piece of a body, so its header
  // is read alone and its payload straight into place (not into the read buffer and copied).
  bool bulk_ = false;
  uint32_t id_;
};

}  // namespace ctn::mux
