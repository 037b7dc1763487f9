// The Unix stream acceptor (see unix_stream_listener.h).
#include "agent/listeners/unix_stream_listener.h"

#include <unistd.h>

#include <fmt/format.h>

#include "agent/listeners/stream_connection.h"
#include "agent/listeners/unix_socket_path.h"

namespace meterd {

namespace asio = boost::asio;

UnixStreamListener::UnixStreamListener(asio::io_context& io, PayloadSink& sink,
                                       Durability& durability)
    : acceptor_(io), sink_(sink), durability_(durability) {}

Status UnixStreamListener::open(const std::string& path, const ListenerConfig& options) {
  if (Status s = prepare_socket_path(path); !s) return s;
  boost::system::error_code ec;
  asio::local::stream_protocol::endpoint endpoint(path);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::error(fmt::format("unix stream listener: {}: {}", path, ec.message()));
  path_ = path;
  max_line_bytes_ = options.stream_max_line_bytes;
  return apply_socket_permissions(path, options.unix_mode, options.unix_group);
}

void UnixStreamListener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec,
                                asio::local::stream_protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto connection = std::make_shared<StreamConnection>(std::move(socket), sink_, durability_,
                                                           max_line_bytes_);
      // Forget connections that already ended, so the set stays as large as the live ones.
      std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
      connections_.insert(connection);
      connection->start();
    }
    accept_next();
  });
}

void UnixStreamListener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  if (!path_.empty()) unlink(path_.c_str());
  for (const auto& weak : connections_) {
    if (auto connection = weak.lock()) connection->stop_reading();
  }
}

}  // namespace meterd
