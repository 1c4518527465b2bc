// The one error type inside Braid: a result code and a sentence saying what failed, on which
// rank, with which peer. No C++ exception crosses the C boundary; functions return Status.
#pragma once

#include <string>
#include <utility>

#include "braid/braid.h"

namespace braid {

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(braidResult_t code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool isOk() const { return code_ == braidSuccess; }
  explicit operator bool() const { return isOk(); }
  braidResult_t code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prepends context ("rank 3: "), keeping the code.
  Status withContext(const std::string& prefix) const {
    if (isOk()) return *this;
    return {code_, prefix + message_};
  }

 private:
  braidResult_t code_ = braidSuccess;
  std::string message_;
};

inline Status invalidArgument(std::string msg) { return {braidInvalidArgument, std::move(msg)}; }
inline Status invalidUsage(std::string msg) { return {braidInvalidUsage, std::move(msg)}; }
inline Status systemError(std::string msg) { return {braidSystemError, std::move(msg)}; }
inline Status internalError(std::string msg) { return {braidInternalError, std::move(msg)}; }
inline Status remoteError(std::string msg) { return {braidRemoteError, std::move(msg)}; }
inline Status timeoutError(std::string msg) { return {braidTimeout, std::move(msg)}; }

// "what: strerror(err)"
std::string errnoMessage(const std::string& what, int err);

#define BRAID_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::braid::Status braid_status_ = (expr);          \
    if (!braid_status_.isOk()) return braid_status_; \
  } while (0)

}  // namespace braid
