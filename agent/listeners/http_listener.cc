// The HTTP acceptor (see http_listener.h).
#include "agent/listeners/http_listener.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

#include "agent/listeners/http_session.h"

namespace meterd {

namespace asio = boost::asio;

HttpListener::HttpListener(asio::io_context& io, PayloadSink& sink, Durability& durability,
                           Endpoint endpoint, const HttpLimits& limits)
    : acceptor_(io),
      sink_(sink),
      durability_(durability),
      endpoint_(std::move(endpoint)),
      limits_(limits) {}

Status HttpListener::open() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint_.host, ec);
  if (ec) return Status::error(fmt::format("http listener: bad address '{}'", endpoint_.host));
  asio::ip::tcp::endpoint local(address, endpoint_.port);
  acceptor_.open(local.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(local, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::error(fmt::format("http listener: {}:{}: {}", endpoint_.host, endpoint_.port,
                                     ec.message()));
  }
  if (!address.is_loopback()) {
    spdlog::warn("http listener on non-loopback address {}: anyone who can reach it can send usage",
                 endpoint_.host);
  }
  return Status::ok();
}

uint16_t HttpListener::port() const { return acceptor_.local_endpoint().port(); }

std::string HttpListener::description() const {
  return fmt::format("HTTP events on http://{}:{}/api/v1/events", endpoint_.host, port());
}

void HttpListener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<HttpSession>(std::move(socket), sink_, durability_, limits_)->start();
    accept_next();
  });
}

void HttpListener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

}  // namespace meterd
