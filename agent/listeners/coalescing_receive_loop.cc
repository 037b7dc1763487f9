// The UDP receive loop with one-shot readiness (see coalescing_receive_loop.h).
#include "agent/listeners/coalescing_receive_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace meterd {
namespace {

// Arms (or rearms) `socket_fd` in `epoll_fd` to report readable once.
bool arm(int epoll_fd, int socket_fd, int operation) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.fd = socket_fd;
  return epoll_ctl(epoll_fd, operation, socket_fd, &event) == 0;
}

// Takes a pending report off the set's ready list: until then the set stays readable and each
// datagram would wake asio's epoll through it again.
void consume_report(int epoll_fd) {
  epoll_event event;
  epoll_wait(epoll_fd, &event, 1, 0);
}

}  // namespace

CoalescingReceiveLoop::CoalescingReceiveLoop(boost::asio::io_context& io,
                                             DatagramReceiver& receiver)
    : receiver_(receiver), readiness_(io), pause_(io) {}

Status CoalescingReceiveLoop::attach(int socket_fd) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0 || !arm(epoll_fd, socket_fd, EPOLL_CTL_ADD)) {
    Status error = Status::error(fmt::format("epoll for the udp socket: {}", std::strerror(errno)));
    if (epoll_fd >= 0) ::close(epoll_fd);
    ::close(socket_fd);
    return error;
  }
  socket_fd_ = socket_fd;
  readiness_.assign(epoll_fd);
  return Status::ok();
}

void CoalescingReceiveLoop::wait_for_readiness() {
  readiness_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                        [this](boost::system::error_code ec) {
                          if (ec || socket_fd_ < 0) return;  // closed
                          consume_report(readiness_.native_handle());
                          drain_then_pause();
                        });
  // Rearmed after the wait is queued, and after clearing any stale report, so that a datagram
  // already waiting makes a fresh edge that this wait sees.
  consume_report(readiness_.native_handle());
  arm(readiness_.native_handle(), socket_fd_, EPOLL_CTL_MOD);
}

void CoalescingReceiveLoop::drain_then_pause() {
  if (receiver_.drain(socket_fd_) == 0) return wait_for_readiness();
  pause_.expires_after(kCoalesce);
  pause_.async_wait([this](boost::system::error_code ec) {
    if (!ec && socket_fd_ >= 0) drain_then_pause();
  });
}

CoalescingReceiveLoop::~CoalescingReceiveLoop() { release(); }

void CoalescingReceiveLoop::close() {
  // What the kernel already queued was sent before the shutdown: take it, do not drop it.
  if (socket_fd_ >= 0) receiver_.drain(socket_fd_);
  release();
}

void CoalescingReceiveLoop::release() {
  if (socket_fd_ < 0) return;
  boost::system::error_code ec;
  readiness_.close(ec);
  pause_.cancel();
  ::close(socket_fd_);
  socket_fd_ = -1;
}

}  // namespace meterd
