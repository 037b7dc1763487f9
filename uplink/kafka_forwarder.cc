// The uplink loop: outbox → librdkafka → delivery reports → Store::mark_delivered.
#include "uplink/kafka_forwarder.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "uplink/record_encoder.h"

namespace meterd {
namespace {

// librdkafka logs through our logger, so the agent's log has one format. Its syslog levels map
// onto spdlog's; connection failures during an outage arrive as errors and are worth seeing.
void log_to_spdlog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  auto spd_level = level <= 3   ? spdlog::level::err
                   : level == 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  spdlog::log(spd_level, "kafka {}: {}", facility, message);
}

}  // namespace

void KafkaForwarder::ProducerDeleter::operator()(rd_kafka_t* rk) const {
  // Unconfirmed messages are dropped here on purpose: their rows are still in the buffer.
  rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk, 0);
  rd_kafka_destroy(rk);
}

Status KafkaForwarder::create(ForwarderOptions options, std::string agent_id,
                              const std::string& buffer_path, Store& store,
                              std::unique_ptr<KafkaForwarder>* out) {
  std::unique_ptr<KafkaForwarder> forwarder(
      new KafkaForwarder(std::move(options), std::move(agent_id), store));
  if (Status s = OutboxReader::open(buffer_path, &forwarder->reader_); !s) return s;
  if (Status s = forwarder->make_producer(); !s) return s;
  *out = std::move(forwarder);
  return Status::ok();
}

KafkaForwarder::~KafkaForwarder() { stop(); }

Status KafkaForwarder::make_producer() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
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
  Status s = set("bootstrap.servers", options_.brokers);
  if (s) s = set("linger.ms", "20");
  if (s) s = set("message.timeout.ms", "60000");
  // librdkafka's default queue holds up to 1 GiB of records; meterd's are ~400 bytes (50,000 in
  // flight take ~20 MB), but a UNIQUE_COUNT record may take 256 KiB. A sidecar stays small:
  // a full queue is QUEUE_FULL, and the row is produced again after the next poll.
  if (s) s = set("queue.buffering.max.kbytes", "65536");
  for (const auto& [name, value] : options_.properties) {
    if (s) s = set(name, value);
  }
  if (s) s = set("enable.idempotence", "true");
  if (s) s = set("acks", "all");
  if (!s) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaForwarder::on_delivery);
  rd_kafka_conf_set_log_cb(conf, &log_to_spdlog);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::error(fmt::format("creating kafka producer: {}", error));
  }
  producer_.reset(rk);
  return Status::ok();
}

void KafkaForwarder::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "uplink");
    run();
  });
}

void KafkaForwarder::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void KafkaForwarder::run() {
  while (!stopping_) {
    produce_due_retries();
    produce_new_rows();
    // Idle (nothing in flight, the outbox drained): a longer wait, since nothing can arrive
    // but new rows, which wait for it (a window closes a grace after its end anyway).
    bool idle = in_flight_.empty() && retries_.empty() && outbox_drained_;
    rd_kafka_poll(producer_.get(), idle ? 250 : 50);
    if (!confirmed_.empty()) {
      store_.mark_delivered(confirmed_);
      rows_confirmed_ += static_cast<int64_t>(confirmed_.size());
      confirmed_.clear();
    }
    if (rd_kafka_fatal_error(producer_.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      handle_fatal_error();
    }
  }
}

void KafkaForwarder::produce_new_rows() {
  // Asked before reading: rows committed after this read bump it, and are read next time.
  uint64_t version = store_.outbox_version();
  auto now = std::chrono::steady_clock::now();
  if (outbox_drained_ && version == drained_version_ && now < reread_at_) return;
  outbox_drained_ = false;
  while (!stopping_ && static_cast<int>(in_flight_.size()) < options_.max_in_flight) {
    std::vector<OutboxRow>& rows = read_rows_;
    int room = options_.max_in_flight - static_cast<int>(in_flight_.size());
    Status s;
    // Reading claims the rows: from here on they may be in flight, and coarsening leaves them be.
    store_.claim_outbox_rows([&] {
      s = reader_->read_after(cursor_, std::min(room, options_.read_batch), &rows);
      return rows.empty() ? cursor_ : rows.back().seq;
    });
    if (!s) {
      spdlog::error("uplink: reading the outbox: {}", s.message());
      return;
    }
    if (rows.empty()) {
      outbox_drained_ = true;
      drained_version_ = version;
      reread_at_ = now + kIdleReread;
      return;
    }
    for (const OutboxRow& row : rows) {
      if (!produce(row)) return;  // queue full: continue from here after the next poll
      cursor_ = row.seq;
    }
  }
}

void KafkaForwarder::produce_due_retries() {
  auto now = std::chrono::steady_clock::now();
  while (!retries_.empty() && retries_.front().first <= now && !stopping_) {
    int64_t seq = retries_.front().second;
    OutboxRow row;
    bool found = false;
    if (Status s = reader_->read_one(seq, &row, &found); !s) {
      spdlog::error("uplink: reading outbox row {}: {}", seq, s.message());
      return;
    }
    if (found && !produce(row)) return;
    retries_.pop_front();
  }
}

bool KafkaForwarder::produce(const OutboxRow& row) {
  encode_record(agent_id_, row, &encode_buffer_);
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(options_.topic.c_str()),
      RD_KAFKA_V_KEY(row.idempotency_key.data(), row.idempotency_key.size()),
      RD_KAFKA_V_VALUE(encode_buffer_.data(), encode_buffer_.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(row.seq))),
      RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not retriable by librdkafka (e.g. the topic is unknown): keep the row and try later.
    spdlog::warn("uplink: producing outbox row {}: {}", row.seq, rd_kafka_err2str(err));
    retries_.emplace_back(std::chrono::steady_clock::now() + options_.retry_backoff, row.seq);
    return true;
  }
  in_flight_.insert(row.seq);
  return true;
}

void KafkaForwarder::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<KafkaForwarder*>(opaque);
  auto seq = static_cast<int64_t>(reinterpret_cast<intptr_t>(message->_private));
  if (self->in_flight_.erase(seq) == 0) return;  // from a producer we already reset
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->confirmed_.push_back(seq);
    return;
  }
  ++self->delivery_failures_;
  auto now = std::chrono::steady_clock::now();
  if (now - self->last_error_log_ > std::chrono::seconds(5)) {
    spdlog::warn("uplink: delivery of outbox row {} failed, will retry: {}", seq,
                 rd_kafka_err2str(message->err));
    self->last_error_log_ = now;
  }
  self->retries_.emplace_back(now + self->options_.retry_backoff, seq);
}

void KafkaForwarder::handle_fatal_error() {
  char reason[512];
  rd_kafka_fatal_error(producer_.get(), reason, sizeof(reason));
  spdlog::error("uplink: fatal producer error ({}); starting a new producer", reason);
  // Everything unconfirmed goes out again from the new producer; the keys make repeats harmless.
  std::vector<int64_t> unconfirmed(in_flight_.begin(), in_flight_.end());
  in_flight_.clear();
  producer_.reset();
  auto now = std::chrono::steady_clock::now();
  for (int64_t seq : unconfirmed) retries_.emplace_back(now, seq);
  while (!stopping_) {
    if (Status s = make_producer(); s) return;
    else spdlog::error("uplink: {}", s.message());
    std::this_thread::sleep_for(options_.retry_backoff);
  }
}

}  // namespace meterd
