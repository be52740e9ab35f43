#include "dns/happy_eyeballs.h"

#include <arpa/inet.h>

#include <cstddef>

namespace ctn::dns {

std::vector<std::string> happy_eyeballs_order(const std::vector<std::string>& addresses, int family) {
  std::vector<const std::string*> v6, v4;
  unsigned char raw[16];
  for (const std::string& a : addresses) {
    if (inet_pton(AF_INET6, a.c_str(), raw) == 1)
      v6.push_back(&a);
    else if (inet_pton(AF_INET, a.c_str(), raw) == 1)
      v4.push_back(&a);
  }
  if (family == 4) v6.clear();
  if (family == 6) v4.clear();
  std::vector<std::string> ordered;
  ordered.reserve(v6.size() + v4.size());
  for (size_t i = 0; i < v6.size() || i < v4.size(); ++i) {
    if (i < v6.size()) ordered.push_back(*v6[i]);
    if (i < v4.size()) ordered.push_back(*v4[i]);
  }
  return ordered;
}

}  // namespace ctn::dns
