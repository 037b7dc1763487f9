// The Unix stream acceptor (see unix_stream_listener.h).
#include "agent/listeners/unix_stream_listener.h"

#include <unistd.h>

#include <fmt/format.h>

#include "agent/listeners/stream_connection.h"
#include "agent/listeners/unix_socket_path.h"

namespace meterd {

namespace asio = boost::asio;

UnixStreamListener::UnixStreamListener(asio::io_context& io, PayloadSink& sink,
                                       Durability& durability, const ListenerConfig& options)
    : acceptor_(io), sink_(sink), durability_(durability), options_(options) {}

Status UnixStreamListener::open() {
  const std::string& path = options_.unix_stream;
  if (Status s = prepare_socket_path(path); !s) return s;
  boost::system::error_code ec;
  asio::local::stream_protocol::endpoint endpoint(path);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::error(fmt::format("unix stream listener: {}: {}", path, ec.message()));
  bound_path_ = path;
  return apply_socket_permissions(path, options_.unix_mode, options_.unix_group);
}

std::string UnixStreamListener::description() const {
  return fmt::format("Unix stream events on {}", options_.unix_stream);
}

void UnixStreamListener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec,
                                asio::local::stream_protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto connection = std::make_shared<StreamConnection>(std::move(socket), sink_, durability_,
                                                           options_.stream_max_line_bytes);
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
  if (!bound_path_.empty()) unlink(bound_path_.c_str());
  for (const auto& weak : connections_) {
    if (auto connection = weak.lock()) connection->stop_reading();
  }
}

}  // namespace meterd
