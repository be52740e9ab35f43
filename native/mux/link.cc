#include "mux/link.h"

#include <algorithm>
#include <atomic>

namespace ctn::mux {

namespace {
std::atomic<uint32_t> next_link_id{1};
constexpr size_t kReadChunk = 256u << 10;
// One write gathers at most this much, so control frames queued meanwhile wait only briefly.
constexpr size_t kWriteBatch = 512u << 10;
}  // namespace

Link::Link(Socket socket, LinkHandler& handler, size_t max_payload)
    : socket_(std::move(socket)),
      handler_(&handler),
      decoder_(max_payload),
      read_buffer_(kReadChunk),
      id_(next_link_id.fetch_add(1)) {}

void Link::start() {
  socket_.async_read_some(
      asio::buffer(read_buffer_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Link::on_read(const asio::error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    finish(ec == asio::error::eof ? "the peer closed the link" : "link read failed: " + ec.message());
    return;
  }
  bytes_in_ += n;
  frames_.clear();
  const bool ok = decoder_.feed(read_buffer_.data(), n, frames_);
  // Frames decoded before a malformed one are still delivered: they were well-formed and in order.
  for (auto& f : frames_) {
    if (closed_) return;
    ++frames_in_;
    handler_->on_frame(*this, std::move(f));
  }
  if (closed_) return;
  if (!ok) {
    finish("malformed frame: " + decoder_.error());
    return;
  }
  start();
}

Link::OutFrame Link::make_frame(FrameType type, uint8_t flags, uint64_t stream, std::string payload) {
  OutFrame f;
  append_frame(f.head, type, flags, stream, {});
  // append_frame wrote a length for an empty payload: patch in the real one.
  const uint64_t length = kFrameHeaderSize - 4 + payload.size();
  for (int i = 0; i < 4; ++i) f.head[i] = static_cast<char>((length >> (8 * (3 - i))) & 0xff);
  f.payload = std::move(payload);
  return f;
}

void Link::send_control(FrameType type, uint8_t flags, uint64_t stream, std::string_view payload) {
  if (closed_ || close_after_flush_) return;
  control_.push_back(make_frame(type, flags, stream, std::string(payload)));
  control_bytes_ += control_.back().size();
  queued_bytes_ += control_.back().size();
  if (control_bytes_ > max_control_bytes_) {
    finish("the peer does not read what it asks for (over " + std::to_string(max_control_bytes_) +
           " bytes of link-level frames queued)");
    return;
  }
  start_write();
}

void Link::send_stream(FrameType type, uint8_t flags, uint64_t stream, std::string payload) {
  if (closed_ || close_after_flush_) return;
  auto& queue = stream_out_[stream];
  if (queue.empty()) ready_streams_.push_back(stream);
  queue.push_back(make_frame(type, flags, stream, std::move(payload)));
  queued_bytes_ += queue.back().size();
  start_write();
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
    if (!w.payload.empty()) buffers.emplace_back(asio::buffer(w.payload));
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
