// Turns a request's profile id and fingerprint strings into the Profile it is sent with, once per
// distinct input: presets are checked against the TLS stack once, composed profiles are cached.
// Used wherever a RequestSpec enters an engine (the binding, and a host serving other processes).
// Not thread-safe: one per thread that resolves.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/request.h"

namespace ctn {

class ProfileResolver {
 public:
  // Sets spec.custom_profile when fingerprint strings are present. False with `why` when the
  // profile id is unknown or the stack cannot put the fingerprint on the wire exactly.
  bool resolve(RequestSpec& spec, std::string* why);

 private:
  static constexpr size_t kMaxComposed = 1024;
  std::map<std::string, std::shared_ptr<const Profile>> composed_;
  std::map<std::string, std::string> checked_presets_;  // id -> "" or why not
};

}  // namespace ctn
