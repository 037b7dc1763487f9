// recvmmsg batching and the SO_RXQ_OVFL drop counter (see datagram_receiver.h).
#include "agent/datagram_receiver.h"

#include <simdjson.h>
#include <cstring>

#include <fmt/format.h>

#include "agent/clock.h"

namespace meterd {
namespace {

constexpr size_t kControlSize = CMSG_SPACE(sizeof(uint32_t));

}  // namespace

DatagramReceiver::DatagramReceiver(PayloadSink& sink, std::string listener)
    : sink_(sink),
      listener_(std::move(listener)),
      slot_size_(kMaxDatagram + simdjson::SIMDJSON_PADDING),
      buffers_(slot_size_ * kBatch),
      controls_(kControlSize * kBatch) {}

void DatagramReceiver::enable_drop_counter(int fd) {
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
}

void DatagramReceiver::drain(int fd) {
  mmsghdr messages[kBatch];
  iovec vectors[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      vectors[i] = {buffers_.data() + i * slot_size_, kMaxDatagram};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_control = controls_.data() + i * kControlSize;
      messages[i].msg_hdr.msg_controllen = kControlSize;
    }
    int received = recvmmsg(fd, messages, kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) return;  // EAGAIN: drained; other errors: wait for the next readiness
    int64_t now_ms = wall_clock_ms();
    datagrams_ += received;
    for (int i = 0; i < received; ++i) {
      msghdr& header = messages[i].msg_hdr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t dropped;
          std::memcpy(&dropped, CMSG_DATA(c), sizeof(dropped));
          kernel_drops_ = dropped;  // the kernel's running total for this socket
        }
      }
      std::string_view bytes(buffers_.data() + i * slot_size_, messages[i].msg_len);
      Payload payload{bytes, /*padded=*/true, listener_, now_ms, /*acknowledged=*/false};
      if (header.msg_flags & MSG_TRUNC) {
        ++oversized_;
        sink_.reject_payload(payload, fmt::format("datagram larger than {} bytes", kMaxDatagram));
        continue;
      }
      sink_.accept(payload, nullptr);
    }
    if (received < kBatch) return;
  }
}

}  // namespace meterd
