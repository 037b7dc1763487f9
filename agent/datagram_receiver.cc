// recvmmsg batching and the SO_RXQ_OVFL drop counter (see datagram_receiver.h).
#include "agent/datagram_receiver.h"

#include <simdjson.h>
#include <cstring>

#include <fmt/format.h>

#include "agent/clock.h"

namespace meterd {

DatagramReceiver::DatagramReceiver(PayloadSink& sink, std::string listener)
    : sink_(sink),
      listener_(std::move(listener)),
      batch_(kMaxDatagram, kMaxDatagram + simdjson::SIMDJSON_PADDING) {}

void DatagramReceiver::enable_drop_counter(int fd) {
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
}

int64_t DatagramReceiver::drain(int fd) {
  int64_t total = 0;
  for (;;) {
    int received = batch_.receive(fd);
    if (received <= 0) return total;  // EAGAIN: drained; other errors: wait for readiness
    total += received;
    int64_t now_ms = wall_clock_ms();
    datagrams_ += received;
    uint32_t drops = static_cast<uint32_t>(kernel_drops_.load());
    for (int i = 0; i < received; ++i) {
      drops = batch_.drops(i, drops);  // the kernel's running total for this socket
      const mmsghdr& message = batch_.message(i);
      std::string_view bytes(batch_.slot(i), message.msg_len);
      Payload payload{bytes, /*padded=*/true, listener_, now_ms, /*acknowledged=*/false};
      if (message.msg_hdr.msg_flags & MSG_TRUNC) {
        ++oversized_;
        sink_.reject_payload(payload, fmt::format("datagram larger than {} bytes", kMaxDatagram));
        continue;
      }
      sink_.accept(payload, nullptr);
    }
    kernel_drops_ = drops;
    if (received < kBatch) return total;
  }
}

}  // namespace meterd
