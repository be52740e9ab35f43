#include "core/body_decoder.h"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "common/http_types.h"

namespace ctn {

namespace {

constexpr size_t kChunk = 64 * 1024;
// RFC 9659 §3 (zstd as a Content-Encoding): windows up to 8 MiB; larger ones may be refused.
constexpr int kZstdWindowLogMax = 23;

class Capped : public BodyDecoder {
 protected:
  explicit Capped(uint64_t max_output) : max_output_(max_output) {}
  // Grows `out` by up to kChunk for the next decode step; returns the write pointer.
  char* grow(std::string& out, size_t* room) {
    const size_t before = out.size();
    out.resize(before + kChunk);
    *room = kChunk;
    return out.data() + before;
  }
  bool account(std::string& out, size_t produced, size_t room, std::string* why) {
    out.resize(out.size() - (room - produced));
    total_ += produced;
    if (max_output_ && total_ > max_output_) {
      *why = "decoded body exceeds " + std::to_string(max_output_) + " bytes";
      cap_exceeded_ = true;
      return false;
    }
    return true;
  }

 public:
  bool cap_exceeded() const noexcept override { return cap_exceeded_; }

 protected:
  uint64_t max_output_;
  uint64_t total_ = 0;
  bool cap_exceeded_ = false;
};

class ZlibDecoder final : public Capped {
 public:
  // gzip: window bits 16+15. deflate: zlib-wrapped (15), or raw (-15) when the first bytes are not
  // a zlib header: servers send both under "deflate".
  ZlibDecoder(bool gzip, uint64_t max_output) : Capped(max_output), gzip_(gzip) {}
  ~ZlibDecoder() override {
    if (initialised_) inflateEnd(&z_);
  }

  bool decode(std::string_view in, std::string& out, std::string* why) override {
    if (!initialised_) {
      if (!gzip_ && pending_.size() + in.size() < 2) {
        pending_.append(in);
        return true;
      }
      std::string first = pending_;
      first.append(in.substr(0, 2));
      int bits = 16 + MAX_WBITS;
      if (!gzip_) {
        const auto cmf = static_cast<uint8_t>(first[0]), flg = static_cast<uint8_t>(first[1]);
        const bool zlib_header = (cmf & 0x0f) == 8 && ((cmf << 8) | flg) % 31 == 0;
        bits = zlib_header ? MAX_WBITS : -MAX_WBITS;
      }
      std::memset(&z_, 0, sizeof z_);
      if (inflateInit2(&z_, bits) != Z_OK) {
        *why = "cannot start the inflater";
        return false;
      }
      initialised_ = true;
      if (!pending_.empty()) {
        std::string held = std::move(pending_);
        pending_.clear();
        if (!run(held, out, why)) return false;
      }
    }
    return run(in, out, why);
  }

  bool finish(std::string* why) override {
    if (ended_) return true;
    *why = gzip_ ? "the gzip body ended early" : "the deflate body ended early";
    return false;
  }

 private:
  bool run(std::string_view in, std::string& out, std::string* why) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    // A full output buffer may hide more output for input already taken in.
    bool full = false;
    while ((z_.avail_in > 0 || full) && !ended_) {
      size_t room;
      char* dst = grow(out, &room);
      z_.next_out = reinterpret_cast<Bytef*>(dst);
      z_.avail_out = static_cast<uInt>(room);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      full = z_.avail_out == 0;
      if (!account(out, room - z_.avail_out, room, why)) return false;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        *why = std::string("corrupt ") + (gzip_ ? "gzip" : "deflate") + " body" +
               (z_.msg ? std::string(": ") + z_.msg : "");
        return false;
      } else if (rc == Z_BUF_ERROR && z_.avail_out != 0) {
        break;  // needs more input
      }
    }
    return true;
  }

  bool gzip_;
  bool initialised_ = false;
  bool ended_ = false;
  std::string pending_;
  z_stream z_{};
};

class BrotliDecoder final : public Capped {
 public:
  explicit BrotliDecoder(uint64_t max_output)
      : Capped(max_output), state_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)) {}
  ~BrotliDecoder() override { BrotliDecoderDestroyInstance(state_); }

  bool decode(std::string_view in, std::string& out, std::string* why) override {
    size_t avail_in = in.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    if (done_ && avail_in > 0) {
      *why = "data after the end of the br stream";
      return false;
    }
    for (;;) {
      size_t room;
      char* dst = grow(out, &room);
      size_t avail_out = room;
      uint8_t* next_out = reinterpret_cast<uint8_t*>(dst);
      const auto rc =
          BrotliDecoderDecompressStream(state_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      if (!account(out, room - avail_out, room, why)) return false;
      if (rc == BROTLI_DECODER_RESULT_ERROR) {
        *why = std::string("corrupt br body: ") + BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_));
        return false;
      }
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
        done_ = true;
        if (avail_in > 0) {
          *why = "data after the end of the br stream";
          return false;
        }
        return true;
      }
      if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return true;
    }
  }

  bool finish(std::string* why) override {
    if (done_) return true;
    *why = "the br body ended early";
    return false;
  }

 private:
  BrotliDecoderState* state_;
  bool done_ = false;
};

class ZstdDecoder final : public Capped {
 public:
  explicit ZstdDecoder(uint64_t max_output) : Capped(max_output), stream_(ZSTD_createDStream()) {
    ZSTD_initDStream(stream_);
    // A frame asking for more fails with "Frame requires too much memory for decoding".
    ZSTD_DCtx_setParameter(stream_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  }
  ~ZstdDecoder() override { ZSTD_freeDStream(stream_); }

  bool decode(std::string_view in, std::string& out, std::string* why) override {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    while (input.pos < input.size || flushing_) {
      size_t room;
      char* dst = grow(out, &room);
      ZSTD_outBuffer output{dst, room, 0};
      const size_t rc = ZSTD_decompressStream(stream_, &output, &input);
      if (!account(out, output.pos, room, why)) return false;
      if (ZSTD_isError(rc)) {
        *why = std::string("corrupt zstd body: ") + ZSTD_getErrorName(rc);
        return false;
      }
      frame_open_ = rc != 0;
      // A full output buffer may hide more output for the same input.
      flushing_ = output.pos == output.size;
      if (!flushing_ && input.pos == input.size) break;
    }
    return true;
  }

  bool finish(std::string* why) override {
    if (!frame_open_) return true;
    *why = "the zstd body ended early";
    return false;
  }

 private:
  ZSTD_DStream* stream_;
  bool frame_open_ = false;
  bool flushing_ = false;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::unique_ptr<BodyDecoder> BodyDecoder::for_encoding(std::string_view encoding, uint64_t max_output) {
  encoding = trim(encoding);
  if (iequals(encoding, "gzip") || iequals(encoding, "x-gzip"))
    return std::make_unique<ZlibDecoder>(true, max_output);
  if (iequals(encoding, "deflate")) return std::make_unique<ZlibDecoder>(false, max_output);
  if (iequals(encoding, "br")) return std::make_unique<BrotliDecoder>(max_output);
  if (iequals(encoding, "zstd")) return std::make_unique<ZstdDecoder>(max_output);
  return nullptr;
}

}  // namespace ctn
