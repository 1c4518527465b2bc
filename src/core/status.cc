#include "core/status.h"

#include <cstring>

namespace braid {

std::string errnoMessage(const std::string& what, int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  return what + ": " + text;
}

}  // namespace braid
