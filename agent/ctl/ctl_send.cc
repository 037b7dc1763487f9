// The transports of `meterctl send` (see ctl_send.h). Synchronous Boost.Asio and Beast: a
// command-line client has nothing else to do while it waits.
#include "agent/ctl/ctl_send.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <vector>

namespace meterd {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::vector<std::string> read_lines(std::istream& input) {
  std::vector<std::string> lines;
  for (std::string line; std::getline(input, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

bool split_host_port(const std::string& text, std::string* host, std::string* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  return !host->empty() && !port->empty();
}

// One event a datagram; nothing comes back, so all there is to report is how many went out.
template <typename Socket, typename Endpoint>
int send_datagrams(Socket& socket, const Endpoint& endpoint, const std::vector<std::string>& lines,
                   const char* transport) {
  for (const auto& line : lines) socket.send_to(asio::buffer(line), endpoint);
  std::cout << "sent " << lines.size() << " events (" << transport << ": not acknowledged)\n";
  return 0;
}

int send_udp(const std::string& address, const std::vector<std::string>& lines) {
  std::string host, port;
  if (!split_host_port(address, &host, &port)) {
    std::cerr << "meterctl: --udp takes HOST:PORT\n";
    return 2;
  }
  asio::io_context io;
  auto endpoint = *asio::ip::udp::resolver(io).resolve(host, port).begin();
  asio::ip::udp::socket socket(io, endpoint.endpoint().protocol());
  return send_datagrams(socket, endpoint.endpoint(), lines, "UDP");
}

int send_unix_datagram(const std::string& path, const std::vector<std::string>& lines) {
  asio::io_context io;
  asio::local::datagram_protocol::socket socket(io);
  socket.open();
  return send_datagrams(socket, asio::local::datagram_protocol::endpoint(path), lines,
                        "Unix datagram");
}

int send_unix_stream(const std::string& path, const std::vector<std::string>& lines) {
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  socket.connect(asio::local::stream_protocol::endpoint(path));
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  asio::write(socket, asio::buffer(all));
  socket.shutdown(asio::socket_base::shutdown_send);
  asio::streambuf replies;
  uint64_t acked = 0;
  int errors = 0;
  boost::system::error_code ec;
  while (acked < lines.size()) {
    asio::read_until(socket, replies, '\n', ec);
    if (ec) break;
    std::istream reply(&replies);
    std::string line;
    std::getline(reply, line);
    if (line.rfind("ack ", 0) == 0) {
      acked = std::stoull(line.substr(4));
    } else {
      ++errors;
      std::cerr << line << "\n";
    }
  }
  if (acked < lines.size()) {
    std::cerr << "meterctl: connection closed after " << acked << " of " << lines.size()
              << " lines were acknowledged; resend the rest\n";
    return 1;
  }
  std::cout << "sent " << lines.size() << " lines, all durable (" << errors << " refused)\n";
  return errors ? 1 : 0;
}

int send_http(const std::string& url, const std::vector<std::string>& lines, int batch) {
  std::string rest = url.rfind("http://", 0) == 0 ? url.substr(7) : url;
  rest = rest.substr(0, rest.find('/'));
  std::string host, port;
  if (!split_host_port(rest, &host, &port)) {
    std::cerr << "meterctl: --http takes http://HOST:PORT\n";
    return 2;
  }
  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(asio::ip::tcp::resolver(io).resolve(host, port));
  int failed = 0;
  for (size_t start = 0; start < lines.size(); start += batch) {
    size_t end = std::min(lines.size(), start + batch);
    std::string body = "[";
    for (size_t i = start; i < end; ++i) body += (i > start ? "," : "") + lines[i];
    body += "]";
    http::request<http::string_body> request(http::verb::post, "/api/v1/events", 11);
    request.set(http::field::host, rest);
    request.set(http::field::content_type, "application/cloudevents-batch+json");
    request.body() = std::move(body);
    request.prepare_payload();
    http::write(stream, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    if (response.result() != http::status::no_content) {
      ++failed;
      std::cerr << "events " << start << ".." << end - 1 << ": HTTP " << response.result_int()
                << " " << response.body() << "\n";
    }
  }
  std::cout << "sent " << lines.size() << " events over HTTP"
            << (failed ? ", some refused (see above)" : ", all durable") << "\n";
  return failed ? 1 : 0;
}

}  // namespace

int send_events(const SendOptions& options, std::istream& input) {
  std::vector<std::string> lines = read_lines(input);
  const std::string& target = !options.udp.empty()             ? options.udp
                              : !options.unix_datagram.empty() ? options.unix_datagram
                              : !options.unix_stream.empty()   ? options.unix_stream
                                                               : options.http;
  try {
    if (!options.udp.empty()) return send_udp(options.udp, lines);
    if (!options.unix_datagram.empty()) return send_unix_datagram(options.unix_datagram, lines);
    if (!options.unix_stream.empty()) return send_unix_stream(options.unix_stream, lines);
    if (!options.http.empty()) return send_http(options.http, lines, options.batch);
  } catch (const boost::system::system_error& e) {
    // A socket error is almost always "meterd is not running there": say so, not errno alone.
    std::cerr << "meterctl: cannot reach meterd at " << target << ": " << e.code().message()
              << " (is meterd running, with a listener on this address?)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "meterctl: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "meterctl send: choose a transport: --udp, --unix-datagram, --unix-stream or "
               "--http\n";
  return 2;
}

}  // namespace meterd
