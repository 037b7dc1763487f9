// UDP ingest with recvmmsg batching (see udp_listener.h).
#include "agent/udp_listener.h"

#include "agent/clock.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

namespace meterd {

namespace asio = boost::asio;

UdpListener::UdpListener(asio::io_context& io, PayloadSink& sink) : socket_(io), sink_(sink) {
  slot_size_ = kMaxDatagram + simdjson::SIMDJSON_PADDING;
  buffers_.resize(slot_size_ * kBatch);
}

Status UdpListener::open(const Endpoint& endpoint, int receive_buffer_bytes) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) return Status::error(fmt::format("udp listener: bad address '{}'", endpoint.host));
  asio::ip::udp::endpoint local(address, endpoint.port);
  socket_.open(local.protocol(), ec);
  if (!ec) socket_.bind(local, ec);
  if (ec) {
    return Status::error(fmt::format("udp listener: binding {}:{}: {}", endpoint.host,
                                     endpoint.port, ec.message()));
  }
  if (!address.is_loopback()) {
    spdlog::warn("udp listener on non-loopback address {}: anyone who can reach it can send usage",
                 endpoint.host);
  }
  // A deep receive buffer absorbs bursts while the ingest thread is busy; FORCE exceeds
  // rmem_max when we are privileged, and the plain option is the fallback.
  int fd = socket_.native_handle();
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes,
                 sizeof(receive_buffer_bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  }
  socket_.non_blocking(true, ec);
  return Status::ok();
}

uint16_t UdpListener::port() const { return socket_.local_endpoint().port(); }

void UdpListener::start() { wait(); }

void UdpListener::close() {
  boost::system::error_code ec;
  socket_.close(ec);
}

void UdpListener::wait() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;  // closed
    drain();
    wait();
  });
}

void UdpListener::drain() {
  mmsghdr messages[kBatch];
  iovec vectors[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      vectors[i] = {buffers_.data() + i * slot_size_, kMaxDatagram};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    int received = recvmmsg(socket_.native_handle(), messages, kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) return;  // EAGAIN: drained; other errors: wait for the next readiness
    int64_t now_ms = wall_clock_ms();
    for (int i = 0; i < received; ++i) {
      std::string_view payload(buffers_.data() + i * slot_size_, messages[i].msg_len);
      sink_.accept(payload, /*padded=*/true, "udp", now_ms);
    }
    if (received < kBatch) return;
  }
}

}  // namespace meterd
