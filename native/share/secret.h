// The per-user secret that proves a process on the other end of the link belongs to the same user.
// It lives in a file only that user can read; whoever cannot read it cannot use the engine, so the
// port is never an open proxy.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "mux/messages.h"

namespace ctn::share {

using Secret = std::array<uint8_t, 32>;

// Where the secret lives unless the caller names a file: <home>/.cycletls-native/link-secret, or
// /tmp/cycletls-native-<uid>/link-secret when the home directory cannot be used.
std::string default_secret_path();

// Reads the secret at `path`, creating it first if it does not exist. Creation is atomic (written
// to a private temporary file with O_EXCL and mode 0600, then hard-linked into place, so readers
// never see a partial file and two processes racing end up with the same secret). A file that is
// not a regular file owned by this user, is readable by group or others, or has the wrong size is
// refused with `why`: a secret others could read proves nothing.
bool load_or_create_secret(const std::string& path, Secret* secret, std::string* why);

// HMAC-SHA256(secret, label || client nonce || host nonce).
mux::Proof link_proof(const Secret& secret, std::string_view label, const mux::Nonce& client_nonce,
                      const mux::Nonce& host_nonce);
bool proofs_equal(const mux::Proof& a, const mux::Proof& b);  // constant time
mux::Nonce random_nonce();

}  // namespace ctn::share
