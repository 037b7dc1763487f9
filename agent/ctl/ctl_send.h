// `meterctl send`: sends events (one per line) from a file or stdin over any meterd transport,
// so a user can try the agent in one line. Over the Unix stream and HTTP it waits for meterd's
// acknowledgement and reports every refused event; it exits non-zero if any was refused.
#pragma once

#include <istream>
#include <string>

namespace meterd {

struct SendOptions {
  std::string udp;            // HOST:PORT
  std::string unix_datagram;  // socket path
  std::string unix_stream;    // socket path
  std::string http;           // http://HOST:PORT (the path /api/v1/events is added)
  int batch = 500;            // events per HTTP request
};

// Returns the process exit code.
int send_events(const SendOptions& options, std::istream& input);

}  // namespace meterd
