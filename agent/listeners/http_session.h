// HttpSession: one HTTP/1.1 connection of the ingest API (see http_listener.h for the contract).
// Owned by shared pointers held by its pending asynchronous operations.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>

#include "agent/ingest/durability.h"
#include "agent/ingest/payload_sink.h"
#include "agent/listeners/http_listener.h"

namespace meterd {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, PayloadSink& sink, Durability& durability,
              const HttpLimits& limits);
  void start() { read_request(); }

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void read_request();
  // A request that could not be read: answered when it was too large or malformed, else closed.
  void answer_read_error(boost::beast::error_code ec);
  void handle_request();
  void ingest(const Request& request);
  void respond(boost::beast::http::status status, std::string body = {},
               std::string_view content_type = {});
  void respond_buffer_full();
  void close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Response response_;
  PayloadSink& sink_;
  Durability& durability_;
  const HttpLimits limits_;
  bool keep_alive_ = false;
  bool response_retry_after_ = false;
};

}  // namespace meterd
