#include "mux/link.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace ctn::mux {

namespace {
std::atomic<uint32_t> next_link_id{1};
constexpr size_t kReadChunk = 256u << 10;
// A payload with at least this much still to come is read straight into place, together with at
// most the next frame's header (so that frame's payload can go straight into place too).
constexpr size_t kDirectReadMin = 16u << 10;
constexpr size_t kDirectReadMax = 1u << 20;  // the payload grows by at most this much per read
// One write gathers at most this much, so control frames queued meanwhile wait only briefly.
constexpr size_t kWriteBatch = 512u << 10;
// The kernel's default for a Unix socket (about 200 KiB) lets a 1 MiB answer cross only in five or
// more rounds of "writer blocks, reader wakes, writer wakes": asked for 1 MiB each way (the kernel
// caps it at net.core.wmem_max / rmem_max), a large body crosses in one or two.
constexpr int kSocketBuffer = 1 << 20;
}  // namespace

Link::Link(Socket socket, LinkHandler& handler, size_t max_payload)
    : socket_(std::move(socket)),
      handler_(&handler),
      decoder_(max_payload),
      read_buffer_(kReadChunk),
      id_(next_link_id.fetch_add(1)) {
  asio::error_code ignored;  // a smaller buffer only costs wake-ups
  socket_.set_option(asio::socket_base::send_buffer_size(kSocketBuffer), ignored);
  socket_.set_option(asio::socket_base::receive_buffer_size(kSocketBuffer), ignored);
  decoder_.set_claim([this](FrameType type, uint64_t stream, size_t size) {
    return handler_ ? handler_->claim_payload(type, stream, size) : std::string();
  });
}

void Link::start() {
  // A large payload goes straight into place to its last byte (a small rest read into the buffer
  // would bring the next frames with it, to be copied).
  const size_t remaining = decoder_.payload_remaining();
  if (remaining >= kDirectReadMin || (remaining > 0 && decoder_.payload_size() >= kDirectReadMin)) {
    const std::span<char> space = decoder_.payload_space(kDirectReadMax);
    const std::array<asio::mutable_buffer, 2> buffers{asio::buffer(space.data(), space.size()),
                                                      asio::buffer(read_buffer_.data(), kFrameHeaderSize)};
    socket_.async_read_some(
        buffers, [self = shared_from_this(), direct = space.size()](const asio::error_code& ec, size_t n) {
          self->on_read(ec, n, direct);
        });
    return;
  }
  // Between two pieces of a body: the header alone, so the payload it announces can go into place.
  const size_t header_missing = decoder_.header_missing();
  const size_t read_size =
      bulk_ && remaining == 0 && header_missing > 0 ? header_missing : read_buffer_.size();
  socket_.async_read_some(
      asio::buffer(read_buffer_.data(), read_size),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->on_read(ec, n, 0); });
}

void Link::on_read(const asio::error_code& ec, size_t n, size_t direct) {
  if (closed_) return;
  if (ec) {
    finish(ec == asio::error::eof ? "the peer closed the link" : "link read failed: " + ec.message());
    return;
  }
  bytes_in_ += n;
  const size_t in_place = std::min(n, direct);
  bytes_in_place_ += in_place;
  if (direct > 0) {
    frames_.clear();
    decoder_.commit(in_place, frames_);
    if (!deliver_frames()) return;
  }
  // One frame at a time: each is with its handler before the next one's header asks it for a
  // buffer (claim_payload).
  const char* data = read_buffer_.data();
  size_t left = n - in_place;
  while (left > 0) {
    frames_.clear();
    const bool ok = decoder_.feed_until_frame(&data, &left, frames_);
    // Frames decoded before a malformed one are still delivered: they were well-formed and in order.
    if (!deliver_frames()) return;
    if (!ok) {
      finish("malformed frame: " + decoder_.error());
      return;
    }
  }
  start();
}

bool Link::deliver_frames() {
  for (auto& f : frames_) {
    if (closed_) return false;
    ++frames_in_;
    bulk_ = f.payload_size() >= kDirectReadMin;
    handler_->on_frame(*this, std::move(f));
  }
  return !closed_;
}

Link::OutFrame Link::make_frame(FrameType type, uint8_t flags, uint64_t stream, size_t payload_size) {
  OutFrame f;
  append_frame(f.head, type, flags, stream, {});
  // append_frame wrote a length for an empty payload: patch in the real one.
  const uint64_t length = kFrameHeaderSize - 4 + payload_size;
  for (int i = 0; i < 4; ++i) f.head[i] = static_cast<char>((length >> (8 * (3 - i))) & 0xff);
  return f;
}

