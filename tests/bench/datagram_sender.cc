// Datagram transports of the load generator (see senders.h), plus the connection and clock
// helpers the other senders share.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/bench/senders.h"

namespace meterd::bench {
namespace {

constexpr int kBatch = 64;  // datagrams per sendmmsg

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "loadgen: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int connect_to(Transport transport, const std::string& target) {
  bool inet = transport == Transport::kUdp || transport == Transport::kHttp;
  int type = transport == Transport::kUdp || transport == Transport::kUnixDatagram ? SOCK_DGRAM
                                                                                   : SOCK_STREAM;
  int fd = socket(inet ? AF_INET : AF_UNIX, type, 0);
  if (fd < 0) die("socket");
  int rc;
  if (inet) {
    size_t colon = target.rfind(':');
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
    if (colon == std::string::npos ||
        inet_pton(AF_INET, target.substr(0, colon).c_str(), &address.sin_addr) != 1) {
      errno = EINVAL;
      die("bad address " + target);
    }
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  } else {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", target.c_str());
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  }
  if (rc != 0) die("connect " + target);
  return fd;
}

SendReport send_datagrams(const EventSource& source, const SendOptions& options) {
  int fd = connect_to(options.transport, options.target);
  // A large send buffer lets UDP bursts reach the receiver's queue instead of failing here.
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));

  SendReport report;
  std::vector<std::string> payloads(kBatch);
  mmsghdr messages[kBatch];
  iovec vectors[kBatch];
  Pacer pacer(options.rate);
  auto start = std::chrono::steady_clock::now();
  int64_t next = 0;
  while (next < options.events) {
    int count = 0;
    int64_t time = now_ms();
    for (; count < kBatch && next < options.events; ++count) {
      int64_t n = std::min(options.per_payload, options.events - next);
      payloads[count].clear();
      source.append_payload(next, n, time, &payloads[count]);
      next += n;
      vectors[count] = {payloads[count].data(), payloads[count].size()};
      messages[count] = {};
      messages[count].msg_hdr.msg_iov = &vectors[count];
      messages[count].msg_hdr.msg_iovlen = 1;
    }
    int sent = 0;
    while (sent < count) {
      int rc = sendmmsg(fd, messages + sent, count - sent, 0);
      if (rc < 0) {
        if (errno == EINTR) continue;
        ++report.send_errors;  // e.g. ECONNREFUSED from a previous datagram: skip this one
        rc = 1;
      }
      sent += rc;
    }
    report.payloads += count;
    for (int i = 0; i < count; ++i) report.bytes += static_cast<int64_t>(payloads[i].size());
    pacer.wait(next);
  }
  report.seconds = seconds_since(start);
  report.events = options.events;
  close(fd);
  return report;
}

}  // namespace meterd::bench
