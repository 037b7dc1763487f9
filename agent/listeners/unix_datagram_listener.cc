// The Unix datagram socket: path, permissions, receive buffer (see unix_datagram_listener.h).
#include "agent/listeners/unix_datagram_listener.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <fstream>

#include "agent/listeners/receive_buffer.h"
#include "agent/listeners/unix_socket_path.h"

namespace meterd {

namespace asio = boost::asio;

namespace {

// However large the receive buffer, the kernel lets only net.unix.max_dgram_qlen datagrams
// (10 by default) wait on a Unix datagram socket and blocks the sender beyond that, so a fast
// sender waits for meterd every few datagrams (README, Performance: 512 measured 2× cheaper per
// event). meterd cannot change it (a sysctl of the host or of the pod's network namespace), so
// it says so at start.
constexpr int64_t kAdvisedQueueLength = 512;

void warn_if_short_datagram_queue() {
  std::ifstream file("/proc/sys/net/unix/max_dgram_qlen");
  int64_t length = 0;
  if (!(file >> length) || length >= kAdvisedQueueLength) return;
  spdlog::warn("unix datagram listener: net.unix.max_dgram_qlen is {}, so senders block once {} "
               "datagrams wait; for fast senders raise it (sysctl -w net.unix.max_dgram_qlen={})",
               length, length, kAdvisedQueueLength);
}

}  // namespace

UnixDatagramListener::UnixDatagramListener(asio::io_context& io, PayloadSink& sink,
                                           const ListenerConfig& options)
    : socket_(io), receiver_(sink, "unix_datagram"), options_(options) {}

Status UnixDatagramListener::open() {
  const std::string& path = options_.unix_datagram;
  if (Status s = prepare_socket_path(path); !s) return s;
  boost::system::error_code ec;
  socket_.open(asio::local::datagram_protocol(), ec);
  if (!ec) socket_.bind(asio::local::datagram_protocol::endpoint(path), ec);
  if (ec) {
    return Status::error(fmt::format("unix datagram listener: binding {}: {}", path,
                                     ec.message()));
  }
  bound_path_ = path;
  if (Status s = apply_socket_permissions(path, options_.unix_mode, options_.unix_group); !s) {
    return s;
  }
  set_receive_buffer(socket_.native_handle(), options_.receive_buffer_bytes);
  socket_.non_blocking(true, ec);
  warn_if_short_datagram_queue();
  return Status::ok();
}

void UnixDatagramListener::close() {
  boost::system::error_code ec;
  // What the kernel already queued was sent before the shutdown: take it, do not drop it.
  if (socket_.is_open()) receiver_.drain(socket_.native_handle());
  socket_.close(ec);
  if (!bound_path_.empty()) unlink(bound_path_.c_str());
  receiver_.log_counters();
}

std::string UnixDatagramListener::description() const {
  return fmt::format("Unix datagram events on {}", options_.unix_datagram);
}

}  // namespace meterd
