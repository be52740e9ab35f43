// What every ngtcp2 endpoint of ours needs, client (quic/connection.cc) and server (quic_server): the
// clock ngtcp2 reads, the largest packet we build, the crypto callbacks, and owners for the C objects.
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
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

// The packet-protection callbacks both endpoints take from ngtcp2_crypto as they are (the client adds
// client_initial and recv_retry, the server recv_client_initial).
inline void set_crypto_callbacks(ngtcp2_callbacks& cb) {
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
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
