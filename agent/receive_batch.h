// ReceiveBatch: the recvmmsg argument block of a datagram receiver: `kSize` message headers,
// each with one receive slot and room for one SO_RXQ_OVFL control message.
//
// Shared by agent/datagram_receiver.cc and the benchmark's recvmmsg baseline
// (tests/bench/recv_baseline.cc), so the baseline receives exactly the way meterd does.
// recvmmsg rewrites the lengths in each header, hence reset() before every call.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace meterd {

template <int kSize>
class ReceiveBatch {
 public:
  static constexpr size_t kControlSize = CMSG_SPACE(sizeof(uint32_t));

  // Slots are `stride` bytes apart and receive at most `capacity` bytes each.
  ReceiveBatch(size_t capacity, size_t stride)
      : capacity_(capacity), stride_(stride), buffers_(stride * kSize),
        controls_(kControlSize * kSize) {}

  void reset() {
    for (int i = 0; i < kSize; ++i) {
      vectors_[i] = {buffers_.data() + i * stride_, capacity_};
      messages_[i] = {};
      messages_[i].msg_hdr.msg_iov = &vectors_[i];
      messages_[i].msg_hdr.msg_iovlen = 1;
      messages_[i].msg_hdr.msg_control = controls_.data() + i * kControlSize;
      messages_[i].msg_hdr.msg_controllen = kControlSize;
    }
  }

  // recvmmsg into the batch without blocking: the count received, or -1 (errno set).
  int receive(int fd) {
    reset();
    return recvmmsg(fd, messages_, kSize, MSG_DONTWAIT, nullptr);
  }

  const mmsghdr& message(int i) const { return messages_[i]; }
  const char* slot(int i) const { return buffers_.data() + i * stride_; }

  // The kernel's running drop count if message `i` carries one (SO_RXQ_OVFL), else `previous`.
  uint32_t drops(int i, uint32_t previous) const {
    auto& header = const_cast<msghdr&>(messages_[i].msg_hdr);
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::memcpy(&previous, CMSG_DATA(c), sizeof(previous));
      }
    }
    return previous;
  }

 private:
  size_t capacity_, stride_;
  std::vector<char> buffers_, controls_;
  mmsghdr messages_[kSize];
  iovec vectors_[kSize];
};

}  // namespace meterd
