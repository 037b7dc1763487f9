// ReceiveBatch: the recvmmsg argument block of a datagram receiver: `kSize` message headers,
// each with one receive slot; and socket_drops(), the kernel's drop count of a socket.
//
// Shared by agent/listeners/datagram_receiver.cc and the benchmark's recvmmsg baseline
// (tests/bench/recv_baseline.cc), so the baseline receives exactly the way meterd does.
// recvmmsg rewrites the lengths in each header, hence reset() before every call.
//
// Why the slots are not simply `capacity` bytes apart: 64 KiB slots would start at the same
// offset modulo 64 KiB, which is the set period of the L2 cache here (512 KiB, 8 ways), so the
// datagrams one recvmmsg writes would all land in the same few cache sets and evict one another
// before they are parsed. Slots rounded up to whole pages plus one cache line are 65 lines apart
// modulo 64 KiB and one line apart modulo 4 KiB (L1's period): spread over both.
#pragma once

#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace meterd {

// The datagrams the kernel dropped on `fd` since it was opened (a full receive buffer), or
// `previous` if the kernel does not say. Asked once per drain (SO_MEMINFO's SK_MEMINFO_DROPS),
// not per datagram: an SO_RXQ_OVFL control message on every datagram cost ~5% of the receive.
inline uint32_t socket_drops(int fd, uint32_t previous) {
  uint32_t meminfo[SK_MEMINFO_VARS];
  socklen_t size = sizeof(meminfo);
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &size) != 0 ||
      size <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return previous;
  }
  return meminfo[SK_MEMINFO_DROPS];
}

template <int kSize>
class ReceiveBatch {
 public:
  // Each slot receives at most `capacity` bytes and has `padding` readable bytes after them.
  ReceiveBatch(size_t capacity, size_t padding)
      : capacity_(capacity),
        stride_(spread_stride(capacity + padding)),
        buffers_(stride_ * kSize) {}

  void reset() {
    for (int i = 0; i < kSize; ++i) {
      vectors_[i] = {buffers_.data() + i * stride_, capacity_};
      messages_[i] = {};
      messages_[i].msg_hdr.msg_iov = &vectors_[i];
      messages_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  // recvmmsg into the batch without blocking: the count received, or -1 (errno set).
  int receive(int fd) {
    reset();
    return recvmmsg(fd, messages_, kSize, MSG_DONTWAIT, nullptr);
  }

  const mmsghdr& message(int i) const { return messages_[i]; }
  const char* slot(int i) const { return buffers_.data() + i * stride_; }

 private:
  static constexpr size_t kPage = 4096, kCacheLine = 64;
  static size_t spread_stride(size_t bytes) {
    return (bytes + kPage - 1) / kPage * kPage + kCacheLine;
  }

  size_t capacity_, stride_;
  std::vector<char> buffers_;
  mmsghdr messages_[kSize];
  iovec vectors_[kSize];
};

}  // namespace meterd
