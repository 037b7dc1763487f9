// loadgen: meterd's load generator. Sends `--events` CloudEvents over one transport, in one
// format, `--per-payload` events per datagram, line or request, at `--rate` events/s (0: as fast
// as it can), then prints one JSON line describing what it sent (and what was acknowledged)
// and, with `--totals FILE`, writes the totals meterd must arrive at: events and token sums per
// meter, per model, and the number of distinct series.
//
//   loadgen --transport udp --target 127.0.0.1:7701 --events 1000000 --per-payload 20
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_set>

#include "tests/bench/senders.h"

using namespace meterd::bench;

namespace {

void write_totals(const EventSource& source, int64_t events, const std::string& path) {
  int64_t tokens = 0;
  std::map<int64_t, std::pair<int64_t, int64_t>> by_model;  // model -> (events, tokens)
  std::unordered_set<int64_t> series;  // tokens_total series: (subject, model, region)
  for (int64_t i = 0; i < events; ++i) {
    int64_t t = EventSource::tokens_of(i);
    tokens += t;
    auto& model = by_model[source.group_of(i)];
    ++model.first;
    model.second += t;
    series.insert((source.subject_of(i) * source.shape().groups + source.group_of(i)) * 2 + i % 2);
  }
  std::ofstream out(path);
  out << "{\"events\":" << events << ",\"tokens_total\":{\"events\":" << events
      << ",\"sum\":" << tokens << "},\"prompts\":{\"events\":" << events << ",\"sum\":" << events
      << "},\"subjects\":" << std::min(events, source.shape().subjects)
      << ",\"series\":" << series.size() + std::min(events, source.shape().subjects)
      << ",\"by_model\":{";
  bool first = true;
  for (const auto& [model, sums] : by_model) {
    out << (first ? "" : ",") << "\"model-" << model << "\":{\"events\":" << sums.first
        << ",\"tokens\":" << sums.second << "}";
    first = false;
  }
  out << "}}\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadgen: meterd's load generator"};
  SendOptions options;
  EventShape shape;
  std::string transport = "udp", format = "json", totals;
  app.add_option("--transport", transport, "udp, unix-datagram, unix-stream or http")
      ->check(CLI::IsMember({"udp", "unix-datagram", "unix-stream", "http"}));
  app.add_option("--target", options.target, "HOST:PORT or socket path")->required();
  app.add_option("--events", options.events, "events to send");
  app.add_option("--per-payload", options.per_payload, "events per datagram, line or request")
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", options.rate, "events per second (0: full speed)");
  app.add_option("--format", format, "json or msgpack")->check(CLI::IsMember({"json", "msgpack"}));
  app.add_option("--subjects", shape.subjects, "distinct subjects")->check(CLI::PositiveNumber);
  app.add_option("--groups", shape.groups, "distinct model values")->check(CLI::PositiveNumber);
  app.add_option("--connections", options.connections, "HTTP connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--window", options.window, "unacknowledged stream lines at most");
  app.add_option("--run-id", shape.run_id, "prefix of event ids (unique per run)");
  app.add_option("--totals", totals, "write the expected totals (JSON) here");
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, Transport> transports = {{"udp", Transport::kUdp},
                                                       {"unix-datagram", Transport::kUnixDatagram},
                                                       {"unix-stream", Transport::kUnixStream},
                                                       {"http", Transport::kHttp}};
  options.transport = transports.at(transport);
  EventSource source(shape, format == "json" ? Format::kJson : Format::kMsgpack);
  if (options.transport == Transport::kUnixStream && source.format() == Format::kMsgpack) {
    std::fprintf(stderr, "loadgen: the Unix stream carries JSON lines only\n");
    return 2;
  }
  SendReport report;
  switch (options.transport) {
    case Transport::kUdp:
    case Transport::kUnixDatagram: report = send_datagrams(source, options); break;
    case Transport::kUnixStream: report = send_stream(source, options); break;
    case Transport::kHttp: report = send_http(source, options); break;
  }
  std::printf(
      "{\"events\":%lld,\"payloads\":%lld,\"bytes\":%lld,\"send_errors\":%lld,"
      "\"acknowledged\":%lld,\"rejected\":%lld,\"seconds\":%.6f}\n",
      static_cast<long long>(report.events), static_cast<long long>(report.payloads),
      static_cast<long long>(report.bytes), static_cast<long long>(report.send_errors),
      static_cast<long long>(report.acknowledged), static_cast<long long>(report.rejected),
      report.seconds);
  if (!totals.empty()) write_totals(source, report.events, totals);
  return report.send_errors == 0 ? 0 : 1;
}
