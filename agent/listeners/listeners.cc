// Opening and closing the configured transports (see listeners.h).
#include "agent/listeners/listeners.h"

#include <spdlog/spdlog.h>

namespace meterd {

Status Listeners::open(const ListenerConfig& config, boost::asio::io_context& io,
                       PayloadSink& sink, Durability& durability) {
  if (config.udp) {
    udp_ = std::make_unique<UdpListener>(io, sink);
    if (Status s = udp_->open(*config.udp, config.receive_buffer_bytes); !s) return s;
    udp_->start();
    spdlog::info("listening for UDP events on {}:{}", config.udp->host, udp_->port());
  }
  if (!config.unix_datagram.empty()) {
    unix_datagram_ = std::make_unique<UnixDatagramListener>(io, sink);
    if (Status s = unix_datagram_->open(config.unix_datagram, config); !s) return s;
    unix_datagram_->start();
    spdlog::info("listening for Unix datagram events on {}", config.unix_datagram);
  }
  if (!config.unix_stream.empty()) {
    unix_stream_ = std::make_unique<UnixStreamListener>(io, sink, durability);
    if (Status s = unix_stream_->open(config.unix_stream, config); !s) return s;
    unix_stream_->start();
    spdlog::info("listening for Unix stream events on {}", config.unix_stream);
  }
  if (config.http) {
    http_ = std::make_unique<HttpListener>(io, sink, durability);
    HttpLimits limits{config.http_max_body_bytes, config.idle_timeout_ms};
    if (Status s = http_->open(*config.http, limits); !s) return s;
    http_->start();
    spdlog::info("listening for HTTP events on http://{}:{}/api/v1/events", config.http->host,
                 http_->port());
  }
  return Status::ok();
}

namespace {

void log_datagram_counters(const char* name, const DatagramReceiver& receiver) {
  spdlog::info("{}: {} datagrams received, {} dropped by the kernel (receive buffer full), {} "
               "over 64 KiB", name, receiver.datagrams(), receiver.kernel_drops(),
               receiver.oversized());
}

}  // namespace

void Listeners::close() {
  if (udp_) {
    udp_->close();
    log_datagram_counters("udp", udp_->receiver());
  }
  if (unix_datagram_) {
    unix_datagram_->close();
    log_datagram_counters("unix_datagram", unix_datagram_->receiver());
  }
  if (unix_stream_) unix_stream_->close();
  if (http_) http_->close();
}

}  // namespace meterd
