// The HTTP transport of the load generator (see senders.h): keep-alive connections, each
// POSTing batches to /api/v1/events and reading each answer before sending the next. The
// parsing of answers is the minimum meterd's own responses need: a status line, headers, and a
// Content-Length body.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "tests/bench/senders.h"

namespace meterd::bench {
namespace {

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t rc = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(rc));
  }
  return true;
}

// Reads one response; returns its status code, or 0 when the connection broke.
int read_response(int fd, std::string* pending) {
  char buffer[16 * 1024];
  size_t header_end;
  while ((header_end = pending->find("\r\n\r\n")) == std::string::npos) {
    ssize_t rc = recv(fd, buffer, sizeof(buffer), 0);
    if (rc <= 0) return 0;
    pending->append(buffer, static_cast<size_t>(rc));
  }
  int status = std::atoi(pending->c_str() + pending->find(' ') + 1);
  size_t body = 0;
  size_t at = pending->find("Content-Length:");
  if (at == std::string::npos) at = pending->find("content-length:");
  if (at != std::string::npos && at < header_end) body = std::strtoull(pending->c_str() + at + 15, nullptr, 10);
  size_t total = header_end + 4 + body;
  while (pending->size() < total) {
    ssize_t rc = recv(fd, buffer, sizeof(buffer), 0);
    if (rc <= 0) return 0;
    pending->append(buffer, static_cast<size_t>(rc));
  }
  pending->erase(0, total);
  return status;
}

}  // namespace

SendReport send_http(const EventSource& source, const SendOptions& options) {
  std::atomic<int64_t> next{0};
  std::vector<SendReport> reports(options.connections);
  const char* content_type = source.format() == Format::kJson
                                 ? "application/cloudevents-batch+json"
                                 : "application/msgpack";
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < options.connections; ++c) {
    threads.emplace_back([&, c] {
      SendReport& report = reports[c];
      int fd = connect_to(Transport::kHttp, options.target);
      Pacer pacer(options.rate / options.connections);
      std::string body, request, pending;
      int64_t mine = 0;
      for (;;) {
        int64_t first = next.fetch_add(options.per_payload);
        if (first >= options.events) break;
        int64_t n = std::min(options.per_payload, options.events - first);
        body.clear();
        // A batch body is always an array, even of one event.
        if (source.format() == Format::kJson && n == 1) body.push_back('[');
        source.append_payload(first, n, now_ms(), &body);
        if (source.format() == Format::kJson && n == 1) body.push_back(']');
        request = "POST /api/v1/events HTTP/1.1\r\nHost: " + options.target +
                  "\r\nContent-Type: " + content_type +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        int status = send_all(fd, request) ? read_response(fd, &pending) : 0;
        ++report.payloads;
        report.bytes += static_cast<int64_t>(body.size());
        report.events += n;
        if (status == 0) {
          ++report.send_errors;
          break;
        }
        if (status / 100 == 2) report.acknowledged += n;
        else ++report.rejected;
        pacer.wait(mine += n);
      }
      close(fd);
    });
  }
  for (auto& thread : threads) thread.join();
  SendReport total;
  total.seconds = seconds_since(start);
  for (const SendReport& r : reports) {
    total.events += r.events;
    total.payloads += r.payloads;
    total.bytes += r.bytes;
    total.send_errors += r.send_errors;
    total.acknowledged += r.acknowledged;
    total.rejected += r.rejected;
  }
  return total;
}

}  // namespace meterd::bench
