// AdminListener: the HTTP endpoint for operators and orchestrators (listeners.admin): /metrics,
// /healthz, /readyz and /status (agent/admin/PROTOCOL.md).
//
// It runs on a thread and io_context of its own, apart from the ingest listeners, so a flood of
// events cannot starve the probes, and a stalled ingest loop is reported rather than hidden.
// Requests are small and few (a scrape every few seconds): one connection at a time is served
// to completion, with a deadline, and at most kMaxConnections are open (a new one closes the
// oldest, so idle clients cannot lock the probes out).
//
// Threading: open() and start() on the main thread before the agent is announced ready; stop()
// on the main thread last, after the drain. The routes run on the admin thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "agent/admin/admin_routes.h"
#include "agent/config/listener_config.h"
#include "buffer/base/status.h"

namespace meterd {

class AdminSession;

class AdminListener {
 public:
  AdminListener(Endpoint endpoint, const AdminSources& sources);
  ~AdminListener();
  AdminListener(const AdminListener&) = delete;
  AdminListener& operator=(const AdminListener&) = delete;

  // Binds the port (a busy port is a start-up error); a non-loopback address is a warning.
  Status open();
  void start();
  void stop();
  uint16_t port() const;

  static constexpr size_t kMaxConnections = 64;

 private:
  void accept_next();
  void make_room();

  Endpoint endpoint_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  AdminRoutes routes_;
  std::deque<std::weak_ptr<AdminSession>> sessions_;  // oldest first; admin thread only
  std::thread thread_;
};

}  // namespace meterd
