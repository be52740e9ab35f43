#include "tls/hello_capture.h"

namespace ctn {

namespace {

constexpr uint8_t kClientHello = 1;

void free_capture(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}

// One ex_data slot for every SSL: the captured message lives and dies with its SSL.
int capture_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_capture);
  return index;
}

// BoringSSL calls this for every handshake message and record header it reads or writes while it
// is set: it unsets itself once the ClientHello went by.
void on_message(int is_write, int, int content_type, const void* buf, size_t len, SSL* ssl, void*) {
  if (!is_write || content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  if (static_cast<const uint8_t*>(buf)[0] != kClientHello) return;
  SSL_set_msg_callback(ssl, nullptr);
  auto* kept = new std::string(static_cast<const char*>(buf), len);
  if (!SSL_set_ex_data(ssl, capture_index(), kept)) delete kept;
}

}  // namespace

void capture_client_hello(SSL* ssl) {
  if (capture_index() < 0) return;  // no slot: the fingerprint is simply not reported
  SSL_set_msg_callback(ssl, &on_message);
}

std::string_view captured_client_hello(const SSL* ssl) {
  const int index = capture_index();
  const auto* kept = index < 0 ? nullptr : static_cast<const std::string*>(SSL_get_ex_data(ssl, index));
  return kept ? std::string_view(*kept) : std::string_view();
}

}  // namespace ctn
