// meterctl: the command-line companion of meterd.
//
//   meterctl send [--udp HOST:PORT | --unix-datagram PATH | --unix-stream PATH | --http URL] [FILE]
//   meterctl dlq list (--config FILE | --buffer PATH) [--limit N]
//   meterctl status [--json] [--config FILE] [--admin HOST:PORT] [--buffer PATH] [--interval S]
//   meterctl top [--config FILE] [--admin HOST:PORT]
//
// Every failure ends in one line on stderr and a non-zero exit, never an uncaught exception.
#include <CLI/CLI.hpp>
#include <exception>
#include <fstream>
#include <iostream>

#include "agent/config/config.h"
#include "agent/ctl/ctl_dlq.h"
#include "agent/ctl/ctl_send.h"
#include "agent/ctl/ctl_status.h"
#include "agent/ctl/ctl_top.h"

using namespace meterd;

namespace {

struct Commands {
  CLI::App* send = nullptr;
  SendOptions send_options;
  std::string file = "-";

  CLI::App* dlq_list = nullptr;
  std::string config_path, buffer_path;
  int limit = 20;

  CLI::App* status = nullptr;
  StatusOptions status_options;

  CLI::App* top = nullptr;
  TopOptions top_options;
};

void add_target_options(CLI::App* command, TargetOptions* target, bool with_buffer) {
  command->add_option("--config", target->config_path, "meterd's config (listeners.admin)");
  command->add_option("--admin", target->admin, "HOST:PORT of meterd's admin listener");
  if (with_buffer) {
    command->add_option("--buffer", target->buffer_path, "the buffer, read when meterd is down");
  }
}

void add_send(CLI::App& app, Commands* c) {
  c->send = app.add_subcommand("send", "send events (one per line) to meterd");
  auto* transports = c->send->add_option_group("transport");
  transports->add_option("--udp", c->send_options.udp, "HOST:PORT");
  transports->add_option("--unix-datagram", c->send_options.unix_datagram, "socket path");
  transports->add_option("--unix-stream", c->send_options.unix_stream,
                         "socket path (acknowledged)");
  transports->add_option("--http", c->send_options.http, "http://HOST:PORT (acknowledged)");
  transports->require_option(1);
  c->send->add_option("--batch", c->send_options.batch, "events per HTTP request")
      ->check(CLI::Range(1, 100000));
  c->send->add_option("file", c->file, "file of events, one per line ('-': stdin)");
}

void add_dlq(CLI::App& app, Commands* c) {
  CLI::App* dlq = app.add_subcommand("dlq", "dead letters");
  dlq->require_subcommand(1);
  c->dlq_list = dlq->add_subcommand("list", "show the newest dead letters");
  c->dlq_list->add_option("--config", c->config_path, "meterd's config (for its buffer path)");
  c->dlq_list->add_option("--buffer", c->buffer_path, "the buffer file");
  c->dlq_list->add_option("--limit", c->limit, "how many")->check(CLI::PositiveNumber);
}

void add_status_and_top(CLI::App& app, Commands* c) {
  c->status = app.add_subcommand("status",
                                 "is meterd healthy? (exit 0 healthy, 1 degraded, 2 down)");
  add_target_options(c->status, &c->status_options.target, /*with_buffer=*/true);
  c->status->add_flag("--json", c->status_options.json, "one JSON object");
  c->status->add_option("--interval", c->status_options.interval_s,
                        "seconds between the two reads (rates)")
      ->check(CLI::Range(0.1, 60.0));
  c->top = app.add_subcommand("top", "a live view of meterd (q or Ctrl-C quits)");
  add_target_options(c->top, &c->top_options.target, /*with_buffer=*/false);
}

int run_send(const Commands& c) {
  if (c.file == "-") return send_events(c.send_options, std::cin);
  std::ifstream input(c.file);
  if (!input) {
    std::cerr << "meterctl: cannot read " << c.file << "\n";
    return 2;
  }
  return send_events(c.send_options, input);
}

int run_dlq_list(const Commands& c) {
  std::string buffer_path = c.buffer_path;
  if (buffer_path.empty()) {
    if (c.config_path.empty()) {
      std::cerr << "meterctl dlq list: give --config FILE or --buffer PATH\n";
      return 2;
    }
    Config config;
    std::vector<std::string> errors;
    if (!load_config_file(c.config_path, &config, &errors)) {
      for (const auto& e : errors) std::cerr << e << "\n";
      return 2;
    }
    buffer_path = config.buffer.path;
  }
  return list_dead_letters(buffer_path, c.limit, std::cout);
}

int run(const Commands& c) {
  if (*c.send) return run_send(c);
  if (*c.status) return run_status(c.status_options, std::cout, std::cerr);
  if (*c.top) return run_top(c.top_options);
  return run_dlq_list(c);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meterctl: send events to meterd, see how it is doing, inspect its buffer"};
  app.require_subcommand(1);
  Commands commands;
  add_send(app, &commands);
  add_dlq(app, &commands);
  add_status_and_top(app, &commands);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(commands);
  } catch (const std::exception& e) {
    std::cerr << "meterctl: " << e.what() << "\n";
    return 2;
  }
}
