// kafka_mock_broker: a Kafka-protocol broker for tests, built on librdkafka's in-process mock
// cluster. Integration and fault tests need a broker they can start in milliseconds, take down and
// bring back on command, and make fail in chosen ways; a real Kafka is too slow and too heavy for
// that. This program owns one mock cluster, announces where it listens, and then obeys a tiny
// line protocol on stdin so a test harness (tests/harness/broker.py) can drive it.
//
// Usage: kafka_mock_broker [--brokers N] [--topic NAME[:PARTITIONS]]...
//
// Protocol: one line `BOOTSTRAP host:port,...` on stdout at start, then one reply line, `ok` or
// `error <reason>`, per command read from stdin:
//   down | up              all brokers down / up
//   down ID | up ID        one broker (ids are 1..N)
//   topic NAME PARTITIONS  create another topic
//   error APIKEY ERRCODE COUNT   fail the next COUNT requests of that API key with ERRCODE
//   rtt ID MS              add MS milliseconds of round-trip time to broker ID
//   quit                   exit
// EOF on stdin, SIGTERM and SIGINT also exit cleanly with status 0. EOF matters most: when the test
// process dies, its end of the pipe closes and the broker goes away with it.
//
// The mock cluster of librdkafka 2.0.2 has no way to choose ports: every broker listens on an
// ephemeral port of 127.0.0.1, which is why the bootstrap list is printed rather than configured.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kDefaultBrokers = 3;
constexpr int kDefaultPartitions = 1;
constexpr int kMaxReplication = 3;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* mc) const { rd_kafka_mock_cluster_destroy(mc); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using MockCluster = std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter>;

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct TopicSpec {
  std::string name;
  int partitions;
};

struct Options {
  int brokers = kDefaultBrokers;
  std::vector<TopicSpec> topics;
};

template <typename Int>
std::optional<Int> parse_int(std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<TopicSpec> parse_topic_spec(std::string_view spec) {
  TopicSpec topic{std::string(spec), kDefaultPartitions};
  if (auto colon = spec.rfind(':'); colon != std::string_view::npos) {
    auto partitions = parse_int<int>(spec.substr(colon + 1));
    if (!partitions || *partitions < 1) return std::nullopt;
    topic = {std::string(spec.substr(0, colon)), *partitions};
  }
  if (topic.name.empty()) return std::nullopt;
  return topic;
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    bool known = arg == "--brokers" || arg == "--topic";
    if (!known || i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: kafka_mock_broker [--brokers N] [--topic NAME[:PARTITIONS]]...\n");
      return std::nullopt;
    }
    std::string_view value = argv[++i];
    if (arg == "--brokers") {
      auto brokers = parse_int<int>(value);
      if (!brokers || *brokers < 1) {
        std::fprintf(stderr, "kafka_mock_broker: bad --brokers %s\n", argv[i]);
        return std::nullopt;
      }
      options.brokers = *brokers;
    } else {
      auto topic = parse_topic_spec(value);
      if (!topic) {
        std::fprintf(stderr, "kafka_mock_broker: bad --topic %s\n", argv[i]);
        return std::nullopt;
      }
      options.topics.push_back(*topic);
    }
  }
  return options;
}

// The mock cluster needs an rd_kafka_t to live in; it never talks to a real broker. Its log lines
// go to stderr so stdout stays reserved for the protocol.
void log_to_stderr(const rd_kafka_t*, int level, const char* facility, const char* message) {
  std::fprintf(stderr, "kafka_mock_broker: rdkafka %d %s: %s\n", level, facility, message);
}

KafkaHandle make_host_handle() {
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), log_to_stderr);
  // Warnings and worse only: the handle's notice that it has no bootstrap.servers is expected.
  char errstr[512];
  if (rd_kafka_conf_set(conf.get(), "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
    std::fprintf(stderr, "kafka_mock_broker: %s\n", errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (!rk) {
    std::fprintf(stderr, "kafka_mock_broker: rd_kafka_new: %s\n", errstr);
    return nullptr;
  }
  conf.release();  // rd_kafka_new took ownership on success
  return KafkaHandle(rk);
}

// Executes the commands of the stdin protocol against one cluster.
class CommandRunner {
 public:
  CommandRunner(rd_kafka_mock_cluster_t* cluster, int brokers)
      : cluster_(cluster), brokers_(brokers) {}

  // Returns the reply line without its newline; sets quit when the command was `quit`.
  std::string run(const std::string& line, bool& quit) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string word; in >> word;) words.push_back(word);
    if (words.empty()) return "error empty command";
    const std::string& verb = words[0];
    if (verb == "quit" && words.size() == 1) {
      quit = true;
      return "ok";
    }
    if ((verb == "down" || verb == "up") && words.size() <= 2) return set_state(words);
    if (verb == "topic" && words.size() == 3) return create_topic(words[1], words[2]);
    if (verb == "error" && words.size() == 4) return push_errors(words[1], words[2], words[3]);
    if (verb == "rtt" && words.size() == 3) return set_rtt(words[1], words[2]);
    return "error unknown command or wrong arguments: " + line;
  }

 private:
  static std::string reply(rd_kafka_resp_err_t err) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return "ok";
    return std::string("error ") + rd_kafka_err2str(err);
  }

  std::optional<int32_t> broker_id(const std::string& text) const {
    auto id = parse_int<int32_t>(text);
    if (!id || *id < 1 || *id > brokers_) return std::nullopt;
    return id;
  }

  // Broker-wide "all" is done one id at a time: librdkafka 2.0.2 does not accept -1 here even
  // though later headers document it.
  std::string set_state(const std::vector<std::string>& words) {
    bool up = words[0] == "up";
    int32_t first = 1, last = brokers_;
    if (words.size() == 2) {
      auto id = broker_id(words[1]);
      if (!id) return "error no such broker: " + words[1];
      first = last = *id;
    }
    for (int32_t id = first; id <= last; ++id) {
      auto err = up ? rd_kafka_mock_broker_set_up(cluster_, id)
                    : rd_kafka_mock_broker_set_down(cluster_, id);
      if (err) return reply(err);
    }
    return "ok";
  }

  std::string create_topic(const std::string& name, const std::string& partitions_text) {
    auto partitions = parse_int<int>(partitions_text);
    if (!partitions || *partitions < 1) return "error bad partition count: " + partitions_text;
    return reply(rd_kafka_mock_topic_create(cluster_, name.c_str(), *partitions,
                                            std::min(kMaxReplication, brokers_)));
  }

  std::string push_errors(const std::string& api_text, const std::string& code_text,
                          const std::string& count_text) {
    auto api_key = parse_int<int16_t>(api_text);
    auto code = parse_int<int>(code_text);
    auto count = parse_int<size_t>(count_text);
    if (!api_key || *api_key < 0) return "error bad api key: " + api_text;
    if (!code) return "error bad error code: " + code_text;
    if (!count) return "error bad count: " + count_text;
    std::vector<rd_kafka_resp_err_t> errors(*count, static_cast<rd_kafka_resp_err_t>(*code));
    rd_kafka_mock_push_request_errors_array(cluster_, *api_key, errors.size(), errors.data());
    return "ok";
  }

  std::string set_rtt(const std::string& id_text, const std::string& ms_text) {
    auto id = broker_id(id_text);
    auto ms = parse_int<int>(ms_text);
    if (!id) return "error no such broker: " + id_text;
    if (!ms || *ms < 0) return "error bad rtt: " + ms_text;
    return reply(rd_kafka_mock_broker_set_rtt(cluster_, *id, *ms));
  }

  rd_kafka_mock_cluster_t* cluster_;
  int brokers_;
};

