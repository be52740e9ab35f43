// Content-Encoding decoders: every codec round-trips, split at every byte; corrupt, truncated and
// oversized (bomb) bodies are refused.
#include "core/body_decoder.h"

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

namespace ctn {
namespace {

std::string sample(size_t n) {
  std::string s;
  std::mt19937 rng(7);
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i % 97 < 60 ? 'a' + i % 26 : rng() & 0xff));
  return s;
}

std::string zlib_encode(const std::string& in, int window_bits) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = in.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string brotli_encode(const std::string& in) {
  size_t n = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(n, '\0');
  EXPECT_TRUE(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, in.size(),
                                    reinterpret_cast<const uint8_t*>(in.data()), &n,
                                    reinterpret_cast<uint8_t*>(out.data())));
  out.resize(n);
  return out;
}

std::string zstd_encode(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

struct Case {
  const char* encoding;
  std::string encoded;
};

std::vector<Case> cases(const std::string& plain) {
  return {{"gzip", zlib_encode(plain, 16 + 15)},  {"x-gzip", zlib_encode(plain, 16 + 15)},
          {"deflate", zlib_encode(plain, 15)},    {"deflate", zlib_encode(plain, -15)},
          {"br", brotli_encode(plain)},           {"zstd", zstd_encode(plain)},
          {" GZIP ", zlib_encode(plain, 16 + 15)}};
}

std::string decode_in_pieces(const char* encoding, const std::string& in, size_t split, bool* ok,
                             std::string* why) {
  auto d = BodyDecoder::for_encoding(encoding, 0);
  std::string out;
  *ok = d && d->decode(std::string_view(in).substr(0, split), out, why) &&
        d->decode(std::string_view(in).substr(split), out, why) && d->finish(why);
  return out;
}

TEST(BodyDecoder, EveryCodecRoundTripsWhole) {
  const std::string plain = sample(300000);
  for (const auto& c : cases(plain)) {
    bool ok;
    std::string why;
    EXPECT_EQ(decode_in_pieces(c.encoding, c.encoded, c.encoded.size(), &ok, &why), plain) << c.encoding;
    EXPECT_TRUE(ok) << c.encoding << ": " << why;
  }
}

TEST(BodyDecoder, SplitAtEveryByte) {
  const std::string plain = sample(3000);
  for (const auto& c : cases(plain)) {
    for (size_t split = 0; split <= c.encoded.size(); ++split) {
      bool ok;
      std::string why;
      ASSERT_EQ(decode_in_pieces(c.encoding, c.encoded, split, &ok, &why), plain)
          << c.encoding << " @" << split;
      ASSERT_TRUE(ok) << c.encoding << " @" << split << ": " << why;
    }
  }
}

TEST(BodyDecoder, OneByteAtATime) {
  const std::string plain = sample(20000);
  for (const auto& c : cases(plain)) {
    auto d = BodyDecoder::for_encoding(c.encoding, 0);
    std::string out, why;
    for (char ch : c.encoded)
      ASSERT_TRUE(d->decode(std::string_view(&ch, 1), out, &why)) << c.encoding << why;
    EXPECT_TRUE(d->finish(&why)) << c.encoding;
    EXPECT_EQ(out, plain) << c.encoding;
  }
}

TEST(BodyDecoder, IdentityAndUnknownCodingsPassThrough) {
  EXPECT_EQ(BodyDecoder::for_encoding("identity", 0), nullptr);
  EXPECT_EQ(BodyDecoder::for_encoding("compress", 0), nullptr);
  EXPECT_EQ(BodyDecoder::for_encoding("gzip, br", 0), nullptr);  // stacked codings: raw bytes
}

TEST(BodyDecoder, TruncatedBodiesAreReported) {
  const std::string plain = sample(50000);
  for (const auto& c : cases(plain)) {
    auto d = BodyDecoder::for_encoding(c.encoding, 0);
    std::string out, why;
    ASSERT_TRUE(d->decode(std::string_view(c.encoded).substr(0, c.encoded.size() / 2), out, &why));
    EXPECT_FALSE(d->finish(&why)) << c.encoding;
    EXPECT_NE(why.find("ended early"), std::string::npos) << why;
  }
}

TEST(BodyDecoder, CorruptBodiesAreRefused) {
  for (const char* enc : {"gzip", "br", "zstd"}) {
    auto d = BodyDecoder::for_encoding(enc, 0);
    std::string out, why;
    const std::string junk(4096, '\x5a');
    const bool ok = d->decode(junk, out, &why) && d->finish(&why);
    EXPECT_FALSE(ok) << enc;
    EXPECT_FALSE(why.empty()) << enc;
  }
}

TEST(BodyDecoder, DecompressionBombsStopAtTheCap) {
  const std::string zeros(64 * 1024 * 1024, '\0');  // 64 MiB of zeros compresses to a few KiB
  for (auto& c : cases(zeros)) {
    ASSERT_LT(c.encoded.size(), 200000u) << c.encoding;
    auto d = BodyDecoder::for_encoding(c.encoding, 1024 * 1024);
    std::string out, why;
    EXPECT_FALSE(d->decode(c.encoded, out, &why)) << c.encoding;
    EXPECT_NE(why.find("exceeds 1048576 bytes"), std::string::npos) << why;
    EXPECT_LE(out.size(), 1024u * 1024 + 64 * 1024);
  }
}

// A zstd frame with no content size and the given window log (RFC 8878 §3.1.1.1.2), holding `data`
// in one raw block: a tiny frame that asks the decoder for a window of 2^window_log bytes.
std::string zstd_frame_with_window(int window_log, const std::string& data) {
  std::string f("\x28\xb5\x2f\xfd", 4);
  f.push_back('\x00');                                     // no checksum, no dictionary, no content size
  f.push_back(static_cast<char>((window_log - 10) << 3));  // window descriptor: exponent, mantissa 0
  const uint32_t header = 1u | (0u << 1) | (static_cast<uint32_t>(data.size()) << 3);  // last, raw
  f.push_back(static_cast<char>(header));
  f.push_back(static_cast<char>(header >> 8));
  f.push_back(static_cast<char>(header >> 16));
  return f + data;
}

TEST(BodyDecoder, ZstdWindowIsLimitedTo8MiB) {
  {
    auto d = BodyDecoder::for_encoding("zstd", 0);
    std::string out, why;
    EXPECT_TRUE(d->decode(zstd_frame_with_window(23, "hello"), out, &why) && d->finish(&why)) << why;
    EXPECT_EQ(out, "hello");
  }
  auto d = BodyDecoder::for_encoding("zstd", 0);
  std::string out, why;
  EXPECT_FALSE(d->decode(zstd_frame_with_window(24, "hello"), out, &why));
  EXPECT_NE(why.find("corrupt zstd body"), std::string::npos) << why;
  EXPECT_FALSE(d->cap_exceeded());
  EXPECT_TRUE(out.empty());
}

// The cap is checked as output is produced: fed a few bytes at a time, no call ever holds more
// than the cap plus one 64 KiB output buffer, and the failure says it was the cap.
TEST(BodyDecoder, BombsStopAtTheCapFedInSmallPieces) {
  const std::string zeros(64 * 1024 * 1024, '\0');
  const uint64_t cap = 1024 * 1024;
  for (auto& c : cases(zeros)) {
    auto d = BodyDecoder::for_encoding(c.encoding, cap);
    std::string out, why;
    bool failed = false;
    for (size_t at = 0; at < c.encoded.size() && !failed; at += 16) {
      failed = !d->decode(std::string_view(c.encoded).substr(at, 16), out, &why);
      ASSERT_LE(out.size(), cap + 64 * 1024) << c.encoding;
    }
    EXPECT_TRUE(failed) << c.encoding;
    EXPECT_TRUE(d->cap_exceeded()) << c.encoding;
    EXPECT_NE(why.find("exceeds 1048576 bytes"), std::string::npos) << why;
  }
}

TEST(BodyDecoder, CorruptInputIsNotACapOverflow) {
  auto d = BodyDecoder::for_encoding("gzip", 1024);
  std::string out, why;
  EXPECT_FALSE(d->decode(std::string(4096, '\x5a'), out, &why));
  EXPECT_FALSE(d->cap_exceeded());
}

}  // namespace
}  // namespace ctn
