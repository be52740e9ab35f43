#include "quic/hello_fingerprint.h"

#include <cstdio>
#include <set>

#include "profiles/client_hello.h"

namespace ctn::quic {

namespace {

using Kind = TransportParameter::Kind;
namespace tp = transport_param;

std::string param_name(uint64_t id) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "transport parameter 0x%llx", static_cast<unsigned long long>(id));
  return buf;
}

// A QUIC varint (RFC 9000 §16) at `at`; *width gets its length. False past the end.
bool read_varint(std::string_view s, size_t& at, uint64_t* v, size_t* width) {
  if (at >= s.size()) return false;
  const size_t n = size_t{1} << (static_cast<uint8_t>(s[at]) >> 6);
  if (s.size() - at < n) return false;
  uint64_t out = static_cast<uint8_t>(s[at]) & 0x3f;
  for (size_t i = 1; i < n; ++i) out = out << 8 | static_cast<uint8_t>(s[at + i]);
  at += n;
  *v = out;
  *width = n;
  return true;
}

size_t minimal_width(uint64_t v) { return v < 64 ? 1 : v < 16'384 ? 2 : v < (uint64_t{1} << 30) ? 4 : 8; }

bool is_grease_parameter(uint64_t id) { return id >= 27 && (id - 27) % 31 == 0; }

// Parameters whose value is one varint (RFC 9000 §18.2, RFC 9221, the ack-frequency draft): the
// connection acts on these, so they must be read as numbers.
bool varint_parameter(uint64_t id) {
  switch (id) {
    case tp::kMaxIdleTimeout:
    case tp::kMaxUdpPayloadSize:
    case tp::kInitialMaxData:
    case tp::kInitialMaxStreamDataBidiLocal:
    case tp::kInitialMaxStreamDataBidiRemote:
    case tp::kInitialMaxStreamDataUni:
    case tp::kInitialMaxStreamsBidi:
    case tp::kInitialMaxStreamsUni:
    case 0x0a:  // ack_delay_exponent
    case tp::kMaxAckDelay:
    case tp::kActiveConnectionIdLimit:
    case tp::kMaxDatagramFrameSize:
    case tp::kMinAckDelayDraft:
      return true;
    default:
      return false;
  }
}

bool read_u32(std::string_view s, size_t at, uint32_t* v) {
  if (s.size() < at + 4) return false;
  *v = 0;
  for (size_t i = 0; i < 4; ++i) *v = *v << 8 | static_cast<uint8_t>(s[at + i]);
  return true;
}

bool is_grease_version(uint32_t v) { return (v & 0x0f0f0f0fu) == 0x0a0a0a0au; }

// version_information (RFC 9368): chosen v1, others v1 and one GREASE version, as the encoder writes.
bool version_information(std::string_view value, TransportParameter* p, std::string* why) {
  uint32_t chosen = 0, a = 0, b = 0;
  if (value.size() != 12 || !read_u32(value, 0, &chosen) || !read_u32(value, 4, &a) ||
      !read_u32(value, 8, &b) || chosen != 1 ||
      !((a == 1 && is_grease_version(b)) || (b == 1 && is_grease_version(a)))) {
    *why = "version_information (0x11) other than chosen v1 with others v1 and one GREASE version";
    return false;
  }
  *p = {Kind::kVersionInformation, tp::kVersionInformation, 0, {}, is_grease_version(a)};
  return true;
}

}  // namespace

