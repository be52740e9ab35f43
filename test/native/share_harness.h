// Shared by the tests of the hub's parts that run an io_context on the test's own thread.
#pragma once

#include <chrono>

#include <asio.hpp>

#include "engine_harness.h"

namespace ctn_test {

// Runs `io` in short slices until `done()` holds; false when it still does not after kWait.
template <class Done>
bool run_io_until(asio::io_context& io, Done&& done) {
  const auto until = std::chrono::steady_clock::now() + kWait;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace ctn_test
