// The librdkafka side of the uplink: configuration, produce, delivery callbacks, fatal errors.
//
// Kept apart from the forwarder so that only this file speaks librdkafka's C API: the forwarder's
// delivery logic sees RecordProducer, and its unit tests run without a broker.
#include "uplink/kafka_producer.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "buffer/base/clock.h"

namespace meterd {
namespace {

// The opaque a record carries to its delivery report: its seq and its kind in the lowest bit
// (seqs and dead letter ids are positive and far below 2^62).
void* record_opaque(RecordKind kind, int64_t seq) {
  uint64_t tagged = (static_cast<uint64_t>(seq) << 1) | (kind == RecordKind::kDeadLetter ? 1 : 0);
  return reinterpret_cast<void*>(static_cast<uintptr_t>(tagged));
}

void read_opaque(void* opaque, RecordKind* kind, int64_t* seq) {
  auto tagged = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(opaque));
  *kind = (tagged & 1) ? RecordKind::kDeadLetter : RecordKind::kWindow;
  *seq = static_cast<int64_t>(tagged >> 1);
}

// Whether librdkafka's statistics (its JSON, `brokers` → each broker's `state`) show a broker
// with an open connection; false when the document cannot be read.
bool read_brokers_up(std::string_view json, bool* up) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object brokers;
  if (parser.iterate(padded).get(doc) || doc["brokers"].get_object().get(brokers)) return false;
  bool any_up = false;
  for (auto field : brokers) {
    simdjson::ondemand::object broker;
    std::string_view state;
    if (field.value().get_object().get(broker) || broker["state"].get_string().get(state)) {
      return false;
    }
    // UPDATE: a connected broker whose metadata is being refreshed.
    any_up = any_up || state == "UP" || state == "UPDATE";
  }
  *up = any_up;
  return true;
}

// librdkafka logs through our logger, so the agent's log has one format. Its syslog levels map
// onto spdlog's; connection failures during an outage arrive as errors and are worth seeing.
void log_to_spdlog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  auto spd_level = level <= 3   ? spdlog::level::err
                   : level == 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  spdlog::log(spd_level, "kafka {}: {}", facility, message);
}

// Sets every property on `conf`, or says which one librdkafka refused.
Status set_properties(const KafkaProducerOptions& options, rd_kafka_conf_t* conf) {
  char error[512];
  auto set = [&](const std::string& name, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      return Status::error(fmt::format("kafka property {}={}: {}", name, value, error));
    }
    return Status::ok();
  };
  // Our defaults first, so the user's `properties` can override any of them, except the two
  // that the delivery guarantee rests on, which are set last.
  Status s = set("bootstrap.servers", options.brokers);
  if (s) s = set("linger.ms", "20");
  if (s) s = set("message.timeout.ms", "60000");
  // librdkafka's default queue holds up to 1 GiB of records; meterd's are ~400 bytes (50,000 in
  // flight take ~20 MB), but a UNIQUE_COUNT record may take 256 KiB. A sidecar stays small:
  // a full queue is QUEUE_FULL, and the row is produced again after the next poll.
  if (s) s = set("queue.buffering.max.kbytes", "65536");
  // The statistics say, each second, which brokers are connected (meterd_broker_connected).
  if (s) s = set("statistics.interval.ms", "1000");
  for (const auto& [name, value] : options.properties) {
    if (s) s = set(name, value);
  }
  if (s) s = set("enable.idempotence", "true");
  if (s) s = set("acks", "all");
  return s;
}

}  // namespace

void KafkaProducer::HandleDeleter::operator()(rd_kafka_t* rk) const {
  // Unconfirmed messages are dropped here on purpose: their rows are still in the buffer.
  rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk, 0);
  rd_kafka_destroy(rk);
}

Status KafkaProducer::create(const KafkaProducerOptions& options,
                             std::unique_ptr<RecordProducer>* out) {
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer(options));
  if (Status s = producer->make_handle(options); !s) return s;
  *out = std::move(producer);
  return Status::ok();
}

Status KafkaProducer::make_handle(const KafkaProducerOptions& options) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (Status s = set_properties(options, conf); !s) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::on_delivery);
  rd_kafka_conf_set_log_cb(conf, &log_to_spdlog);
  rd_kafka_conf_set_stats_cb(conf, &KafkaProducer::on_statistics);
  rd_kafka_conf_set_error_cb(conf, &KafkaProducer::on_error);
  rd_kafka_conf_set_opaque(conf, this);
  char error[512];
  // On success rd_kafka_new owns `conf`; on failure it is still ours.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::error(fmt::format("creating kafka producer: {}", error));
  }
  handle_.reset(rk);
  return Status::ok();
}

ProduceOutcome KafkaProducer::produce(RecordKind kind, std::string_view key,
                                      std::string_view payload, int64_t seq, std::string* error) {
  const std::string& topic = kind == RecordKind::kDeadLetter ? dead_letter_topic_ : topic_;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      handle_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(record_opaque(kind, seq)),
      RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return ProduceOutcome::kQueued;
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return ProduceOutcome::kQueueFull;
  // Not retriable by librdkafka (e.g. the topic is unknown).
  *error = rd_kafka_err2str(err);
  return ProduceOutcome::kRefused;
}

void KafkaProducer::poll(std::chrono::milliseconds timeout, std::vector<DeliveryReport>* reports) {
  reports_ = reports;
  rd_kafka_poll(handle_.get(), static_cast<int>(timeout.count()));
  reports_ = nullptr;
}

bool KafkaProducer::failed(std::string* reason) {
  char text[512];
  if (rd_kafka_fatal_error(handle_.get(), text, sizeof(text)) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  *reason = text;
  return true;
}

void KafkaProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (self->reports_ == nullptr) return;  // purged as the handle is destroyed
  DeliveryReport& report = self->reports_->emplace_back();
  read_opaque(message->_private, &report.kind, &report.seq);
  report.delivered = message->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!report.delivered) report.error = rd_kafka_err2str(message->err);
  // A confirmation is the surest sign a broker is up, sooner than the next statistics.
  if (report.delivered) self->broker_.connected = true;
}

BrokerState KafkaProducer::take_broker_state() {
  BrokerState state = broker_;
  broker_.error.clear();
  return state;
}

int KafkaProducer::on_statistics(rd_kafka_t*, char* json, size_t json_len, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  bool up = false;
  if (read_brokers_up(std::string_view(json, json_len), &up)) self->broker_.connected = up;
  return 0;  // librdkafka frees `json`
}

// With an error callback set, librdkafka no longer logs these errors itself: logged here, through
// a limiter (an outage repeats them every reconnect).
void KafkaProducer::on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->broker_.connected = false;
  self->broker_.error = fmt::format("{}: {}", rd_kafka_err2name(code), reason);
  if (uint64_t suppressed = 0; self->error_log_.allow(steady_clock_ms(), &suppressed)) {
    spdlog::warn("kafka: {}{}", self->broker_.error, suppressed_note(suppressed));
  }
}

}  // namespace meterd
