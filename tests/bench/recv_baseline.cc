// recv_baseline: the floor meterd's datagram ingest is compared with. It receives on the same
// socket type, with the same receive buffer and the same recvmmsg batch (agent/listeners/receive_batch.h:
// 32 slots of 64 KiB) as agent/listeners/datagram_receiver.cc, and discards every datagram: what it costs
// per datagram is the kernel's share, which no agent can avoid (with --parse, that share plus
// simdjson's parse).
//
// --pause-us N pauses N µs after each drain, as meterd's UDP loop does
// (agent/listeners/coalescing_receive_loop.h), so that the two wake up equally often. --parse also parses
// each datagram with simdjson's DOM parser, as meterd does before anything else: the floor of
// any agent that reads its events with simdjson.
//
//   recv_baseline --transport udp|unix-datagram --listen 127.0.0.1:0|PATH [--pause-us N] [--parse]
// Prints `READY <port or path>` once bound; on SIGTERM prints one JSON line: datagrams, bytes,
// events parsed (with --parse), kernel drops (SO_MEMINFO) and its own CPU seconds, then exits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "agent/listeners/receive_batch.h"

namespace {

volatile std::sig_atomic_t stopping = 0;

constexpr int kBatch = 32;
constexpr size_t kSlot = 64 * 1024;

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int bind_socket(const std::string& transport, const std::string& where, std::string* bound) {
  int fd;
  if (transport == "udp") {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    size_t colon = where.rfind(':');
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::atoi(where.c_str() + colon + 1)));
    inet_pton(AF_INET, where.substr(0, colon).c_str(), &address.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return -1;
    socklen_t size = sizeof(address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    *bound = std::to_string(ntohs(address.sin_port));
  } else {
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", where.c_str());
    unlink(where.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return -1;
    *bound = where;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recv_baseline: a recvmmsg loop that discards"};
  std::string transport = "udp", listen = "127.0.0.1:0";
  int receive_buffer = 8 << 20;  // meterd's default listeners.receive_buffer
  app.add_option("--transport", transport)->check(CLI::IsMember({"udp", "unix-datagram"}));
  app.add_option("--listen", listen);
  app.add_option("--receive-buffer", receive_buffer);
  int pause_us = 0;
  bool parse = false;
  app.add_option("--pause-us", pause_us, "pause after each drain (meterd's UDP loop: 1000)");
  app.add_flag("--parse", parse, "parse each datagram with simdjson's DOM parser");
  CLI11_PARSE(app, argc, argv);

  std::string bound;
  int fd = bind_socket(transport, listen, &bound);
  if (fd < 0) {
    std::fprintf(stderr, "recv_baseline: bind %s: %s\n", listen.c_str(), std::strerror(errno));
    return 1;
  }
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof(receive_buffer));
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::printf("READY %s\n", bound.c_str());
  std::fflush(stdout);

  meterd::ReceiveBatch<kBatch> batch(kSlot, simdjson::SIMDJSON_PADDING);
  simdjson::dom::parser parser;
  long long datagrams = 0, bytes = 0, events = 0;
  uint32_t drops = 0;
  while (!stopping) {
    pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, 100) <= 0) continue;
    // Like meterd: receive until the socket would block, then wait again.
    for (int received = kBatch; received == kBatch;) {
      received = batch.receive(fd);
      for (int i = 0; i < received; ++i) {
        size_t length = batch.message(i).msg_len;
        bytes += static_cast<long long>(length);
        simdjson::dom::element root;
        if (parse && !parser.parse(batch.slot(i), length, false).get(root)) {
          simdjson::dom::array array;
          events += root.get_array().get(array) ? 1 : static_cast<long long>(array.size());
        }
      }
      if (received > 0) datagrams += received;
    }
    drops = meterd::socket_drops(fd, drops);
    if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
  std::printf("{\"datagrams\":%lld,\"bytes\":%lld,\"events\":%lld,\"kernel_drops\":%u,"
              "\"cpu_seconds\":%.6f}\n",
              datagrams, bytes, events, drops, cpu_seconds());
  if (transport != "udp") unlink(bound.c_str());
  return 0;
}
