// Drives a real engine host (share::Hub) the way another process of the same user would, frame by
// frame, over its real Unix socket: the raw peer of the share tests and of the hub_peer fuzz target
// (test/fuzz/hub_peer_fuzz.cc), which feeds it frame sequences decoded from arbitrary bytes and
// then checks the host still serves a second, well-behaved peer.
//
// Every request a script can produce goes to 127.0.0.1 on a port held closed by the driver (a
// bound socket that never listens): the engine answers at once with a connection error, and no
// input can send traffic anywhere else. No gtest here: the fuzz target links without it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine.h"
#include "mux/frame.h"
#include "share/endpoint.h"
#include "share/hub.h"
#include "share/messages.h"

namespace ctn_test {

inline int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), std::min(path.size(), sizeof a.sun_path - 1));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One connection to the host, speaking frames by hand.
class RawPeer {
 public:
  explicit RawPeer(const std::string& path) : fd_(connect_unix(path)) {}
  ~RawPeer() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send_raw(std::string_view bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool send(ctn::mux::FrameType type, uint8_t flags, uint64_t stream, std::string_view payload) {
    return send_raw(ctn::mux::encode_frame(type, flags, stream, payload));
  }
  // HELLO, then READY back.
  bool handshake() {
    ctn::mux::Hello hello;
    hello.version = ctn::mux::kProtocolVersion;
    hello.pid = static_cast<uint32_t>(::getpid());
    if (!send(ctn::mux::FrameType::kHello, 0, 0, ctn::mux::encode_hello(hello))) return false;
    auto ready = next_frame();
    return ready && ready->type == ctn::mux::FrameType::kReady;
  }
  // The next frame from the host, waiting at most `timeout`; nothing if the link closed or the
  // wait ran out.
  std::optional<ctn::mux::Frame> next_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (frames_.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      std::vector<ctn::mux::Frame> out;
      if (!decoder_.feed(buf, static_cast<size_t>(n), out)) return std::nullopt;
      for (auto& f : out) frames_.push_back(std::move(f));
    }
    ctn::mux::Frame f = std::move(frames_.front());
    frames_.erase(frames_.begin());
    return f;
  }
  // The first frame of `type` (others skipped), or nothing.
  std::optional<ctn::mux::Frame> wait_for(ctn::mux::FrameType type,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto f = next_frame(left);
      if (!f) return std::nullopt;
      if (f->type == type) return f;
    }
  }
  // True once the host closed the connection (within `timeout`).
  bool closed_by_host(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  int fd_;
  ctn::mux::FrameDecoder decoder_;
  std::vector<ctn::mux::Frame> frames_;
};

// Records the host's notices; the engine's own events are not expected (no own requests).
class NoticeSink : public ctn::EventSink {
 public:
  void deliver(ctn::Event&& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.kind == ctn::Event::Kind::kNotice) notices_.push_back(e.notice);
    cv_.notify_all();
  }
  std::string first_notice(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !notices_.empty(); });
    return notices_.empty() ? "" : notices_.front();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> notices_;
};

