// Opening a TCP acceptor on a configured HOST:PORT, for the HTTP ingest listener and the admin
// listener alike: parse the address, bind with SO_REUSEADDR (a restart must not wait out
// TIME_WAIT), listen, and warn when the address is not loopback, since neither endpoint takes
// credentials.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string_view>

#include "agent/config/listener_config.h"
#include "buffer/base/status.h"

namespace meterd {

// `what` names the listener in errors ("http listener"); `exposure` ends the non-loopback
// warning ("anyone who can reach it can send usage").
Status open_tcp_acceptor(boost::asio::ip::tcp::acceptor& acceptor, const Endpoint& endpoint,
                         std::string_view what, std::string_view exposure);

}  // namespace meterd
