// One request's state while the engine carries it: its spec and profile, its deadlines, where it
// waits or runs, the response in progress and its streamed request body.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <asio.hpp>

#include "core/body_decoder.h"
#include "core/engine.h"
#include "pool/fair_queue.h"
#include "pool/pool.h"
#include "profiles/profile.h"

namespace ctn {

class Connection;
struct Exchange;

using SteadyClock = std::chrono::steady_clock;
using ExchangeQueue = FairQueue<std::shared_ptr<Exchange>>;

// The phase a per-phase deadline (RequestSpec::*_timeout_ms) is running for.
enum class Phase { kNone, kConnect, kTls, kHeaders, kBody };

struct Exchange : std::enable_shared_from_this<Exchange> {
  explicit Exchange(asio::io_context& io) : deadline(io), phase_timer(io) {}
  RequestSpec spec;
  const Profile* profile = nullptr;  // the preset, or spec.custom_profile (which the spec owns)
  PoolKey key;
  asio::steady_timer deadline;     // timeout_ms: the whole exchange
  asio::steady_timer phase_timer;  // the current phase's own deadline
  Phase phase = Phase::kNone;
  SteadyClock::time_point last_body_at;  // body_idle_timeout_ms counts from here
  Stage stage = Stage::kQueue;
  bool done = false;
  bool paused = false;
  // The response ended while its consumer was paused: the end (and the last body bytes) wait for
  // the consumer to ask for more (Engine::Impl::set_paused).
  bool end_held = false;
  bool retried = false;               // retried once already (a stale kept-alive connection, a lost session)
  bool fresh_only = false;            // the retry must not go to a connection opened before it
  int refusals = 0;                   // HTTP/2 streams the server refused (REFUSED_STREAM, GOAWAY)
  int refusals_without_progress = 0;  // ... by sessions that had served no other stream
  bool reused_connection = false;     // this attempt rides on a connection opened before it
  bool admitted = false;              // counted in its client's requests in flight (from its first dispatch)
  // http3 "alt-svc" could take QUIC but knows no alternative for the origin yet: its HTTPS record
  // (Chrome's DNS ALPN job) is asked before it goes anywhere (Engine::Impl::resolve_first).
  bool h3_discovery = false;
  std::optional<ExchangeQueue::Handle> queued;  // waiting in the engine's queue
  std::shared_ptr<Connection> connection;
  // The response in progress (reset for every attempt).
  bool head_seen = false;
  int64_t content_length = -1;  // the head's Content-Length (-1: none): sizes the body's buffer
  std::string pending_body;
  std::unique_ptr<BodyDecoder> decoder;
  // Set inside parser/session callbacks, acted on after them: the body cannot be decoded
  // (ERR_PROTOCOL), or body_too_large: it passed spec.max_response_bytes (ERR_BODY_TOO_LARGE).
  std::string decode_error;
  bool body_too_large = false;
  // The decoder's cap is spec.max_response_bytes (smaller than max_decoded_bytes): its overflow is
  // the response's, not a decompression bomb's.
  bool decoder_capped_by_response = false;
  uint64_t body_bytes = 0;   // decoded body bytes of this response so far
  int32_t stream_id = 0;     // HTTP/2
  uint64_t quic_stream = 0;  // HTTP/3: the stream's handle on its QUIC connection
  size_t held_bytes = 0;     // HTTP/2: body bytes not yet given back to flow control (paused)
  uint64_t unacked = 0;      // body bytes delivered since the consumer last asked for more
  // A streamed request body (spec.body_stream): pieces written by the caller and not yet taken by
  // the connection, whether the caller has ended it, and how much was taken (once anything was, the
  // request cannot be sent again: those bytes are gone).
  std::deque<std::string> upload;
  bool upload_ended = false;
  uint64_t upload_taken = 0;
  uint64_t upload_sent_unreported = 0;  // HTTP/2: taken by flow control, kSent not yet emitted
  bool upload_end_given = false;        // HTTP/2: the session has the end of the body
  bool upgraded = false;                // spec.upgrade and the server answered 101: a byte pipe now
  bool can_resend() const { return !spec.body_stream || upload_taken == 0; }
  void reset_response() {
    head_seen = false;
    content_length = -1;
    pending_body.clear();
    decoder.reset();
    decode_error.clear();
    body_too_large = false;
    decoder_capped_by_response = false;
    body_bytes = 0;
    stream_id = 0;
    held_bytes = 0;
  }
};

// A request that may be sent again when its connection was lost before any of its answer arrived.
inline bool idempotent_method(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
         method == "DELETE";
}

// kSent: `bytes` more of a streamed request body left for the server.
inline Event sent_event(uint64_t id, uint64_t bytes) {
  Event e;
  e.kind = Event::Kind::kSent;
  e.id = id;
  e.sent = bytes;
  return e;
}

}  // namespace ctn
