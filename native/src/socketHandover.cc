#include "socketHandover.h"

#if defined(__unix__) || defined(__APPLE__)
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#define NIMBUS_POSIX 1
#endif

namespace nimbus {

#if defined(NIMBUS_POSIX)

bool duplicateStreamAvailable() { return true; }

int64_t duplicateStream(int fd) {
  int type = 0;
  socklen_t length = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
    return -errno;
  }
  if (type != SOCK_STREAM) {
    return -ENOTSOCK;
  }
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return copy < 0 ? -errno : copy;
}

int64_t closeDescriptor(int fd) { return close(fd) == 0 ? 0 : -errno; }

#else

bool duplicateStreamAvailable() { return false; }
int64_t duplicateStream(int) { return -38; }  // ENOSYS
int64_t closeDescriptor(int) { return -38; }

#endif

}  // namespace nimbus
