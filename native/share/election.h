// Who hosts the engine of a port. Binding <dir>/<port>.sock is the lock (endpoint.h): an attempt
// binds it (this process hosts), finds a live host there (this process connects to it, as a
// client), or is refused (the directory or the socket is not safe: ERR_SHARE_SECRET). A host on
// its way out, or one still starting, holds the name for a moment, so attempts are tried again
// with a short backoff until the handover deadline. The election only decides; what a process
// does as host or client is the listener's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <asio.hpp>

#include "share/endpoint.h"
#include "share/hub_context.h"

namespace ctn::share {

class Election {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // This process won: `acceptor` listens on the socket file `inode`.
    virtual void elected(LocalAcceptor acceptor, ino_t inode) = 0;
    // A live host holds the port: connect to it (and tell the election how that went).
    virtual void host_found() = 0;
    // No host, now or within the deadline: `code` says why.
    virtual void election_failed(ErrorCode code, const std::string& why) = 0;
  };

  Election(HubContext& hub, Listener& listener);
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  // Where the port's socket and lock file are: `dir` (default_socket_dir() when empty).
  void locate(const std::string& dir);
  // Starts an election unless one runs; the first attempt is made at once.
  void begin();
  // The attempt did not settle it (the host left between our bind and connect, or would not
  // answer yet): another attempt after a backoff, or ERR_HOST_GONE once the deadline has passed.
  void retry(const std::string& why);
  // The election ends without a host.
  void fail(ErrorCode code, const std::string& why);
  // The election ends: a host answered (or this process hosts).
  void conclude() { running_ = false; }
  // No more attempts (the hub stops); `for_good` also refuses any later begin().
  void stop(bool for_good);
  bool running() const { return running_; }
  // A host that closed during the handshake without a word is most likely on its way out: it is
  // forgiven a few times per election before the port counts as held by something else.
  bool forgive_silent_close() { return ++silent_closes_ <= 3; }

  const std::string& socket_path() const { return socket_path_; }
  const std::string& lock_path() const { return lock_path_; }

 private:
  void attempt();

  HubContext& hub_;
  Listener& listener_;
  std::string socket_dir_, socket_path_, lock_path_;
  bool running_ = false;
  bool halted_ = false;
  int attempts_ = 0;
  int silent_closes_ = 0;
  Clock::time_point deadline_;
  asio::steady_timer backoff_timer_;
};

}  // namespace ctn::share
