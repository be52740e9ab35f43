#include "share/endpoint.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ctn::share {

namespace {

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

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Checks what is at `dir` now: a directory (lstat: a symlink is refused, whoever it points to),
// ours, 0700.
bool check_private_dir(const std::string& dir, std::string* why) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) {
    *why = errno_text("the socket directory " + dir + " cannot be used");
    return false;
  }
  if (S_ISLNK(st.st_mode)) {
    *why = "the socket directory " + dir + " is a symbolic link; it must be a real directory";
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *why = "the socket directory " + dir + " is not a directory";
    return false;
  }
  if (st.st_uid != geteuid()) {
    *why = "the socket directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
           ", not to this user (uid " + std::to_string(geteuid()) + ")";
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    *why = "the socket directory " + dir + " has mode " + octal_mode(st.st_mode) +
           "; it must be 0700 (only its owner may enter it)";
    return false;
  }
  return true;
}

// Holds an flock on a lock file for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
      error_ = errno_text("cannot open the lock file " + path);
      return;
    }
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      error_ = errno_text("cannot lock " + path);
      close(fd_);
      fd_ = -1;
      return;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);  // closing the last descriptor releases the flock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

enum class Probe { kLive, kStale, kGone, kFailed };

// Does anything accept connections on `path`? Non-blocking: a full backlog (EAGAIN) is alive too.
Probe probe(const std::string& path, std::string* why) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = errno_text("socket");
    return Probe::kFailed;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return Probe::kLive;
  if (err == ECONNREFUSED) return Probe::kStale;
  if (err == ENOENT) return Probe::kGone;
  errno = err;
  *why = errno_text("cannot connect to " + path);
  return Probe::kFailed;
}

}  // namespace

std::string default_socket_dir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime && runtime[0] == '/') return std::string(runtime) + "/cycletls-native";
  const std::string home = home_directory();
  return home.empty() ? "" : home + "/.cycletls-native/run";
}

bool ensure_socket_dir(const std::string& dir, std::string* why) {
  if (dir.empty() || dir[0] != '/') {
    *why = "no socket directory (set XDG_RUNTIME_DIR or HOME, or the socketDir option)";
    return false;
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno == ENOENT) {
    // The default ~/.cycletls-native/run: its parent may be missing too (created private as well).
    const std::string parent = dir.substr(0, dir.find_last_of('/'));
    if (!parent.empty() && mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      *why = errno_text("cannot create " + parent);
      return false;
    }
    mkdir(dir.c_str(), 0700);
  }
  return check_private_dir(dir, why);
}

std::string socket_path(const std::string& dir, uint16_t port) {
  return dir + "/" + std::to_string(port) + ".sock";
}

std::optional<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t size = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0 || size != sizeof cred) return std::nullopt;
  return cred.uid;
}

std::string foreign_uid(int fd, uid_t expected) {
  const std::optional<uid_t> uid = peer_uid(fd);
  if (!uid) return "the kernel cannot say which user it belongs to";
  if (*uid != expected) {
    return "it belongs to uid " + std::to_string(*uid) + ", not to this user (uid " +
           std::to_string(expected) + ")";
  }
  return "";
}

BindResult bind_or_find_host(LocalAcceptor& acceptor, const std::string& path, const std::string& lock_path) {
  BindResult result;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    result.why = "the socket path " + path + " is longer than a Unix socket address allows (" +
                 std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes); choose a shorter socketDir";
    return result;
  }
  FileLock lock(lock_path);
  if (!lock.held()) {
    result.why = lock.error();
    return result;
  }
  const asio::local::stream_protocol::endpoint endpoint(path);
  // Twice at most: a stale socket removed under the lock leaves the name free for the second bind.
  for (int attempt = 0; attempt < 2; ++attempt) {
    asio::error_code ec, ignored;
    acceptor.close(ignored);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      struct stat st {};
      if (lstat(path.c_str(), &st) == 0) result.inode = st.st_ino;
      result.outcome = BindResult::Outcome::kBound;
      return result;
    }
    acceptor.close(ignored);
    if (ec != asio::error::address_in_use) {
      result.why = "cannot listen on " + path + ": " + ec.message();
      return result;
    }
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile
    if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
      result.why =
          path + (S_ISSOCK(st.st_mode) ? " is a socket of uid " + std::to_string(st.st_uid) +
                                             ", not of this user (uid " + std::to_string(geteuid()) + ")"
                                       : std::string(" exists and is not a socket"));
      return result;
    }
    switch (probe(path, &result.why)) {
      case Probe::kLive:
        result.outcome = BindResult::Outcome::kLive;
        return result;
      case Probe::kStale:
        // Its host died without removing it; nobody else can be replacing it while we hold the lock.
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
          result.why = errno_text("cannot remove the stale socket " + path);
          return result;
        }
        continue;
      case Probe::kGone:
        continue;
      case Probe::kFailed:
        return result;
    }
  }
  result.why = "cannot claim " + path + " (it keeps changing)";
  return result;
}

void release_socket(LocalAcceptor& acceptor, const std::string& path, const std::string& lock_path,
                    ino_t inode) {
  FileLock lock(lock_path);
  struct stat st {};
  if (inode != 0 && lstat(path.c_str(), &st) == 0 && st.st_ino == inode && S_ISSOCK(st.st_mode)) {
    unlink(path.c_str());
  }
  asio::error_code ignored;
  acceptor.close(ignored);
}

}  // namespace ctn::share
