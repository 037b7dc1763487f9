// AdminClient: one HTTP GET to meterd's admin listener (agent/admin/PROTOCOL.md), the only way
// `meterctl status` and `meterctl top` talk to a running meterd.
//
// Each call is synchronous for its caller and bounded by a deadline: a meterd that accepts the
// connection but never answers (a stalled admin thread, another program on the port) costs the
// operator the timeout, not a hung terminal. The result says whether nothing listens at the
// address (meterd not running) apart from every other failure, because the two read differently.
#pragma once

#include <chrono>
#include <string>

namespace meterd {

struct AdminAddress {
  std::string host;
  std::string port;

  std::string text() const { return host + ":" + port; }
};

// "HOST:PORT" (a bracketed IPv6 host too); false if it is not of that shape.
bool parse_admin_address(const std::string& text, AdminAddress* out);

struct AdminReply {
  enum class Outcome {
    kAnswered,     // an HTTP response arrived: see http_status and body
    kRefused,      // nothing listens there: meterd is not running
    kUnreachable,  // any other failure: timeout, reset, not HTTP, unresolvable host
  };
  Outcome outcome = Outcome::kUnreachable;
  int http_status = 0;
  std::string body;
  std::string error;  // what went wrong, for kRefused and kUnreachable

  bool answered() const { return outcome == Outcome::kAnswered; }
};

// GETs `path` from `address` within `timeout` (connect, send and read together). Never throws.
AdminReply admin_get(const AdminAddress& address, const std::string& path,
                     std::chrono::milliseconds timeout);

}  // namespace meterd
