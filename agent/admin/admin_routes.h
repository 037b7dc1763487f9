// AdminRoutes: what each admin path answers (agent/admin/PROTOCOL.md), apart from the socket
// handling in admin_listener.cc so it is tested without one.
//
// Threading: the admin thread only (it owns the snapshot collector).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "agent/admin/agent_metrics.h"
#include "agent/admin/agent_snapshot.h"

namespace meterd {

using AdminRequest = boost::beast::http::request<boost::beast::http::string_body>;
using AdminResponse = boost::beast::http::response<boost::beast::http::string_body>;

class AdminRoutes {
 public:
  explicit AdminRoutes(const AdminSources& sources) : collector_(sources), metrics_(collector_) {}

  AdminResponse answer(const AdminRequest& request);

 private:
  SnapshotCollector collector_;
  AgentMetrics metrics_;
};

}  // namespace meterd
