// meterctl: the command-line companion of meterd.
//
//   meterctl send [--udp HOST:PORT | --unix-datagram PATH | --unix-stream PATH | --http URL] [FILE]
//   meterctl dlq list (--config FILE | --buffer PATH) [--limit N]
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "agent/config/config.h"
#include "agent/ctl/ctl_dlq.h"
#include "agent/ctl/ctl_send.h"

using namespace meterd;

int main(int argc, char** argv) {
  CLI::App app{"meterctl: send events to meterd and inspect its buffer"};
  app.require_subcommand(1);

  SendOptions send;
  std::string file = "-";
  CLI::App* send_command = app.add_subcommand("send", "send events (one per line) to meterd");
  auto* transports = send_command->add_option_group("transport");
  transports->add_option("--udp", send.udp, "HOST:PORT");
  transports->add_option("--unix-datagram", send.unix_datagram, "socket path");
  transports->add_option("--unix-stream", send.unix_stream, "socket path (acknowledged)");
  transports->add_option("--http", send.http, "http://HOST:PORT (acknowledged)");
  transports->require_option(1);
  send_command->add_option("--batch", send.batch, "events per HTTP request")->check(CLI::Range(1, 100000));
  send_command->add_option("file", file, "file of events, one per line ('-': stdin)");

  std::string config_path, buffer_path;
  int limit = 20;
  CLI::App* dlq = app.add_subcommand("dlq", "dead letters");
  dlq->require_subcommand(1);
  CLI::App* list = dlq->add_subcommand("list", "show the newest dead letters");
  list->add_option("--config", config_path, "meterd's config (for its buffer path)");
  list->add_option("--buffer", buffer_path, "the buffer file");
  list->add_option("--limit", limit, "how many")->check(CLI::PositiveNumber);

  CLI11_PARSE(app, argc, argv);

  if (*send_command) {
    if (file == "-") return send_events(send, std::cin);
    std::ifstream input(file);
    if (!input) {
      std::cerr << "meterctl: cannot read " << file << "\n";
      return 2;
    }
    return send_events(send, input);
  }
  if (buffer_path.empty()) {
    if (config_path.empty()) {
      std::cerr << "meterctl dlq list: give --config FILE or --buffer PATH\n";
      return 2;
    }
    Config config;
    std::vector<std::string> errors;
    if (!load_config_file(config_path, &config, &errors)) {
      for (const auto& e : errors) std::cerr << e << "\n";
      return 2;
    }
    buffer_path = config.buffer.path;
  }
  return list_dead_letters(buffer_path, limit, std::cout);
}
