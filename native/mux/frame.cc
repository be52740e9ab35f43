#include "mux/frame.h"

#include <algorithm>
#include <cstring>

namespace ctn::mux {

namespace {

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

std::string_view frame_type_name(FrameType type) noexcept {
  switch (type) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kChallenge:
      return "CHALLENGE";
    case FrameType::kAuth:
      return "AUTH";
    case FrameType::kReady:
      return "READY";
    case FrameType::kRequest:
      return "REQUEST";
    case FrameType::kRequestBody:
      return "REQUEST_BODY";
    case FrameType::kHead:
      return "HEAD";
    case FrameType::kBody:
      return "BODY";
    case FrameType::kEnd:
      return "END";
    case FrameType::kError:
      return "ERROR";
    case FrameType::kCancel:
      return "CANCEL";
    case FrameType::kWindow:
      return "WINDOW";
    case FrameType::kPing:
      return "PING";
    case FrameType::kPong:
      return "PONG";
    case FrameType::kGoaway:
      return "GOAWAY";
    case FrameType::kClientLimits:
      return "CLIENT_LIMITS";
    case FrameType::kSent:
      return "SENT";
  }
  return "UNKNOWN";
}

void append_frame(std::string& out, FrameType type, uint8_t flags, uint64_t stream,
                  std::string_view payload) {
  out.reserve(out.size() + kFrameHeaderSize + payload.size());
  put_be(out, kFrameHeaderSize - 4 + payload.size(), 4);
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  put_be(out, stream, 8);
  out.append(payload);
}

std::string encode_frame(FrameType type, uint8_t flags, uint64_t stream, std::string_view payload) {
  std::string out;
  append_frame(out, type, flags, stream, payload);
  return out;
}

bool FrameDecoder::start_frame() {
  const uint64_t length = get_be(header_, 4);
  if (length < kFrameHeaderSize - 4) {
    error_ = "frame length " + std::to_string(length) + " is shorter than a frame header";
    return false;
  }
  if (length - (kFrameHeaderSize - 4) > max_payload_) {
    error_ = "frame length " + std::to_string(length) + " exceeds the limit of " +
             std::to_string(max_payload_ + kFrameHeaderSize - 4);
    return false;
  }
  current_.type = static_cast<FrameType>(static_cast<uint8_t>(header_[4]));
  current_.flags = static_cast<uint8_t>(header_[5]);
  current_.stream = get_be(header_ + 6, 8);
  payload_size_ = length - (kFrameHeaderSize - 4);
  payload_fill_ = 0;
  current_.payload.clear();
  if (claim_) current_.payload = claim_(current_.type, current_.stream, payload_size_);
  current_.payload_start = current_.payload.size();
  // A claimed buffer grows as its owner sized it (or geometrically), a fresh one once.
  if (current_.payload_start == 0) current_.payload.reserve(payload_size_);
  in_payload_ = true;
  return true;
}

void FrameDecoder::finish_frame_if_complete(std::vector<Frame>& out) {
  if (!in_payload_ || payload_fill_ != payload_size_) return;
  out.push_back(std::move(current_));
  current_ = Frame{};
  payload_fill_ = 0;
  in_payload_ = false;
}

std::span<char> FrameDecoder::payload_space(size_t max) {
  const size_t n = std::min(max, payload_remaining());
  if (n == 0) return {};
  // Grown only by what is about to be read: a peer announcing a big frame gets memory as its
  // bytes arrive, not before.
  const size_t at = current_.payload_start + payload_fill_;
  current_.payload.resize(at + n);
  return {current_.payload.data() + at, n};
}

void FrameDecoder::commit(size_t n, std::vector<Frame>& out) {
  if (!in_payload_) return;
  n = std::min(n, payload_remaining());
  payload_fill_ += n;
  touched_ = touched_ || n > 0;
  current_.payload.resize(current_.payload_start + payload_fill_);  // drops room left unwritten
  finish_frame_if_complete(out);
}

bool FrameDecoder::feed(const char* data, size_t size, std::vector<Frame>& out) {
  do {
    if (!feed_until_frame(&data, &size, out)) return false;
  } while (size > 0);
  return true;
}

bool FrameDecoder::feed_until_frame(const char** data_in, size_t* size_in, std::vector<Frame>& out) {
  if (!error_.empty()) return false;
  const char*& data = *data_in;
  size_t& size = *size_in;
  if (size > 0) touched_ = true;
  while (size > 0 || (in_payload_ && payload_fill_ == payload_size_)) {
    if (!in_payload_) {
      const size_t take = std::min(size, kFrameHeaderSize - header_fill_);
      std::memcpy(header_ + header_fill_, data, take);
      header_fill_ += take;
      data += take;
      size -= take;
      // Length and type are checked as soon as they arrive: garbage is refused without waiting
      // for a length's worth of it.
      if (header_fill_ >= 4 && header_fill_ - take < 4) {
        const uint64_t length = get_be(header_, 4);
        if (length < kFrameHeaderSize - 4 || length - (kFrameHeaderSize - 4) > max_payload_) {
          return start_frame();  // reports the error
        }
      }
      if (header_fill_ >= 5) {
        const uint8_t type = static_cast<uint8_t>(header_[4]);
        if (type == 0 || type > kLastFrameType) {
          error_ = "unknown frame type " + std::to_string(type);
          return false;
        }
      }
      if (header_fill_ < kFrameHeaderSize) continue;
      header_fill_ = 0;
      if (!start_frame()) return false;
    }
    const size_t take = std::min(size, payload_remaining());
    current_.payload.resize(current_.payload_start + payload_fill_);  // a no-op unless space went unused
    current_.payload.append(data, take);
    payload_fill_ += take;
    data += take;
    size -= take;
    if (payload_fill_ == payload_size_) {
      finish_frame_if_complete(out);
      return true;
    }
  }
  return true;
}

PayloadWriter& PayloadWriter::u8(uint8_t v) {
  put_be(out_, v, 1);
  return *this;
}
PayloadWriter& PayloadWriter::u16(uint16_t v) {
  put_be(out_, v, 2);
  return *this;
}
PayloadWriter& PayloadWriter::u32(uint32_t v) {
  put_be(out_, v, 4);
  return *this;
}
PayloadWriter& PayloadWriter::u64(uint64_t v) {
  put_be(out_, v, 8);
  return *this;
}
PayloadWriter& PayloadWriter::str(std::string_view s) {
  put_be(out_, s.size(), 4);
  out_.append(s);
  return *this;
}
PayloadWriter& PayloadWriter::raw(std::string_view s) {
  out_.append(s);
  return *this;
}

bool PayloadReader::u8(uint8_t* v) {
  if (in_.size() - pos_ < 1) return false;
  *v = static_cast<uint8_t>(get_be(in_.data() + pos_, 1));
  pos_ += 1;
  return true;
}
bool PayloadReader::u16(uint16_t* v) {
  if (in_.size() - pos_ < 2) return false;
  *v = static_cast<uint16_t>(get_be(in_.data() + pos_, 2));
  pos_ += 2;
  return true;
}
bool PayloadReader::u32(uint32_t* v) {
  if (in_.size() - pos_ < 4) return false;
  *v = static_cast<uint32_t>(get_be(in_.data() + pos_, 4));
  pos_ += 4;
  return true;
}
bool PayloadReader::u64(uint64_t* v) {
  if (in_.size() - pos_ < 8) return false;
  *v = get_be(in_.data() + pos_, 8);
  pos_ += 8;
  return true;
}
bool PayloadReader::boolean(bool* v) {
  uint8_t b = 0;
  if (!u8(&b) || b > 1) return false;
  *v = b == 1;
  return true;
}
bool PayloadReader::str(std::string* s) {
  uint32_t n = 0;
  if (!u32(&n)) return false;
  return raw(n, s);
}
bool PayloadReader::raw(size_t n, std::string* s) {
  if (in_.size() - pos_ < n) return false;
  s->assign(in_.data() + pos_, n);
  pos_ += n;
  return true;
}

}  // namespace ctn::mux
