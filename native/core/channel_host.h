// What a protocol channel (HTTP/1.1 or HTTP/2) needs of the connection it runs on: the engine to
// report to, the transport to read and write, the response sink, the connection's idle timer and
// pool accounting, and closing. Connection implements it; the channels own their protocol state.
#pragma once

#include <memory>

#include "core/exchange.h"
#include "core/response_sink.h"
#include "core/transport.h"
#include "pool/pool.h"

namespace ctn {

// Why exchanges still on a connection fail when it closes for no more particular reason.
inline constexpr char kConnectionClosedReason[] = "the connection was closed";

class ChannelHost {
 public:
  virtual Engine::Impl& engine() = 0;
  virtual const PoolKey& pool_key() const = 0;
  virtual Transport& transport() = 0;
  virtual ResponseSink& sink() = 0;
  // The connection as the pool and the engine hold it; pending handlers keep it alive with this.
  virtual std::shared_ptr<Connection> self() = 0;
  // The response head arrived: the exchange enters Stage::kBody and the sink gets the head with
  // this connection's facts.
  virtual void begin_response(Exchange& ex, ResponseHead&& head) = 0;
  // Brings the connection's share of the live counts up to date (streams, idle).
  virtual void account() = 0;
  // HTTP/2: the last stream ended: the idle timer starts (and the counts follow).
  virtual void became_idle() = 0;
  // HTTP/2: a stream starts: no idle timeout now.
  virtual void became_busy() = 0;
  // The pool stops offering this connection (GOAWAY, a failed session).
  virtual void unusable() = 0;
  virtual void retire() = 0;
  virtual void close(const char* why = kConnectionClosedReason) = 0;
  virtual bool closed() const = 0;

 protected:
  ~ChannelHost() = default;
};

}  // namespace ctn
