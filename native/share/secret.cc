#include "share/secret.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace ctn::share {

namespace {

constexpr size_t kHexSize = 64;  // 32 bytes, hex

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string home_directory() {
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* result = nullptr;
  if (getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &result) == 0 && result && pw.pw_dir &&
      pw.pw_dir[0] == '/') {
    return pw.pw_dir;
  }
  const char* home = std::getenv("HOME");
  return home && home[0] == '/' ? home : "";
}

// A directory of ours: exists (created 0700 if not), a real directory, owned by us, not writable
// by others (so nobody can swap the secret file underneath us).
bool ensure_private_dir(const std::string& dir, std::string* why) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *why = errno_text("cannot create " + dir);
    return false;
  }
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) {
    *why = errno_text("cannot stat " + dir);
    return false;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    *why = dir + " is not a private directory of this user";
    return false;
  }
  return true;
}

bool writable_dir(const std::string& dir) { return !dir.empty() && access(dir.c_str(), W_OK | X_OK) == 0; }

bool decode_hex(const char* hex, Secret* out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < out->size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool read_secret(const std::string& path, Secret* secret, std::string* why) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    *why = errno_text("cannot open the secret file " + path);
    return false;
  }
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  if (ok && (!S_ISREG(st.st_mode) || st.st_uid != geteuid())) {
    *why = "the secret file " + path + " is not a regular file owned by this user";
    ok = false;
  } else if (ok && (st.st_mode & 077) != 0) {
    *why = "the secret file " + path + " is readable or writable by others (mode must be 0600)";
    ok = false;
  }
  char hex[kHexSize + 2] = {};
  ssize_t n = 0;
  if (ok) {
    n = read(fd, hex, sizeof hex);
    if (n < static_cast<ssize_t>(kHexSize) || n > static_cast<ssize_t>(kHexSize + 1) ||
        (n == kHexSize + 1 && hex[kHexSize] != '\n') || !decode_hex(hex, secret)) {
      *why = "the secret file " + path + " does not hold a 64-digit hex secret";
      ok = false;
    }
  }
  close(fd);
  OPENSSL_cleanse(hex, sizeof hex);
  return ok;
}

}  // namespace

std::string default_secret_path() {
  const std::string home = home_directory();
  if (writable_dir(home)) return home + "/.cycletls-native/link-secret";
  return "/tmp/cycletls-native-" + std::to_string(geteuid()) + "/link-secret";
}

bool load_or_create_secret(const std::string& path, Secret* secret, std::string* why) {
  const auto slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == std::string::npos) {
    *why = "the secret file path must be absolute: '" + path + "'";
    return false;
  }
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) return read_secret(path, secret, why);
  // Only a directory we create (or already own privately) may hold a new secret.
  if (!ensure_private_dir(dir, why)) return false;

  Secret fresh{};
  RAND_bytes(fresh.data(), fresh.size());
  static const char* digits = "0123456789abcdef";
  char hex[kHexSize + 1];
  for (size_t i = 0; i < fresh.size(); ++i) {
    hex[2 * i] = digits[fresh[i] >> 4];
    hex[2 * i + 1] = digits[fresh[i] & 15];
  }
  hex[kHexSize] = '\n';
  mux::Nonce suffix = random_nonce();
  const std::string tmp = path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(suffix[0]) +
                          std::to_string(suffix[1]) + std::to_string(suffix[2]);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    *why = errno_text("cannot create " + tmp);
    return false;
  }
  const bool written = write(fd, hex, sizeof hex) == static_cast<ssize_t>(sizeof hex) && fsync(fd) == 0;
  close(fd);
  OPENSSL_cleanse(hex, sizeof hex);
  OPENSSL_cleanse(fresh.data(), fresh.size());
  if (!written) {
    *why = errno_text("cannot write " + tmp);
    unlink(tmp.c_str());
    return false;
  }
  // link() fails with EEXIST if another process got there first: then theirs is the secret.
  const int linked = link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  unlink(tmp.c_str());
  if (linked != 0 && link_errno != EEXIST) {
    errno = link_errno;
    *why = errno_text("cannot create the secret file " + path);
    return false;
  }
  return read_secret(path, secret, why);
}

mux::Proof link_proof(const Secret& secret, std::string_view label, const mux::Nonce& client_nonce,
                      const mux::Nonce& host_nonce) {
  std::string message(label);
  message.append(reinterpret_cast<const char*>(client_nonce.data()), client_nonce.size());
  message.append(reinterpret_cast<const char*>(host_nonce.data()), host_nonce.size());
  mux::Proof proof{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), secret.size(), reinterpret_cast<const uint8_t*>(message.data()),
       message.size(), proof.data(), &len);
  return proof;
}

bool proofs_equal(const mux::Proof& a, const mux::Proof& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

mux::Nonce random_nonce() {
  mux::Nonce n{};
  RAND_bytes(n.data(), n.size());
  return n;
}

}  // namespace ctn::share