// Blocks SIGTERM and SIGINT in every thread (librdkafka's threads inherit the mask, so this must
// run before they start) and returns a signalfd that reports them, so the main loop can wait on
// stdin and signals with one poll() and shut the cluster down from normal code.
int block_exit_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) return -1;
  return signalfd(-1, &signals, SFD_CLOEXEC);
}

bool write_line(const std::string& line) {
  return std::fputs((line + "\n").c_str(), stdout) >= 0 && std::fflush(stdout) == 0;
}

// Reads stdin command lines until quit, EOF or a signal. Returns the process exit status.
int serve(CommandRunner& runner, int signal_fd) {
  std::string pending;
  char chunk[4096];
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("kafka_mock_broker: poll");
      return 1;
    }
    if (fds[1].revents & POLLIN) return 0;
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t got = read(STDIN_FILENO, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;  // EOF (or a broken stdin): the driver is gone
    pending.append(chunk, static_cast<size_t>(got));
    for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      bool quit = false;
      if (!write_line(runner.run(line, quit))) return 0;  // nobody reads replies any more
      if (quit) return 0;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) return 2;

  Fd signal_fd(block_exit_signals());
  if (signal_fd.get() < 0) {
    std::perror("kafka_mock_broker: signalfd");
    return 1;
  }

  KafkaHandle host = make_host_handle();
  if (!host) return 1;
  // Declared after host: the cluster must be destroyed before the handle it lives in.
  MockCluster cluster(rd_kafka_mock_cluster_new(host.get(), options->brokers));
  if (!cluster) {
    std::fprintf(stderr, "kafka_mock_broker: could not create the mock cluster\n");
    return 1;
  }

  int replication = std::min(kMaxReplication, options->brokers);
  for (const auto& topic : options->topics) {
    auto err = rd_kafka_mock_topic_create(cluster.get(), topic.name.c_str(), topic.partitions,
                                          replication);
    if (err) {
      std::fprintf(stderr, "kafka_mock_broker: topic %s: %s\n", topic.name.c_str(),
                   rd_kafka_err2str(err));
      return 1;
    }
  }

  if (!write_line(std::string("BOOTSTRAP ") + rd_kafka_mock_cluster_bootstraps(cluster.get())))
    return 1;

  CommandRunner runner(cluster.get(), options->brokers);
  return serve(runner, signal_fd.get());
}
