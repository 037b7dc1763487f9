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
#include "buffer/base/status.h"

namespace meterd {

class UnixDatagramListener {
 public:
  UnixDatagramListener(boost::asio::io_context& io, PayloadSink& sink);
  Status open(const std::string& path, const ListenerConfig& options);
  void start() { receive_until_closed(socket_, receiver_); }
  void close();

  const DatagramReceiver& receiver() const { return receiver_; }

 private:
  boost::asio::local::datagram_protocol::socket socket_;
  DatagramReceiver receiver_;
  std::string path_;
};

}  // namespace meterd