bool transport_shape_from_parameters(std::string_view body, TransportShape* shape, std::string* why) {
  shape->parameters.clear();
  std::set<uint64_t> seen;
  bool scid_given = false;
  for (size_t at = 0; at < body.size();) {
    uint64_t id = 0, length = 0;
    size_t id_width = 0, length_width = 0;
    if (!read_varint(body, at, &id, &id_width) || !read_varint(body, at, &length, &length_width) ||
        body.size() - at < length) {
      *why = "malformed ClientHello: quic_transport_parameters (57) lengths do not add up";
      return false;
    }
    const std::string_view value = body.substr(at, length);
    at += length;
    if (!seen.insert(id).second) {
      *why = param_name(id) + " appears twice";
      return false;
    }
    // min_ack_delay's draft id (0xff02de1a, Firefox) is 31*N+27 too: a parameter the connection
    // acts on is read as that parameter, never as GREASE redrawn per connection.
    const bool grease = is_grease_parameter(id) && !varint_parameter(id);
    // The encoder writes ids, lengths and values minimally (GREASE ids on 8 bytes, as Chrome does).
    if ((grease ? id_width != 8 : id_width != minimal_width(id)) || length_width != minimal_width(length)) {
      *why = param_name(id) + " is not minimally encoded (this stack writes minimal varints)";
      return false;
    }
    TransportParameter p;
    if (grease) {
      if (length < 1 || length > 15) {
        *why =
            "GREASE " + param_name(id) + " of " + std::to_string(length) + " bytes (this stack sends 1..15)";
        return false;
      }
      p = {Kind::kGrease, 0, 0, {}, false};
    } else if (id == 0x00 || id == 0x02 || id == 0x0d || id == 0x10) {
      *why = param_name(id) + " is sent by servers only";
      return false;
    } else if (id == tp::kInitialSourceConnectionId) {
      if (length > 20) {
        *why = "initial_source_connection_id (0x0f) longer than 20 bytes";
        return false;
      }
      shape->scid_length = static_cast<uint8_t>(length);
      scid_given = true;
      p = {Kind::kInitialSourceConnectionId, id, 0, {}, false};
    } else if (id == tp::kVersionInformation) {
      if (!version_information(value, &p, why)) return false;
    } else if (varint_parameter(id)) {
      size_t pos = 0, width = 0;
      uint64_t v = 0;
      if (!read_varint(value, pos, &v, &width) || pos != value.size() || width != minimal_width(v)) {
        *why = param_name(id) + "'s value is not one minimal varint";
        return false;
      }
      p = {Kind::kVarint, id, v, {}, false};
    } else {
      p = {Kind::kBytes, id, 0, std::string(value), false};
    }
    shape->parameters.push_back(std::move(p));
  }
  if (!scid_given) {
    *why = "initial_source_connection_id (0x0f) is missing (RFC 9000 §7.3)";
    return false;
  }
  shape->shuffle = false;
  return true;
}

bool quic_fingerprint_from_hello(std::string_view text, QuicFingerprint* out, Error* error) {
  const auto refuse = [error](ErrorCode code, const std::string& why) {
    *error = Error{code, Stage::kQueue, "quicFingerprint: " + why};
    return false;
  };
  std::string bytes, why;
  if (!decode_hello_hex(text, &bytes, &why)) return refuse(ErrorCode::kInvalidOption, why);
  ParsedClientHello hello;
  HelloRefusal refusal = HelloRefusal::kMalformed;
  if (!parse_client_hello(bytes, &hello, &why, &refusal))
    return refuse(
        refusal == HelloRefusal::kMalformed ? ErrorCode::kInvalidOption : ErrorCode::kUnsupportedFingerprint,
        why);
  const TlsProfile& t = hello.tls;
  if (!hello.quic_transport_parameters_sent)
    return refuse(ErrorCode::kUnsupportedFingerprint,
                  "no quic_transport_parameters (57): not a QUIC ClientHello");
  if (hello.session_id_length != 0)
    return refuse(ErrorCode::kUnsupportedFingerprint,
                  "a legacy_session_id of " + std::to_string(hello.session_id_length) +
                      " bytes (a QUIC ClientHello's is empty, RFC 9001 §8.4)");
  if (t.min_version != 0x0304 || t.max_version != 0x0304)
    return refuse(ErrorCode::kUnsupportedFingerprint, "supported_versions other than TLS 1.3 only (QUIC)");
  for (uint16_t suite : t.cipher_suites)
    if (suite < 0x1301 || suite > 0x1303) {
      char name[8];
      std::snprintf(name, sizeof name, "%04x", suite);
      return refuse(ErrorCode::kUnsupportedFingerprint,
                    std::string("cipher suite 0x") + name + " (this stack's QUIC has 1301, 1302, 1303)");
    }
  if (t.alpn != std::vector<std::string>{"h3"})
    return refuse(ErrorCode::kUnsupportedFingerprint, "ALPN other than [h3] (the connection speaks HTTP/3)");
  QuicFingerprint result;
  result.tls = t;
  result.server_name_sent = hello.server_name_sent;
  result.server_name = hello.server_name;
  // Not in the hello: Chrome's 8-byte first DCID, the RFC's minimum.
  result.transport.dcid_min = result.transport.dcid_max = 8;
  if (!transport_shape_from_parameters(hello.quic_transport_parameters, &result.transport, &why))
    return refuse(
        why.rfind("malformed", 0) == 0 ? ErrorCode::kInvalidOption : ErrorCode::kUnsupportedFingerprint, why);
  *out = std::move(result);
  return true;
}

}  // namespace ctn::quic
