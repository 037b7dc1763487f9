// Choosing, opening and closing the configured transports (see listeners.h).
#include "agent/listeners/listeners.h"

#include <spdlog/spdlog.h>

#include "agent/listeners/http_listener.h"
#include "agent/listeners/udp_listener.h"
#include "agent/listeners/unix_datagram_listener.h"
#include "agent/listeners/unix_stream_listener.h"

namespace meterd {

namespace {

// The transports the config names, in the order they open and close.
std::vector<std::unique_ptr<Listener>> configured_listeners(const ListenerConfig& config,
                                                            boost::asio::io_context& io,
                                                            PayloadSink& sink,
                                                            Durability& durability) {
  std::vector<std::unique_ptr<Listener>> listeners;
  if (config.udp) {
    listeners.push_back(
        std::make_unique<UdpListener>(io, sink, *config.udp, config.receive_buffer_bytes));
  }
  if (!config.unix_datagram.empty()) {
    listeners.push_back(std::make_unique<UnixDatagramListener>(io, sink, config));
  }
  if (!config.unix_stream.empty()) {
    listeners.push_back(std::make_unique<UnixStreamListener>(io, sink, durability, config));
  }
  if (config.http) {
    HttpLimits limits{config.http_max_body_bytes, config.idle_timeout_ms};
    listeners.push_back(std::make_unique<HttpListener>(io, sink, durability, *config.http, limits));
  }
  return listeners;
}

}  // namespace

Status Listeners::open(const ListenerConfig& config, boost::asio::io_context& io,
                       PayloadSink& sink, Durability& durability) {
  for (auto& listener : configured_listeners(config, io, sink, durability)) {
    if (Status s = listener->open(); !s) return s;
    listener->start();
    spdlog::info("listening for {}", listener->description());
    open_.push_back(std::move(listener));
  }
  return Status::ok();
}

void Listeners::close() {
  for (auto& listener : open_) listener->close();
}

std::array<int64_t, kTransports> Listeners::kernel_drops() const {
  std::array<int64_t, kTransports> drops{};
  for (const auto& listener : open_) listener->add_kernel_drops(&drops);
  return drops;
}

}  // namespace meterd