void Link::send_control(FrameType type, uint8_t flags, uint64_t stream, std::string_view payload) {
  if (closed_ || close_after_flush_) return;
  control_.push_back(make_frame(type, flags, stream, payload.size()));
  control_.back().payload.assign(payload);
  control_bytes_ += control_.back().size();
  queued_bytes_ += control_.back().size();
  if (control_bytes_ > max_control_bytes_) {
    finish("the peer does not read what it asks for (over " + std::to_string(max_control_bytes_) +
           " bytes of link-level frames queued)");
    return;
  }
  schedule_write();
}

void Link::send_stream(FrameType type, uint8_t flags, uint64_t stream, std::string payload) {
  if (closed_ || close_after_flush_) return;
  OutFrame f = make_frame(type, flags, stream, payload.size());
  f.payload = std::move(payload);
  queue_stream(stream, std::move(f));
}

void Link::send_stream_slice(FrameType type, uint8_t flags, uint64_t stream,
                             std::shared_ptr<const std::string> body, size_t offset, size_t length) {
  if (closed_ || close_after_flush_) return;
  offset = std::min(offset, body->size());
  length = std::min(length, body->size() - offset);
  OutFrame f = make_frame(type, flags, stream, length);
  f.shared = std::move(body);
  f.offset = offset;
  f.length = length;
  queue_stream(stream, std::move(f));
}

void Link::queue_stream(uint64_t stream, OutFrame&& frame) {
  auto& queue = stream_out_[stream];
  if (queue.empty()) ready_streams_.push_back(stream);
  queued_bytes_ += frame.size();
  queue.push_back(std::move(frame));
  schedule_write();
}

void Link::schedule_write() {
  if (write_in_flight_ || write_scheduled_ || closed_) return;
  write_scheduled_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->write_scheduled_ = false;
    self->start_write();
  });
}

void Link::start_write() {
  if (write_in_flight_ || closed_) return;
  std::vector<asio::const_buffer> buffers;
  size_t batch = 0;
  writing_.clear();
  while (!control_.empty() && batch < kWriteBatch) {
    writing_.push_back(std::move(control_.front()));
    control_.pop_front();
    batch += writing_.back().size();
    control_bytes_ -= writing_.back().size();
  }
  // Round-robin: one frame from each ready stream per turn.
  while (!ready_streams_.empty() && batch < kWriteBatch) {
    const uint64_t stream = ready_streams_.front();
    ready_streams_.pop_front();
    auto it = stream_out_.find(stream);
    if (it == stream_out_.end() || it->second.empty()) continue;
    writing_.push_back(std::move(it->second.front()));
    it->second.pop_front();
    batch += writing_.back().size();
    if (it->second.empty()) {
      stream_out_.erase(it);
    } else {
      ready_streams_.push_back(stream);
    }
  }
  if (writing_.empty()) {
    if (close_after_flush_) finish(flush_reason_);
    return;
  }
  buffers.reserve(writing_.size() * 2);
  for (const auto& w : writing_) {
    buffers.emplace_back(asio::buffer(w.head));
    if (const std::string_view bytes = w.bytes(); !bytes.empty())
      buffers.emplace_back(asio::buffer(bytes.data(), bytes.size()));
  }
  write_in_flight_ = true;
  if (queued_bytes_ >= kLowWater) was_above_low_water_ = true;
  asio::async_write(socket_, buffers, [self = shared_from_this()](const asio::error_code& ec, size_t n) {
    self->on_write(ec, n);
  });
}

void Link::on_write(const asio::error_code& ec, size_t n) {
  write_in_flight_ = false;
  if (closed_) return;
  if (ec) {
    finish("link write failed: " + ec.message());
    return;
  }
  bytes_out_ += n;
  queued_bytes_ -= std::min(queued_bytes_, n);
  writing_.clear();
  start_write();
  if (!closed_ && was_above_low_water_ && queued_bytes_ < kLowWater) {
    was_above_low_water_ = false;
    handler_->on_link_writable(*this);
  }
}

void Link::close(const std::string& reason) {
  if (closed_) return;
  finish(reason);
}

void Link::close_after_flush(const std::string& reason) {
  if (closed_ || close_after_flush_) return;
  close_after_flush_ = true;
  flush_reason_ = reason;
  if (!write_in_flight_) start_write();
}

void Link::finish(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  asio::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  control_.clear();
  control_bytes_ = 0;
  stream_out_.clear();
  ready_streams_.clear();
  queued_bytes_ = 0;
  LinkHandler* handler = handler_;
  handler_ = nullptr;
  if (handler) handler->on_link_closed(*this, reason);
}

}  // namespace ctn::mux
