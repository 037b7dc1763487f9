// The receive buffer of a datagram socket (UDP and Unix alike): deep, so that a burst waits in
// the kernel while the ingest thread is busy instead of being dropped.
#pragma once

namespace meterd {

// Sets the socket's receive buffer to `bytes`. SO_RCVBUFFORCE may exceed net.core.rmem_max but
// needs CAP_NET_ADMIN; without it the plain SO_RCVBUF is used, which the kernel caps at rmem_max.
// Best effort: a smaller buffer still works, it only drops sooner (the drop counter shows it).
void set_receive_buffer(int socket_fd, int bytes);

}  // namespace meterd
