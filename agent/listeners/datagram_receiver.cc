// recvmmsg batching and the kernel drop counter (see datagram_receiver.h).
#include "agent/listeners/datagram_receiver.h"

#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "buffer/base/clock.h"

namespace meterd {

DatagramReceiver::DatagramReceiver(PayloadSink& sink, std::string listener)
    : sink_(sink),
      listener_(std::move(listener)),
      batch_(kMaxDatagram, kPayloadPadding) {}

int64_t DatagramReceiver::drain(int fd) {
  int64_t total = 0;
  for (;;) {
    int received = batch_.receive(fd);
    if (received <= 0) break;  // EAGAIN: drained; other errors: wait for readiness
    total += received;
    int64_t now_ms = wall_clock_ms();
    datagrams_ += received;
    for (int i = 0; i < received; ++i) {
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
    if (received < kBatch) break;
  }
  kernel_drops_ = socket_drops(fd, static_cast<uint32_t>(kernel_drops_.load()));
  return total;
}

void DatagramReceiver::log_counters() const {
  spdlog::info("{}: {} datagrams received, {} dropped by the kernel (receive buffer full), {} "
               "over 64 KiB", listener_, datagrams(), kernel_drops(), oversized());
}

}  // namespace meterd
