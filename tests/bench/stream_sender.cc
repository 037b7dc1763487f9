// The Unix stream transport of the load generator (see senders.h and agent/PROTOCOL.md): one
// writer thread sends lines, the calling thread reads `ack <line>` and `error <line> ...`.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tests/bench/senders.h"

namespace meterd::bench {

SendReport send_stream(const EventSource& source, const SendOptions& options) {
  int fd = connect_to(Transport::kUnixStream, options.target);
  SendReport report;
  const int64_t lines = (options.events + options.per_payload - 1) / options.per_payload;
  std::atomic<int64_t> acked{0};
  std::atomic<bool> broken{false};
  auto start = std::chrono::steady_clock::now();

  std::thread writer([&] {
    Pacer pacer(options.rate);
    std::string chunk;
    int64_t next = 0;
    for (int64_t line = 0; line < lines && !broken;) {
      chunk.clear();
      int64_t time = now_ms();
      // Lines are written 64 KiB at a time; the window bounds what the client must keep.
      while (line < lines && chunk.size() < 64 * 1024 && line - acked < options.window) {
        int64_t n = std::min(options.per_payload, options.events - next);
        source.append_payload(next, n, time, &chunk);
        chunk.push_back('\n');
        next += n;
        ++line;
      }
      if (chunk.empty()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      for (size_t off = 0; off < chunk.size();) {
        ssize_t rc = send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) {
          broken = true;
          break;
        }
        off += static_cast<size_t>(rc);
      }
      report.bytes += static_cast<int64_t>(chunk.size());
      pacer.wait(next);
    }
  });

  std::string pending;
  char buffer[64 * 1024];
  while (acked < lines) {
    ssize_t rc = recv(fd, buffer, sizeof(buffer), 0);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    pending.append(buffer, static_cast<size_t>(rc));
    size_t begin = 0;
    for (size_t end; (end = pending.find('\n', begin)) != std::string::npos; begin = end + 1) {
      std::string_view reply(pending.data() + begin, end - begin);
      if (reply.starts_with("ack ")) acked = std::atoll(std::string(reply.substr(4)).c_str());
      else ++report.rejected;
    }
    pending.erase(0, begin);
  }
  broken = true;  // unblocks the writer if meterd went away early
  writer.join();
  report.seconds = seconds_since(start);
  close(fd);
  report.payloads = lines;
  report.events = options.events;
  report.acknowledged = std::min(options.events, acked.load() * options.per_payload);
  if (acked < lines) ++report.send_errors;
  return report;
}

}  // namespace meterd::bench
