// Where a QUIC connection's shape comes from: the one place the engine turns a preset (Profile) and a
// connection identity into quic::Options. What belongs to the browser (the QUIC ClientHello from
// Profile::quic_tls, the transport shape by preset) is set here; HTTP/3 framing shapes join here too.
#pragma once

#include <string>

#include <asio/ip/udp.hpp>

#include "common/error.h"
#include "core/ech_attempt.h"
#include "pool/pool.h"
#include "profiles/profile.h"
#include "quic/connection.h"

namespace ctn {

// Whether `profile` can speak HTTP/3 as its browser does; false with *error
// (ERR_UNSUPPORTED_FINGERPRINT) when its QUIC hello or transport is not established.
bool profile_supports_http3(const Profile& profile, Error* error);

// The options of a QUIC connection of `key` to `server` for `profile` (which must support HTTP/3):
// the QUIC ClientHello shaped from profile.quic_tls, the transport shape of its browser, SNI and
// certificate checks as over TCP, and the real Encrypted ClientHello of `ech` (its list offered as
// over TCP, a rejection reported as ERR_ECH_REJECTED for the caller's one retry). Timeouts: the
// handshake's is the engine's (the exchange's deadlines); the read deadline is off (the engine runs
// its own).
quic::Options quic_options_from_profile(const Profile& profile, const PoolKey& key,
                                        const asio::ip::udp::endpoint& server, const EchAttempt& ech = {});

}  // namespace ctn
