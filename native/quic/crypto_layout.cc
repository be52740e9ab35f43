#include "quic/crypto_layout.h"

#include <ngtcp2/ngtcp2.h>

#include <algorithm>
#include <string>
#include <utility>

namespace ctn::quic {

namespace {

using Type = FirstFlightFrame::Type;

// A byte range [begin, end) of the crypto stream.
struct Span {
  uint64_t begin, end;
  uint64_t size() const { return end - begin; }
};

size_t varint_size(uint64_t v) { return v < 64 ? 1 : v < 16'384 ? 2 : v < (uint64_t{1} << 30) ? 4 : 8; }

FirstFlightFrame crypto(size_t packet, Span s) { return {packet, Type::kCrypto, s.begin, s.size()}; }

// A uniform draw from [lo, hi].
size_t uniform(size_t lo, size_t hi, RandomBytes random_bytes) {
  return lo + random_below(hi - lo + 1, random_bytes);
}

template <typename T>
void shuffle(std::vector<T>& v, RandomBytes random_bytes) {  // Fisher-Yates
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[random_below(i, random_bytes)]);
}

// ---- Chrome: chaos protection ----

// The ranges of the captures (shared/fingerprints/quic, 6 connections, 12 packets).
constexpr size_t kHeadMin = 67, kHeadMax = 83;           // packet 1's leading bytes
constexpr size_t kFragmentsMin = 5, kFragmentsMax = 12;  // per packet
constexpr size_t kFragmentsTotalMin = 11, kFragmentsTotalMax = 20;
constexpr size_t kPingsMin = 2, kPingsMax = 10;  // per packet
constexpr size_t kPingsTotalMin = 10, kPingsTotalMax = 18;
constexpr size_t kPaddingRunsMin = 1, kPaddingRunsMax = 6;  // per packet
constexpr size_t kPaddingRunsTotalMin = 4, kPaddingRunsTotalMax = 11;
constexpr size_t kPaddingMin = 175;  // per packet (175..311 seen): more frames are drawn again
constexpr int kDraws = 64;           // then the last draw stands, whatever its padding

// Two per-packet counts in [lo, hi] whose sum lies in [total_lo, total_hi].
std::pair<size_t, size_t> draw_pair(size_t lo, size_t hi, size_t total_lo, size_t total_hi,
                                    RandomBytes random_bytes) {
  for (;;) {
    const size_t a = uniform(lo, hi, random_bytes), b = uniform(lo, hi, random_bytes);
    if (a + b >= total_lo && a + b <= total_hi) return {a, b};
  }
}

// `spans` cut into `count` fragments: each cut splits a random fragment (of 2+ bytes) at a random
// point, which leaves the many tiny and few large pieces the captures show.
std::vector<Span> fragment(std::vector<Span> spans, size_t count, RandomBytes random_bytes) {
  while (spans.size() < count) {
    std::vector<size_t> splittable;
    for (size_t i = 0; i < spans.size(); ++i)
      if (spans[i].size() >= 2) splittable.push_back(i);
    if (splittable.empty()) break;
    Span& s = spans[splittable[random_below(splittable.size(), random_bytes)]];
    const uint64_t cut = s.begin + 1 + random_below(static_cast<size_t>(s.size() - 1), random_bytes);
    const Span tail{cut, s.end};
    s.end = cut;
    spans.push_back(tail);
  }
  return spans;
}

// One Chrome packet: `spans` in `fragments` pieces, shuffled among `pings` PINGs, and whatever the
// packet has left as `runs` PADDING runs in distinct gaps between them. False when it does not fit,
// or leaves less than `min_padding`.
bool chaos_packet(size_t packet, const std::vector<Span>& spans, size_t fragments, size_t pings, size_t runs,
                  size_t capacity, size_t min_padding, RandomBytes random_bytes,
                  std::vector<FirstFlightFrame>& out) {
  std::vector<FirstFlightFrame> frames;
  for (const Span& s : fragment(spans, fragments, random_bytes)) frames.push_back(crypto(packet, s));
  for (size_t i = 0; i < pings; ++i) frames.push_back({packet, Type::kPing, 0, 0});
  shuffle(frames, random_bytes);
  size_t used = 0;
  for (const auto& f : frames) used += frame_size(f);
  if (used + min_padding > capacity) return false;
  const size_t padding = capacity - used;
  runs = std::min({runs, padding, frames.size() + 1});
  // Run lengths: `runs` positive parts of `padding` (distinct cut points in 1..padding-1).
  std::vector<size_t> cuts;
  while (cuts.size() + 1 < runs) {
    const size_t c = 1 + random_below(padding - 1, random_bytes);
    if (std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(padding);
  // Gaps: before frame i (i < size) or after the last (i == size); distinct, so runs never touch.
  std::vector<size_t> gaps(frames.size() + 1);
  for (size_t i = 0; i < gaps.size(); ++i) gaps[i] = i;
  shuffle(gaps, random_bytes);
  gaps.resize(runs);
  std::sort(gaps.begin(), gaps.end());
  size_t run = 0, previous_cut = 0;
  for (size_t i = 0; i <= frames.size(); ++i) {
    if (run < runs && gaps[run] == i) {
      out.push_back({packet, Type::kPadding, 0, cuts[run] - previous_cut});
      previous_cut = cuts[run++];
    }
    if (i < frames.size()) out.push_back(frames[i]);
  }
  return true;
}

std::vector<FirstFlightFrame> chrome_chaos(size_t hello_size, const size_t (&capacity)[2],
                                           RandomBytes random_bytes) {
  // Packet 1 carries floor(H/2) - 2 bytes: its first A bytes and the tail.
  const size_t first = hello_size / 2 - 2;
  const size_t head = std::min(uniform(kHeadMin, kHeadMax, random_bytes), first - 1);
  const uint64_t tail_begin = hello_size - (first - head);
  for (int draw = 1; draw <= kDraws; ++draw) {
    const auto [fragments1, fragments2] =
        draw_pair(kFragmentsMin, kFragmentsMax, kFragmentsTotalMin, kFragmentsTotalMax, random_bytes);
    const auto [pings1, pings2] =
        draw_pair(kPingsMin, kPingsMax, kPingsTotalMin, kPingsTotalMax, random_bytes);
    const auto [runs1, runs2] =
        draw_pair(kPaddingRunsMin, kPaddingRunsMax, kPaddingRunsTotalMin, kPaddingRunsTotalMax, random_bytes);
    const size_t min_padding = draw < kDraws ? kPaddingMin : 0;
    std::vector<FirstFlightFrame> out;
    if (chaos_packet(0, {{0, head}, {tail_begin, hello_size}}, fragments1, pings1, runs1, capacity[0],
                     min_padding, random_bytes, out) &&
        chaos_packet(1, {{head, tail_begin}}, fragments2, pings2, runs2, capacity[1], min_padding,
                     random_bytes, out)) {
      return out;
    }
  }
  return {};
}

// ---- Firefox: neqo's SNI slicing ----

std::vector<FirstFlightFrame> firefox_sni_slice(std::string_view hello, const size_t (&capacity)[2]) {
  const uint64_t total = hello.size();
  // neqo fills the packets evenly: as many as the hello needs, each taking total / packets bytes.
  const uint64_t packets = (total + capacity[0] - 1) / capacity[0];
  if (packets > 2) return {};
  const uint64_t limit = total / packets;
  const uint64_t cut = server_name_midpoint(hello);
  if (cut == 0) {  // no name to slice (an IP literal): in order, still evenly
    std::vector<FirstFlightFrame> out{crypto(0, {0, limit})};
    if (limit < total) out.push_back(crypto(1, {limit, total}));
    return frame_size(out.back()) <= capacity[out.back().packet] ? out : std::vector<FirstFlightFrame>{};
  }
  Span left{0, cut}, right{cut, total};
  if (left.size() + right.size() <= limit) {
    // Everything fits in packet 1, still right before left.
  } else if (left.size() <= limit) {
    right.begin = total - (limit - left.size());  // the end of right, so the name spans two packets
  } else if (right.size() <= limit) {
    left.end = limit - right.size();  // the beginning of left, the name's start in packet 2
  } else {
    left.end = limit / 2;
    right.end = right.begin + limit / 2;
  }
  std::vector<FirstFlightFrame> out;
  for (const Span& s : {right, left})
    if (s.size()) out.push_back(crypto(0, s));
  // What packet 1 did not take, in order.
  for (const Span& s : {Span{left.end, right.begin}, Span{right.end, total}})
    if (s.size()) out.push_back(crypto(1, s));
  size_t used[2] = {0, 0};
  for (const auto& f : out) used[f.packet] += frame_size(f);
  if (used[0] > capacity[0] || used[1] > capacity[1]) return {};
  return out;
}

}  // namespace

size_t frame_size(const FirstFlightFrame& f) {
  switch (f.type) {
    case Type::kCrypto:
      return 1 + varint_size(f.offset) + varint_size(f.length) + f.length;
    case Type::kPing:
      return 1;
    case Type::kPadding:
      return f.length;
  }
  return 0;
}

size_t server_name_midpoint(std::string_view hello) {
  const auto u8 = [&](size_t at) { return at < hello.size() ? static_cast<uint8_t>(hello[at]) : 0; };
  const auto u16 = [&](size_t at) { return static_cast<size_t>(u8(at) << 8 | u8(at + 1)); };
  size_t p = 4 + 2 + 32;  // handshake header, legacy_version, random
  p += 1 + u8(p);         // session id
  p += 2 + u16(p);        // cipher suites
  p += 1 + u8(p);         // compression methods
  const size_t end = std::min(hello.size(), p + 2 + u16(p));
  for (p += 2; p + 4 <= end; p += 4 + u16(p + 2)) {
    if (u16(p) != 0) continue;
    // server_name: list length (2), name type (1), name length (2), then the host name itself.
    const size_t name = p + 4 + 5, name_end = name + u16(p + 4 + 3);
    if (u16(p + 2) < 5 || name_end > end || name_end <= name) return 0;
    return name + (name_end - name) / 2;
  }
  return 0;
}

std::vector<FirstFlightFrame> plan_first_flight(CryptoLayout layout, std::string_view hello,
                                                const size_t (&capacity)[2], RandomBytes random_bytes) {
  // Two packets' worth at most, and enough to split (a hello is far longer than either bound).
  if (hello.size() < 2 * (kHeadMax + 2) || hello.size() > capacity[0] + capacity[1]) return {};
  switch (layout) {
    case CryptoLayout::kNgtcp2:
      return {};
    case CryptoLayout::kChromeChaos:
      return chrome_chaos(hello.size(), capacity, random_bytes);
    case CryptoLayout::kFirefoxSniSlice:
      return firefox_sni_slice(hello, capacity);
  }
  return {};
}

size_t initial_capacity(const InitialHeader& h, size_t index) {
  // ngtcp2's packet-number length (pktns_select_pkt_numlen, nothing acknowledged yet), raised after
  // the first packet to TransportShape::packet_number_length_after_first (patch 0002).
  const uint64_t number = uint64_t{h.first_packet_number} + index;
  const uint64_t n = (number + 1) * 2 - 1;
  size_t pn_length = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
  if (index > 0) pn_length = std::max<size_t>(pn_length, h.packet_number_length_after_first);
  // RFC 9000 §17.2.2: flags, version, DCID, SCID, token length (no token), Length, packet number;
  // the AEAD tag (16) after the payload.
  const size_t header = 1 + 4 + 1 + h.dcid_length + 1 + h.scid_length + 1 + h.length_field_width + pn_length;
  return h.datagram_size > header + 16 ? h.datagram_size - header - 16 : 0;
}

int shape_first_flight(ngtcp2_conn* conn, const TransportShape& shape, const InitialHeader& header,
                       RandomBytes random_bytes) {
  if (shape.crypto_layout == CryptoLayout::kNgtcp2 || header.datagram_size == 0) return 0;
  std::string hello(4096, '\0');
  const ngtcp2_ssize queued =
      ngtcp2_conn_get_initial_crypto_data(conn, reinterpret_cast<uint8_t*>(hello.data()), hello.size());
  if (queued <= 0 || static_cast<size_t>(queued) > hello.size()) return 0;  // not ours to shape
  hello.resize(static_cast<size_t>(queued));
  const size_t capacity[2] = {initial_capacity(header, 0), initial_capacity(header, 1)};
  const std::vector<FirstFlightFrame> plan =
      plan_first_flight(shape.crypto_layout, hello, capacity, random_bytes);
  if (plan.empty()) return 0;
  std::vector<ngtcp2_first_flight_frame> frames;
  frames.reserve(plan.size());
  for (const auto& f : plan) {
    const uint8_t type = f.type == Type::kCrypto ? NGTCP2_FIRST_FLIGHT_CRYPTO
                         : f.type == Type::kPing ? NGTCP2_FIRST_FLIGHT_PING
                                                 : NGTCP2_FIRST_FLIGHT_PADDING;
    frames.push_back({f.packet, type, f.offset, f.length});
  }
  if (ngtcp2_conn_set_first_flight(conn, frames.data(), frames.size()) != 0) return -1;
  return static_cast<int>(plan.back().packet + 1);
}

}  // namespace ctn::quic
