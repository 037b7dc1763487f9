// Sizing a datagram socket's receive buffer, privileged or not (see receive_buffer.h).
#include "agent/listeners/receive_buffer.h"

#include <sys/socket.h>

namespace meterd {

void set_receive_buffer(int socket_fd, int bytes) {
  if (setsockopt(socket_fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    setsockopt(socket_fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }
}

}  // namespace meterd
