// The admin HTTP server (see admin_listener.h): Beast reads and writes the messages; each
// connection is a small session object kept alive by its pending operation.
#include "agent/admin/admin_listener.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>

#include "agent/listeners/tcp_acceptor.h"

namespace meterd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::chrono::seconds kRequestDeadline{10};

}  // namespace

class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(asio::ip::tcp::socket socket, AdminRoutes& routes)
      : stream_(std::move(socket)), routes_(routes) {}

  void read_request() {
    request_ = {};
    stream_.expires_after(kRequestDeadline);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->respond();
                     });
  }

  // Also how the listener evicts the oldest connection when it is at its cap: the pending read
  // ends with an error and the session goes.
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    stream_.close();
  }

 private:
  void respond() {
    response_ = routes_.answer(request_);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) return self->close();
                        self->read_request();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{8192};
  AdminRequest request_;
  AdminResponse response_;
  AdminRoutes& routes_;
};

AdminListener::AdminListener(Endpoint endpoint, const AdminSources& sources)
    : endpoint_(std::move(endpoint)),
      acceptor_(io_),
      routes_(sources) {}

AdminListener::~AdminListener() { stop(); }

Status AdminListener::open() {
  return open_tcp_acceptor(acceptor_, endpoint_, "admin listener",
                           "anyone who can reach it can read meterd's metrics and status");
}

uint16_t AdminListener::port() const { return acceptor_.local_endpoint().port(); }

void AdminListener::start() {
  accept_next();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "admin");
    io_.run();
  });
  spdlog::info("admin endpoints on http://{}:{}/ (metrics, healthz, readyz, status)",
               endpoint_.host, port());
}

void AdminListener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto session = std::make_shared<AdminSession>(std::move(socket), routes_);
      make_room();
      sessions_.push_back(session);
      session->read_request();
    }
    accept_next();
  });
}

void AdminListener::make_room() {
  while (!sessions_.empty() && sessions_.front().expired()) sessions_.pop_front();
  // At the cap the oldest connection goes, not the new one: idle clients holding every slot
  // must not lock a probe out, and descriptors stay bounded either way.
  while (sessions_.size() >= kMaxConnections) {
    if (auto oldest = sessions_.front().lock()) oldest->close();
    sessions_.pop_front();
  }
}

void AdminListener::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  io_.stop();
  thread_.join();
}

}  // namespace meterd
