// The HTTP/3 side of a connection: one QUIC connection (quic::ClientConnection, ngtcp2 + nghttp3 on
// its own UDP socket) whose streams carry the exchanges, as HTTP/2's streams do. It resolves the
// QUIC endpoint, starts the connection shaped by the profile (core/quic_options.h), puts every
// exchange on a stream as soon as it comes (QUIC queues them until the handshake is done and beyond
// the server's stream limit), feeds streamed request bodies to flow control, holds back flow-control
// credit while the consumer is paused, and resets a stream the engine gives up on. A real Encrypted
// ClientHello goes as over TCP (core/ech_attempt.h): a rejection moves the exchanges to one new QUIC
// connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio.hpp>

#include "core/channel_host.h"
#include "core/ech_attempt.h"
#include "core/exchange.h"
#include "dns/resolver.h"
#include "quic/connection.h"

namespace ctn {

// alt-svc mode races QUIC against TCP: exchanges wait this long for the QUIC handshake, then go over
// TCP (an existing connection, or a new one) while the handshake goes on for later requests; a QUIC
// connection that fails before its handshake (or within the budget below) backs its alternative off.
inline constexpr uint32_t kAltSvcRaceDelayMs = 300;
// How long an alt-svc mode QUIC handshake may go on at all (UDP dropped on the way: no answer).
inline constexpr uint32_t kAltSvcHandshakeBudgetMs = 1'500;

class Http3Channel {
 public:
  explicit Http3Channel(ChannelHost& host);
  ~Http3Channel();
  Http3Channel(const Http3Channel&) = delete;
  Http3Channel& operator=(const Http3Channel&) = delete;

  // Resolves the QUIC endpoint and starts the handshake; `first` becomes the first stream.
  void open(std::shared_ptr<Exchange> first);
  // Another exchange on this connection (before or after the handshake).
  void submit(std::shared_ptr<Exchange> ex);
  bool established() const { return established_; }
  // An alt-svc mode connection still in its handshake (the race against TCP is undecided).
  bool racing() const { return alt_svc_ && !established_ && !closed_; }
  bool usable() const { return !closed_; }
  size_t open_streams() const { return streams_.size(); }
  void upload_available(Exchange& ex);
  void resume(Exchange& ex);
  // The engine gave up on `ex`: its stream is reset (H3_REQUEST_CANCELLED). False when `ex` is not here.
  bool abandon(const std::shared_ptr<Exchange>& ex);
  // Closes the QUIC connection (CONNECTION_CLOSE); exchanges still here fail with `error`.
  void close(const Error& error);
  const SSL* tls() const { return quic_ ? quic_->tls() : nullptr; }

 private:
  struct Events;
  struct StreamEvents;
  void on_resolved(dns::ResolveResult result);
  // The QUIC connection to server_, with every exchange waiting for it.
  void start_quic();
  // After the first ECH rejection: a new QUIC connection for the exchanges in ech_retry_.
  void retry_after_ech_rejection();
  // alt-svc mode: the QUIC handshake lost the race (kAltSvcRaceDelayMs): its exchanges go over TCP.
  void on_race_lost(const asio::error_code& ec);
  // Hands an alt-svc exchange that has no response yet to the engine for TCP.
  void fall_back(const std::shared_ptr<Exchange>& ex);
  // `count`: the exchange is counted (once: not again on the connection after an ECH rejection).
  void start_stream(const std::shared_ptr<Exchange>& ex, bool count = true);
  void fail_exchange(const std::shared_ptr<Exchange>& ex, Error error);
  // quic::ConnectionListener, through Events.
  void on_established();
  void on_closed(const Error& why);
  // quic::StreamListener, through StreamEvents.
  void on_head(uint64_t handle, ResponseHead&& head);
  void on_body(uint64_t handle, std::string_view bytes);
  void on_end(uint64_t handle, const Error* error);
  void on_body_sent(uint64_t handle, uint64_t n);
  // Body bytes gathered by the sink go out as events once the datagram that brought them is done.
  void schedule_flush(uint64_t handle);
  void flush_touched();

  ChannelHost& host_;
  Engine::Impl& engine_;
  // The QUIC endpoint's lookup, through the engine's resolver (as the TCP dialler's).
  std::shared_ptr<dns::PendingLookup> lookup_;
  asio::steady_timer race_timer_;
  std::shared_ptr<Events> events_;  // what the QUIC connection calls; detached when this goes
  std::shared_ptr<quic::ClientConnection> quic_;
  asio::ip::udp::endpoint server_;  // the QUIC endpoint, resolved
  // ECH (as TCP's dialler): the list offered and the one retry; DNS's list for the origin; the
  // exchanges waiting for the retry's connection; the connection whose ECH was rejected.
  EchAttempt ech_;
  std::string dns_ech_config_list_;
  std::vector<std::shared_ptr<Exchange>> ech_retry_;
  std::shared_ptr<quic::ClientConnection> rejected_quic_;
  std::map<uint64_t, std::shared_ptr<Exchange>> streams_;  // by quic stream handle
  std::vector<std::shared_ptr<Exchange>> before_start_;    // while resolving
  std::vector<uint64_t> touched_;
  size_t streams_started_ = 0;
  bool flush_posted_ = false;
  bool established_ = false;
  bool closed_ = false;
  bool alt_svc_ = false;    // opened for an alt-svc exchange (so it races TCP)
  bool race_lost_ = false;  // the race delay passed before the handshake completed
};

}  // namespace ctn
