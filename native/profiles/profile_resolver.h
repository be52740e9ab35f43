// Turns a request's profile id and fingerprint strings into the Profile it is sent with, once per
// distinct input: presets are checked against the TLS stack once, composed profiles are cached.
// Used wherever a request enters an engine (the binding, and a host serving other processes).
// Not thread-safe: one per thread that resolves.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "profiles/fingerprint_strings.h"
#include "profiles/profile.h"

namespace ctn {

// Whether the TLS stack can put `tls` on the wire exactly; if not, `why` names what it cannot.
// tls/'s check_tls_profile, handed in by whoever builds the resolver (profiles sit below tls).
using TlsProfileCheck = std::function<bool(const TlsProfile& tls, std::string* why)>;

class ProfileResolver {
 public:
  explicit ProfileResolver(TlsProfileCheck check_tls) : check_tls_(std::move(check_tls)) {}

  // Sets *custom to the profile composed from `fingerprint` on `profile_id` when fingerprint
  // strings are present (leaves it alone otherwise). False with `why` when the profile id is
  // unknown or the stack cannot put the fingerprint on the wire exactly.
  bool resolve(const std::string& profile_id, const FingerprintInputs& fingerprint,
               std::shared_ptr<const Profile>* custom, std::string* why);

 private:
  static constexpr size_t kMaxComposed = 1024;
  TlsProfileCheck check_tls_;
  std::map<std::string, std::shared_ptr<const Profile>> composed_;
  std::map<std::string, std::string> checked_presets_;  // id -> "" or why not
};

}  // namespace ctn