// A host in a private socket directory, plus the closed port its scripted requests go to.
class HubPeerDriver {
 public:
  explicit HubPeerDriver(ctn::share::PeerLimits limits = {}) {
    char tmpl[] = "/tmp/ctn-hub-peer-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (!dir) ::abort();
    dir_ = dir;
    closed_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(closed_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(closed_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::abort();
    }
    closed_port_ = ntohs(a.sin_port);
    ctn::share::HubOptions o;
    o.port = 1;
    o.socket_dir = dir_;
    o.peer_limits = limits;
    hub_ = std::make_unique<ctn::share::Hub>(std::move(o), sink_);
    hub_->start();
    if (sink_.first_notice() != "host") ::abort();
    path_ = ctn::share::socket_path(dir_, 1);
    // The body-size field of an encoded REQUEST: where encodings with bodies of 0 and 1 byte differ.
    const std::string a0 = ctn::mux::encode_request(request_template(false, 0));
    const std::string a1 = ctn::mux::encode_request(request_template(false, 1));
    size_t at = 0;
    while (at < a0.size() && a0[at] == a1[at]) ++at;
    body_size_offset_ = at - 7;
  }
  ~HubPeerDriver() {
    hub_->shutdown(false, nullptr);
    hub_->join();
    hub_.reset();
    ::close(closed_fd_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  const std::string& socket_path() const { return path_; }
  ctn::share::Hub& hub() { return *hub_; }

  // A request to the closed port; its REQUEST announces `body_size` bytes of body.
  ctn::RequestSpec request_template(bool body_stream, uint64_t body_size) const {
    ctn::RequestSpec r;
    r.method = body_stream ? "POST" : "GET";
    r.tls = false;
    r.host = "127.0.0.1";
    r.port = closed_port_;
    r.target.assign(1, '/');  // not `= "/"`: GCC 12 warns wrongly there (-Wrestrict, PR 105329)
    r.body_stream = body_stream;
    r.body.assign(body_stream ? 0 : std::min<uint64_t>(body_size, 1), 'x');
    return r;
  }
  std::string request_payload(bool body_stream, uint64_t body_size) const {
    std::string p = ctn::mux::encode_request(request_template(body_stream, body_size));
    if (!body_stream) {
      for (int i = 0; i < 8; ++i)
        p[body_size_offset_ + i] = static_cast<char>((body_size >> (8 * (7 - i))) & 0xff);
    }
    return p;
  }

  // Plays `script` (see below) as one peer, then closes it.
  void play(const uint8_t* data, size_t size) {
    RawPeer peer(path_);
    if (!peer.connected()) ::abort();
    const bool hello_first = size == 0 || (data[0] & 1) == 0;  // usually a proper HELLO first
    if (hello_first && !peer.handshake()) return;              // refused: fine, the host decides
    std::string out;
    size_t pos = size > 0 ? 1 : 0;
    while (pos + 4 <= size) {
      const uint8_t op = data[pos], stream_sel = data[pos + 1];
      size_t len = static_cast<size_t>(data[pos + 2]) | static_cast<size_t>(data[pos + 3]) << 8;
      pos += 4;
      len = std::min(len, size - pos);
      const std::string_view bytes(reinterpret_cast<const char*>(data + pos), len);
      pos += len;
      append_scripted(out, op, stream_sel, bytes);
    }
    peer.send_raw(out);
    // Let the host read it all before closing when the script asks (low bit of the last byte).
    if (size > 0 && (data[size - 1] & 1)) {
      peer.send(ctn::mux::FrameType::kPing, 0, 0, ctn::mux::encode_u64(7));
      peer.wait_for(ctn::mux::FrameType::kPong, std::chrono::milliseconds(200));
    }
  }

  // A well-behaved peer: HELLO/READY, PING/PONG and a request that comes back with an ERROR (the
  // closed port) or an answer. False if the host failed it.
  bool well_behaved_peer_is_served() {
    RawPeer peer(path_);
    if (!peer.connected() || !peer.handshake()) return false;
    if (!peer.send(ctn::mux::FrameType::kPing, 0, 0, ctn::mux::encode_u64(42))) return false;
    auto pong = peer.wait_for(ctn::mux::FrameType::kPong);
    if (!pong || pong->payload != ctn::mux::encode_u64(42)) return false;
    if (!peer.send(ctn::mux::FrameType::kRequest, ctn::mux::kEndStream, 5, request_payload(false, 0)))
      return false;
    for (;;) {
      auto f = peer.next_frame();
      if (!f) return false;
      if (f->stream == 5 && (f->type == ctn::mux::FrameType::kError || f->type == ctn::mux::FrameType::kEnd))
        return true;
    }
  }

 private:
  // One scripted frame: `op` low 5 bits the frame type (out-of-range ones included), bit 5 END_STREAM,
  // bit 6 "well-formed payload from the bytes" (REQUEST, WINDOW, CLIENT_LIMITS, PING), bit 7 raw
  // wire bytes instead of a frame; `stream_sel` picks among a few stream ids (0, small, huge).
  void append_scripted(std::string& out, uint8_t op, uint8_t stream_sel, std::string_view bytes) const {
    using ctn::mux::FrameType;
    if (op & 0x80) {
      out.append(bytes);
      return;
    }
    static constexpr uint64_t kStreams[] = {0, 1, 2, 3, 4, uint64_t{1} << 62, ~uint64_t{0}, 1000};
    const uint64_t stream = kStreams[stream_sel & 7];
    const auto type = static_cast<FrameType>(op & 0x1f);
    const uint8_t flags = (op & 0x20) ? ctn::mux::kEndStream : 0;
    std::string payload(bytes);
    if (op & 0x40) {
      auto byte = [&](size_t i) -> uint64_t { return i < bytes.size() ? static_cast<uint8_t>(bytes[i]) : 0; };
      switch (type) {
        case FrameType::kRequest:
          // A body of up to 64 KiB, or now and then an announced size far beyond any cap.
          payload =
              request_payload((byte(0) & 1) != 0, (byte(0) & 2) ? (byte(1) << 56) : (byte(1) << 8 | byte(2)));
          break;
        case FrameType::kWindow:
          payload = ctn::mux::encode_u32(
              static_cast<uint32_t>(byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3)));
          break;
        case FrameType::kClientLimits:
          payload = ctn::mux::encode_client_limits(
              {static_cast<uint32_t>(byte(0)), static_cast<uint32_t>(byte(1))});
          break;
        case FrameType::kPing:
          payload = ctn::mux::encode_u64(byte(0));
          break;
        case FrameType::kHello: {
          ctn::mux::Hello hello;
          hello.version = static_cast<uint16_t>(byte(0) & 1 ? ctn::mux::kProtocolVersion : byte(1));
          payload = ctn::mux::encode_hello(hello);
          break;
        }
        default:
          break;
      }
    }
    ctn::mux::append_frame(out, type, flags, stream, payload);
  }

  std::string dir_, path_;
  int closed_fd_ = -1;
  uint16_t closed_port_ = 0;
  size_t body_size_offset_ = 0;
  NoticeSink sink_;
  std::unique_ptr<ctn::share::Hub> hub_;
};

}  // namespace ctn_test
