// What every ngtcp2 endpoint of ours needs, client (quic/connection.cc) and server (quic_server): the
// clock ngtcp2 reads, the largest packet we build, and owners for the C objects.
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>

namespace ctn::quic {

// One packet at a time: ngtcp2 sizes every packet to the path's payload size (1200 bytes until
// PMTUD raises it, or a shaped datagram size), at most ngtcp2's default ceiling of 1452 bytes.
inline constexpr size_t kPacketBuffer = 1'452;

inline ngtcp2_tstamp now_ns() {
  return static_cast<ngtcp2_tstamp>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};
struct ConnDeleter {
  void operator()(ngtcp2_conn* c) const noexcept { ngtcp2_conn_del(c); }
};

}  // namespace ctn::quic
