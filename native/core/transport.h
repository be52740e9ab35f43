// The byte stream under one connection: the TCP socket and the TLS layers on it, as the dialler
// builds them (TLS to an https:// proxy; the target's TLS on TCP or inside the proxy's TLS), with
// the read buffer every stage reads into. Channels read and write the outermost layer.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "tls/tls_context.h"

namespace ctn {

// The peer ended the stream. One that closes without close_notify is common on the web; the HTTP
// framing decides whether anything was lost.
inline bool is_eof(const asio::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::connection_reset;
}

// An allocator that leaves new elements uninitialised (default-initialised): a read buffer is
// written by the socket before anything reads it, so zeroing 64 KiB per connection is wasted work.
template <class T>
struct UninitialisedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitialisedAllocator<U>;
  };
  UninitialisedAllocator() = default;
  template <class U>
  UninitialisedAllocator(const UninitialisedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class Transport {
 public:
  using ReadBuffer = std::vector<char, UninitialisedAllocator<char>>;
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket&>;
  using TunnelTlsStream = asio::ssl::stream<TlsStream&>;
  static constexpr size_t kReadBufferSize = 64 * 1024;

  explicit Transport(asio::io_context& io) : socket_(io), read_buffer_(kReadBufferSize) {}
  ~Transport() { close(); }
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  asio::ip::tcp::socket& socket() { return socket_; }
  ReadBuffer& read_buffer() { return read_buffer_; }

  // TLS to an https:// proxy, on TCP.
  TlsStream& add_proxy_tls(std::shared_ptr<asio::ssl::context> context) {
    proxy_tls_context_ = std::move(context);
    proxy_tls_ = std::make_unique<TlsStream>(socket_, *proxy_tls_context_);
    return *proxy_tls_;
  }
  TlsStream* proxy_tls() { return proxy_tls_.get(); }
  // The target's TLS: inside the proxy's TLS when there is one, else on TCP. Returns its SSL.
  SSL* add_target_tls(std::shared_ptr<asio::ssl::context> context) {
    tls_context_ = std::move(context);
    if (proxy_tls_) {
      tunnel_tls_ = std::make_unique<TunnelTlsStream>(*proxy_tls_, *tls_context_);
    } else {
      tls_ = std::make_unique<TlsStream>(socket_, *tls_context_);
    }
    return target_ssl();
  }
  template <class Handler>
  void async_target_handshake(Handler&& handler) {
    if (tunnel_tls_) {
      tunnel_tls_->async_handshake(asio::ssl::stream_base::client, std::forward<Handler>(handler));
    } else {
      tls_->async_handshake(asio::ssl::stream_base::client, std::forward<Handler>(handler));
    }
  }
  // The target's TLS (direct or inside the tunnel), if any.
  SSL* target_ssl() const {
    if (tunnel_tls_) return tunnel_tls_->native_handle();
    return tls_ ? tls_->native_handle() : nullptr;
  }
  // What the session cache attaches to the target's SSL object: it must outlive that object.
  TlsSessionCache::Slot& session_slot() { return tls_session_slot_; }

  // The outermost layer: the target's TLS (in the tunnel or not), else the proxy's TLS, else TCP.
  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tunnel_tls_) {
      fn(*tunnel_tls_);
    } else if (tls_) {
      fn(*tls_);
    } else if (proxy_tls_) {
      fn(*proxy_tls_);
    } else {
      fn(socket_);
    }
  }

  // Bytes that a read would return at once: decrypted and buffered by a TLS layer, or in the kernel.
  bool more_readable_now() {
    if (SSL* ssl = target_ssl(); ssl && SSL_pending(ssl) > 0) return true;
    if (proxy_tls_ && SSL_pending(proxy_tls_->native_handle()) > 0) return true;
    asio::error_code ec;
    return socket_.available(ec) > 0 && !ec;
  }
  // Asks the kernel, without reading: nothing waiting and no end of stream (a quiet idle socket).
  bool quiet() const {
    char probe;
    const ssize_t n = ::recv(native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  // Asks the kernel whether the peer ended the stream or it failed (waiting bytes are no verdict).
  bool peer_closed() const {
    char probe;
    const ssize_t n = ::recv(native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  // Cancels the socket's pending operations (they complete with operation_aborted).
  void cancel() {
    asio::error_code ignored;
    socket_.cancel(ignored);
  }
  void close() {
    asio::error_code ignored;
    socket_.close(ignored);
  }
  // Closed, and back to bare TCP (the TLS layers dropped, inner first): the dialler dials again on
  // this transport (ECH's one retry after a rejection).
  void reset() {
    close();
    tunnel_tls_.reset();
    tls_.reset();
    proxy_tls_.reset();
  }

 private:
  int native_handle() const { return const_cast<asio::ip::tcp::socket&>(socket_).native_handle(); }

  // Declared outer layer first: destroyed inner layer first, the contexts and the session slot
  // after every SSL object that refers to them.
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> proxy_tls_context_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  TlsSessionCache::Slot tls_session_slot_;
  std::unique_ptr<TlsStream> proxy_tls_;         // TLS to an https:// proxy
  std::unique_ptr<TlsStream> tls_;               // the target's TLS, directly on TCP
  std::unique_ptr<TunnelTlsStream> tunnel_tls_;  // the target's TLS inside the proxy's TLS
  ReadBuffer read_buffer_;
};

}  // namespace ctn
