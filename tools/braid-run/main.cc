// braid-run: starts N ranks of a Braid program on this host. See launcherUsage().
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include "launcher.h"
#include "options.h"

namespace {

// With fd 0, 1 or 2 closed, a pipe could land there and be handed to a rank twice over.
void openStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int opened = ::open("/dev/null", O_RDWR);  // the lowest free descriptor: fd itself
      if (opened >= 0 && opened != fd) ::close(opened);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  openStandardFds();
  braid::LaunchOptions options;
  std::string message;
  switch (braid::parseLaunchOptions(argc, argv, &options, &message)) {
    case braid::ParseOutcome::kExitOk:
      std::fputs(message.c_str(), stdout);
      return std::fflush(stdout) == 0 ? 0 : 1;
    case braid::ParseOutcome::kUsageError:
      std::fprintf(stderr, "braid-run: %s\nTry 'braid-run --help' for more information.\n",
                   message.c_str());
      return 2;
    case braid::ParseOutcome::kRun:
      break;
  }
  braid::Launcher launcher(std::move(options));
  return launcher.run();
}
