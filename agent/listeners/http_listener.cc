// The HTTP acceptor (see http_listener.h).
#include "agent/listeners/http_listener.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

#include "agent/listeners/http_session.h"
#include "agent/listeners/tcp_acceptor.h"

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
  return open_tcp_acceptor(acceptor_, endpoint_, "http listener",
                           "anyone who can reach it can send usage");
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
