// The admin HTTP client (see admin_client.h). Boost.Beast does the HTTP; the deadline is the
// tcp_stream's timer, which bounds asynchronous operations only, so the exchange runs as a
// chain of asynchronous steps on a private io_context that this call runs to completion.
#include "agent/ctl/admin_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>

namespace meterd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// meterd's /status is a few kilobytes; anything far larger is not meterd.
constexpr uint64_t kMaxBody = 4 << 20;

class GetExchange {
 public:
  GetExchange(asio::io_context& io, const AdminAddress& address, const std::string& path)
      : stream_(io), request_(http::verb::get, path, 11) {
    request_.set(http::field::host, address.host);
    request_.set(http::field::user_agent, "meterctl");
    request_.set(http::field::connection, "close");
    parser_.body_limit(kMaxBody);
  }

  void start(const tcp::resolver::results_type& endpoints, std::chrono::milliseconds timeout) {
    stream_.expires_after(timeout);  // one deadline for connect, write and read together
    stream_.async_connect(endpoints, [this](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return fail(ec);
      http::async_write(stream_, request_, [this](beast::error_code ec, size_t) {
        if (ec) return fail(ec);
        http::async_read(stream_, buffer_, parser_, [this](beast::error_code ec, size_t) {
          if (ec) return fail(ec);
          reply_.outcome = AdminReply::Outcome::kAnswered;
          reply_.http_status = static_cast<int>(parser_.get().result_int());
          reply_.body = std::move(parser_.get().body());
          beast::error_code ignored;
          stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        });
      });
    });
  }

  AdminReply take() { return std::move(reply_); }

 private:
  void fail(beast::error_code ec) {
    if (ec == asio::error::connection_refused) {
      reply_.outcome = AdminReply::Outcome::kRefused;
      reply_.error = "connection refused";
    } else if (ec == beast::error::timeout) {
      reply_.error = "no answer in time";
    } else if (ec.category() == beast::error_code(http::error::bad_version).category() ||
               ec == http::error::end_of_stream) {
      reply_.error = "its answer is not HTTP (" + ec.message() + ")";
    } else {
      reply_.error = ec.message();
    }
  }

  beast::tcp_stream stream_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  AdminReply reply_;
};

}  // namespace

bool parse_admin_address(const std::string& text, AdminAddress* out) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5) return false;
  out->host = host;
  out->port = port;
  return true;
}

AdminReply admin_get(const AdminAddress& address, const std::string& path,
                     std::chrono::milliseconds timeout) {
  AdminReply reply;
  try {
    asio::io_context io;
    beast::error_code ec;
    // Name resolution is not under the stream's timer; admin addresses are numeric or
    // localhost, answered from /etc/hosts.
    auto endpoints = tcp::resolver(io).resolve(address.host, address.port, ec);
    if (ec) {
      reply.error = "cannot resolve " + address.host + ": " + ec.message();
      return reply;
    }
    GetExchange exchange(io, address, path);
    exchange.start(endpoints, timeout);
    io.run();
    return exchange.take();
  } catch (const std::exception& e) {  // allocation, or Asio's rare throwing paths
    reply.outcome = AdminReply::Outcome::kUnreachable;
    reply.error = e.what();
    return reply;
  }
}

}  // namespace meterd
