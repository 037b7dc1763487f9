// UnixStreamListener: newline-delimited events on a Unix stream socket, with durable
// acknowledgements (the protocol is written down in agent/PROTOCOL.md).
//
// Each connection reads lines, hands each to the PayloadSink as an acknowledged payload, answers
// an invalid line at once with "error <line> <reason>", and after every commit that made some of
// its lines durable writes "ack <line>": every line up to that number is settled (durable, or
// answered with an error). Clients resend what was not acknowledged; the store's dedup by
// (source, id, time) makes the resend harmless. Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <memory>
#include <set>
#include <string>

#include "agent/config/listener_config.h"
#include "agent/ingest/durability.h"
#include "agent/ingest/payload_sink.h"
#include "agent/listeners/listener.h"
#include "buffer/base/status.h"

namespace meterd {

class StreamConnection;

class UnixStreamListener : public Listener {
 public:
  // Listens on `options.unix_stream` with the mode, group and line bound of `options`.
  UnixStreamListener(boost::asio::io_context& io, PayloadSink& sink, Durability& durability,
                     const ListenerConfig& options);
  Status open() override;
  void start() override { accept_next(); }
  // Stops accepting and reading; connections still write the acks of what they already read.
  void close() override;
  std::string description() const override;

 private:
  void accept_next();

  boost::asio::local::stream_protocol::acceptor acceptor_;
  PayloadSink& sink_;
  Durability& durability_;
  const ListenerConfig options_;
  std::string bound_path_;  // set once bound: the socket file close() removes
  std::set<std::weak_ptr<StreamConnection>, std::owner_less<>> connections_;
};

}  // namespace meterd
