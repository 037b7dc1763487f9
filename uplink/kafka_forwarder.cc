// The uplink loop: outbox → RecordProducer → delivery reports → Store::mark_delivered.
//
// Every guarantee the uplink gives is decided here, not in the Kafka client: rows go out in seq
// order with a bound on those unconfirmed, a failed row is produced again after a back-off for as
// long as it takes, and only a successful delivery report lets the store delete a row.
#include "uplink/kafka_forwarder.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "buffer/base/clock.h"
#include "uplink/kafka_producer.h"
#include "uplink/record_encoder.h"

namespace meterd {

Status KafkaForwarder::create(ForwarderOptions options, std::string agent_id,
                              const std::string& buffer_path, Store& store,
                              std::unique_ptr<KafkaForwarder>* out) {
  KafkaProducerOptions kafka{options.brokers, options.topic, options.dead_letter_topic,
                             options.properties};
  ProducerFactory make_kafka_producer = [kafka](std::unique_ptr<RecordProducer>* producer) {
    return KafkaProducer::create(kafka, producer);
  };
  return create(std::move(options), std::move(agent_id), buffer_path, store,
                std::move(make_kafka_producer), out);
}

Status KafkaForwarder::create(ForwarderOptions options, std::string agent_id,
                              const std::string& buffer_path, Store& store,
                              ProducerFactory make_producer, std::unique_ptr<KafkaForwarder>* out) {
  std::unique_ptr<KafkaForwarder> forwarder(
      new KafkaForwarder(std::move(options), std::move(agent_id), store, std::move(make_producer)));
  if (Status s = OutboxReader::open(buffer_path, &forwarder->reader_); !s) return s;
  DeadLetterOptions letters = forwarder->options_.dead_letters;
  letters.retry_backoff = forwarder->options_.retry_backoff;
  if (Status s = DeadLetterSender::open(buffer_path, forwarder->agent_id_, store, letters,
                                        &forwarder->dead_letters_);
      !s) {
    return s;
  }
  if (Status s = forwarder->make_producer_(&forwarder->producer_); !s) return s;
  *out = std::move(forwarder);
  return Status::ok();
}

KafkaForwarder::~KafkaForwarder() { stop(); }

void KafkaForwarder::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "uplink");
    while (!stopping_) run_once();
  });
}

void KafkaForwarder::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void KafkaForwarder::run_once() {
  produce_due_retries();
  produce_new_rows();
  if (!stopping_) dead_letters_->produce(*producer_, &stats_);
  // Idle (nothing in flight, the outbox drained): a longer wait, since nothing can arrive
  // but new rows, which wait for it (a window closes a grace after its end anyway).
  bool idle = in_flight_.empty() && retries_.empty() && outbox_drained_ && dead_letters_->idle();
  producer_->poll(std::chrono::milliseconds(idle ? 250 : 50), &reports_);
  handle_delivery_reports();
  if (std::string reason; producer_->failed(&reason)) replace_failed_producer(reason);
  publish_stats();
}

void KafkaForwarder::publish_stats() {
  BrokerState broker = producer_->take_broker_state();
  stats_.broker_connected = broker.connected;
  if (!broker.error.empty()) stats_.last_error = std::move(broker.error);
  stats_.last_tick_steady_ms = steady_clock_ms();
  published_stats_.set(stats_);
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
  switch (producer_->produce(RecordKind::kWindow, row.idempotency_key, encode_buffer_, row.seq,
                             &produce_error_)) {
    case ProduceOutcome::kQueued:
      in_flight_.emplace(row.seq, std::chrono::steady_clock::now());
      ++stats_.records_produced;
      return true;
    case ProduceOutcome::kQueueFull:
      return false;
    case ProduceOutcome::kRefused:
      // The client will not take it as it is (e.g. the topic is unknown): keep the row, try later.
      if (uint64_t suppressed = 0; produce_warnings_.allow(steady_clock_ms(), &suppressed)) {
        spdlog::warn("uplink: producing outbox row {}: {}{}", row.seq, produce_error_,
                     suppressed_note(suppressed));
      }
      ++stats_.delivery_errors;
      stats_.last_error = produce_error_;
      retries_.emplace_back(std::chrono::steady_clock::now() + options_.retry_backoff, row.seq);
      return true;
  }
  return true;
}

void KafkaForwarder::handle_delivery_reports() {
  auto now = std::chrono::steady_clock::now();
  for (const DeliveryReport& report : reports_) {
    if (report.kind == RecordKind::kDeadLetter) {
      dead_letters_->handle_report(report, &stats_);
      continue;
    }
    auto sent = in_flight_.find(report.seq);
    if (sent == in_flight_.end()) continue;  // from a producer we already replaced
    const std::chrono::duration<double> latency = now - sent->second;
    in_flight_.erase(sent);
    if (report.delivered) {
      confirmed_.push_back(report.seq);
      ++stats_.records_delivered;
      stats_.delivery_latency.observe(latency.count());
      stats_.last_delivery_unix_ms = wall_clock_ms();
      continue;
    }
    ++stats_.delivery_errors;
    stats_.last_error = report.error;
    if (uint64_t suppressed = 0; delivery_warnings_.allow(steady_clock_ms(), &suppressed)) {
      spdlog::warn("uplink: delivery of outbox row {} failed, will retry: {}{}", report.seq,
                   report.error, suppressed_note(suppressed));
    }
    retries_.emplace_back(now + options_.retry_backoff, report.seq);
  }
  reports_.clear();
  dead_letters_->flush_confirmed();
  // Deleted by the store at its next commit: only after the broker's acknowledgement.
  if (!confirmed_.empty()) {
    store_.mark_delivered(confirmed_);
    confirmed_.clear();
  }
}

void KafkaForwarder::replace_failed_producer(const std::string& reason) {
  spdlog::error("uplink: fatal producer error ({}); starting a new producer", reason);
  // Everything unconfirmed goes out again from the new producer; the keys make repeats harmless.
  std::vector<int64_t> unconfirmed;
  for (const auto& entry : in_flight_) unconfirmed.push_back(entry.first);
  in_flight_.clear();
  stats_.last_error = reason;
  dead_letters_->requeue_in_flight();
  producer_.reset();
  auto now = std::chrono::steady_clock::now();
  for (int64_t seq : unconfirmed) retries_.emplace_back(now, seq);
  while (!stopping_) {
    Status s = make_producer_(&producer_);
    if (s) return;
    spdlog::error("uplink: {}", s.message());
    std::this_thread::sleep_for(options_.retry_backoff);
  }
}

}  // namespace meterd
