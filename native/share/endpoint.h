// Where the engine of one port is shared, and who may share it. The link is a Unix-domain socket
// `<dir>/<port>.sock` in a directory only this user can enter, and both ends ask the kernel who is
// on the other end (SO_PEERCRED): no secret to keep, nothing on TCP, nothing another user can
// reach, relay or pre-empt.
//
// Election: binding the socket path is the lock. A socket file left by a process that died (a
// connect to it is refused) is replaced under an flock on `<dir>/<port>.lock`, held while the
// file is probed, unlinked and bound again, so two processes that both find it stale cannot both
// replace it: the second one in finds the first one's live socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <asio.hpp>

namespace ctn::share {

using LocalSocket = asio::local::stream_protocol::socket;
using LocalAcceptor = asio::local::stream_protocol::acceptor;

// The socket directory unless the caller names one: $XDG_RUNTIME_DIR/cycletls-native, else
// ~/.cycletls-native/run. Empty when neither can be found.
std::string default_socket_dir();

// Creates `dir` (mode 0700; a missing parent too) and checks it: a real directory (not a
// symlink), owned by this user, mode 0700 (no group or other bits). False with `why` (naming the
// path and what is wrong) otherwise.
bool ensure_socket_dir(const std::string& dir, std::string* why);

std::string socket_path(const std::string& dir, uint16_t port);

// The uid of the process on the other end of a connected Unix socket (as the kernel recorded it
// at connect/listen time), or nothing when the kernel cannot tell.
std::optional<uid_t> peer_uid(int fd);

// "" when the process on the other end of `fd` belongs to user `expected`; else why not.
std::string foreign_uid(int fd, uid_t expected);

// What an election attempt found.
struct BindResult {
  enum class Outcome {
    kBound,    // `acceptor` listens on the socket path: this process hosts
    kLive,     // a live host listens there: connect to it
    kRefused,  // the path is unsafe or unusable (`why`): ERR_SHARE_SECRET
  } outcome = Outcome::kRefused;
  std::string why;
  ino_t inode = 0;  // kBound: the socket file this process created (removed only if still ours)
};

// One election attempt for `path` (lock file `lock_path`) with the flock held throughout: bind;
// if the path exists, probe it; a stale socket of ours is unlinked and bound again. Never unlinks
// a socket that accepts connections, nor anything that is not a socket of this user.
BindResult bind_or_find_host(LocalAcceptor& acceptor, const std::string& path, const std::string& lock_path);

// Removes the socket file a host created, under the same flock, only if it is still that file
// (inode), then closes the acceptor: the name is free before anyone can find it refused.
void release_socket(LocalAcceptor& acceptor, const std::string& path, const std::string& lock_path,
                    ino_t inode);

}  // namespace ctn::share
