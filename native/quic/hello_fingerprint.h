// cycletls's `quicFingerprint`: a captured QUIC ClientHello (hex; see profiles/client_hello.h for the
// accepted forms) turned into what a ClientConnection needs to send that hello again: the TlsProfile
// for shape_quic_context / prepare_quic_connection (the profile's quic_tls) and the TransportShape
// holding extension 57's transport parameters in their order with their values.
//
// Kept as given: cipher suites, extension order (never shuffled), groups, key-share groups,
// signature algorithms, ALPN, ALPS and its code point, supported_versions, psk modes, certificate
// compression, record_size_limit, delegated credentials, padding, where GREASE goes, trust_anchors,
// ECH GREASE (NSS-sized when the given payload is not one of BoringSSL's lengths), and each transport
// parameter (unknown ids and their bytes too; initial_source_connection_id's length is the SCID
// length). Fresh per connection: random, key shares, GREASE values (a GREASE transport parameter
// keeps its place, with a fresh id and 1..15 fresh bytes), version_information's GREASE version
// (first when given first, else at a random place, as Chrome does), the ECH payload (BoringSSL's
// lengths are redrawn from 144/176/208/240, as Chrome does).
// Not in a ClientHello, left at TransportShape's defaults for the caller to set: DCID length (8),
// first packet number, datagram size, padding and the first flight's frame layout.
//
// Refusals: input that is not a ClientHello -> ERR_INVALID_OPTION; a hello this stack cannot send
// exactly (an extension BoringSSL cannot emit, a missing group, pre_shared_key / early_data, a
// session id, ALPN other than h3, a server-only transport parameter, ...) ->
// ERR_UNSUPPORTED_FINGERPRINT; both name the element, prefixed "quicFingerprint: ".
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "profiles/profile.h"
#include "quic/transport_shape.h"

namespace ctn::quic {

struct QuicFingerprint {
  TlsProfile tls;            // the hello: a Profile's quic_tls
  TransportShape transport;  // extension 57 and the SCID length
  // The hello named a server (SNI); the connection sends its own server name there. Without it the
  // caller sends none (Options::server_name empty, or an IP literal).
  bool server_name_sent = false;
  std::string server_name;  // the name the hello carried (for tests and diagnostics)
};

// The entry point: `text` as the option gives it. False with *error (stage kQueue) when refused.
bool quic_fingerprint_from_hello(std::string_view text, QuicFingerprint* out, Error* error);

// Extension 57's body (RFC 9000 §18) as a TransportShape's parameters, in order; sets scid_length.
// False with `why` naming the parameter.
bool transport_shape_from_parameters(std::string_view body, TransportShape* shape, std::string* why);

}  // namespace ctn::quic
