// The engine host's peer state machine, fed frame sequences from a peer process: a real host
// (share::Hub, its engine and Unix socket) in a private directory, one connection per input
// playing the input as frames (the script format is HubPeerDriver::play's: a first byte that picks
// whether HELLO comes first, then records of op, stream selector, length and bytes, each op a frame
// type plus flags, a well-formed payload built from the bytes, or raw wire bytes). After every input
// a second, well-behaved peer must still be served: HELLO/READY, PING/PONG, and a request answered.
// Requests only ever go to a closed port on 127.0.0.1 (see hub_peer_driver.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "../native/hub_peer_driver.h"

namespace {
ctn_test::HubPeerDriver* driver = nullptr;  // one host for the run
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!driver) driver = new ctn_test::HubPeerDriver();
  driver->play(data, size);
  if (!driver->well_behaved_peer_is_served()) std::abort();
  return 0;
}

// Called by the corpus replay (replay_main.cc) before it returns: the host's threads are joined
// before static destruction, which they would otherwise race (UBSan saw an io thread compare an
// error_code against a category already gone).
extern "C" void CtnFuzzTeardown() {
  delete driver;
  driver = nullptr;
}
