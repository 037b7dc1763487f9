// UnixDatagramListener: receives events on a Unix datagram socket.
//
// Fire-and-forget like UDP, but local to the host and guarded by file permissions (mode and
// group from the config). The socket file is removed again when the listener closes.
// Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/datagram_protocol.hpp>

#include <string>

#include "agent/config/listener_config.h"
#include "agent/listeners/datagram_receiver.h"
#include "agent/listeners/listener.h"
#include "buffer/base/status.h"

namespace meterd {

class UnixDatagramListener : public Listener {
 public:
  // Listens on `options.unix_datagram` with the mode, group and receive buffer of `options`.
  UnixDatagramListener(boost::asio::io_context& io, PayloadSink& sink,
                       const ListenerConfig& options);
  Status open() override;
  void start() override { receive_until_closed(socket_, receiver_); }
  // Takes what the kernel still holds, closes the socket, removes its file and logs the
  // datagram counters.
  void close() override;
  std::string description() const override;
  void add_kernel_drops(std::array<int64_t, kTransports>* by_transport) const override {
    (*by_transport)[static_cast<size_t>(Transport::kUnixDatagram)] += receiver_.kernel_drops();
  }

  const DatagramReceiver& receiver() const { return receiver_; }

 private:
  boost::asio::local::datagram_protocol::socket socket_;
  DatagramReceiver receiver_;
  const ListenerConfig options_;
  std::string bound_path_;  // set once bound: the socket file close() removes
};

}  // namespace meterd
