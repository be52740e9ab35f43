// The HTTPS record parser (native/dns/https_record) fed what a name server might send: a whole DNS
// response, or one record's RDATA. Traps unless: a refused input yields nothing; every record kept
// has a target within kMaxNameLength, non-empty ALPN ids, hints that are literals of their family;
// the response never yields more than kMaxHttpsRecords; the choice, if any, comes from a ServiceMode
// record without an unknown mandatory key.
//
// Input: one control byte, then the bytes.
//   bit 0     the bytes are one record's RDATA (else a DNS response message)
//   bits 1-7  unused
#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dns/https_record.h"
#include "fuzz_input.h"

namespace {

using ctn::dns::HttpsRecord;

void check(const HttpsRecord& r) {
  if (r.target.empty() || r.target.size() > ctn::dns::kMaxNameLength) __builtin_trap();
  for (const std::string& id : r.alpn)
    if (id.empty() || id.size() > 255) __builtin_trap();
  unsigned char raw[16];
  for (const std::string& a : r.ipv4_hints)
    if (inet_pton(AF_INET, a.c_str(), raw) != 1) __builtin_trap();
  for (const std::string& a : r.ipv6_hints)
    if (inet_pton(AF_INET6, a.c_str(), raw) != 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ctn::fuzz::FuzzInput in(data, size);
  const uint8_t control = in.control();
  std::vector<HttpsRecord> records;
  if (control & 1) {
    HttpsRecord r;
    if (ctn::dns::parse_https_rdata(in.rest(), &r, nullptr)) records.push_back(r);
  } else if (!ctn::dns::parse_https_response(in.rest(), &records, nullptr) && !records.empty()) {
    __builtin_trap();  // a refused message yields nothing
  }
  if (records.size() > ctn::dns::kMaxHttpsRecords) __builtin_trap();
  for (const HttpsRecord& r : records) check(r);
  if (auto choice = ctn::dns::choose_https_record(records, "a.example", 443)) {
    bool from_service_mode = false;
    for (const HttpsRecord& r : records)
      from_service_mode |= !r.alias_mode() && !r.unknown_mandatory_key && r.alpn == choice->alpn &&
                           r.ech_config_list == choice->ech_config_list;
    if (!from_service_mode) __builtin_trap();
  }
  return 0;
}
