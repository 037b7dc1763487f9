// The load generator's transports: each sends events [0, events) of an EventSource as fast as
// allowed and reports what it sent and, for the acknowledged transports, what was acknowledged.
//
// - datagrams (UDP, Unix datagram): sendmmsg, kBatch datagrams per call, `per_payload` events
//   per datagram; UDP never blocks (the receiver's kernel drops what does not fit), a Unix
//   datagram socket blocks while the receiver's queue is full.
// - Unix stream: one connection, lines written back to back, acks read by a second thread;
//   at most `window` lines unacknowledged, as a real client must keep them for resending.
// - HTTP: `connections` keep-alive connections, each POSTing a batch and waiting for its answer
//   (which meterd sends only once the batch is durable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "tests/bench/event_source.h"

namespace meterd::bench {

enum class Transport { kUdp, kUnixDatagram, kUnixStream, kHttp };

struct SendOptions {
  Transport transport = Transport::kUdp;
  std::string target;  // HOST:PORT for UDP and HTTP, a socket path otherwise
  int64_t events = 100'000;
  int64_t per_payload = 1;
  double rate = 0;  // events per second; 0: as fast as possible
  int connections = 4;
  int64_t window = 100'000;
};

struct SendReport {
  int64_t events = 0;    // sent
  int64_t payloads = 0;  // datagrams, lines or requests
  int64_t bytes = 0;
  int64_t send_errors = 0;
  int64_t acknowledged = 0;  // events meterd acknowledged (stream, HTTP)
  int64_t rejected = 0;      // error lines or 4xx answers
  double seconds = 0;        // first send to last send (datagrams) or last acknowledgement
};

SendReport send_datagrams(const EventSource& source, const SendOptions& options);
SendReport send_stream(const EventSource& source, const SendOptions& options);
SendReport send_http(const EventSource& source, const SendOptions& options);

// Keeps a sender at `rate` events per second (no-op when 0) by sleeping ahead of schedule.
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  void wait(int64_t sent) const {
    if (rate_ <= 0) return;
    auto due = start_ + std::chrono::duration<double>(static_cast<double>(sent) / rate_);
    if (due > std::chrono::steady_clock::now()) std::this_thread::sleep_until(due);
  }

 private:
  double rate_;
  std::chrono::steady_clock::time_point start_;
};

// Milliseconds since the epoch (event times) and seconds since `start` (reports).
int64_t now_ms();
double seconds_since(std::chrono::steady_clock::time_point start);

// Connects a socket of `type` (SOCK_DGRAM or SOCK_STREAM) to HOST:PORT or a Unix path;
// exits the process with a message when it cannot, since a benchmark cannot go on without it.
int connect_to(Transport transport, const std::string& target);

}  // namespace meterd::bench
