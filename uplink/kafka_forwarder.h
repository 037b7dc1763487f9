// KafkaForwarder: sends outbox rows to Kafka and reports the confirmed ones back to the store.
//
// Threading: start() runs one uplink thread that owns the producer (a RecordProducer, librdkafka's
// KafkaProducer in the agent) and an OutboxReader. It produces rows in seq order (at most
// `max_in_flight` unconfirmed at a time), polls delivery reports, hands successful seqs to
// Store::mark_delivered() (the store deletes them at its next commit) and re-produces failed ones
// after a back-off, for as long as it takes: a row leaves the buffer only after the broker
// confirmed it. The idempotent producer (enable.idempotence=true) avoids duplicates within a
// session; the idempotency key makes the resends after a restart or a producer reset harmless.
//
// Dead letters go out through the same producer to their own topic (DeadLetterSender, with its own
// in-flight bound), and are marked sent by the store only after their confirmation.
//
// Statistics (UplinkStats) are kept by the uplink thread and published once a turn of its loop;
// stats() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "buffer/base/log_limiter.h"
#include "buffer/base/published.h"
#include "buffer/base/status.h"
#include "buffer/store/outbox_reader.h"
#include "buffer/store/store.h"
#include "uplink/dead_letter_sender.h"
#include "uplink/record_producer.h"
#include "uplink/uplink_stats.h"

namespace meterd {

struct ForwarderOptions {
  // For the KafkaProducer that create() without a factory makes.
  std::string brokers;
  std::string topic;
  std::string dead_letter_topic = "meter-dead-letters";
  std::map<std::string, std::string> properties;  // passed to librdkafka as they are
  int max_in_flight = 50'000;
  int read_batch = 2'000;
  std::chrono::milliseconds retry_backoff{1000};
  DeadLetterOptions dead_letters;  // its retry_backoff is set to the one above
};

class KafkaForwarder {
 public:
  // Sends through a KafkaProducer made from `options`. `store` must outlive the forwarder.
  static Status create(ForwarderOptions options, std::string agent_id,
                       const std::string& buffer_path, Store& store,
                       std::unique_ptr<KafkaForwarder>* out);
  // Sends through the producers `make_producer` makes (one now, another after one failed).
  static Status create(ForwarderOptions options, std::string agent_id,
                       const std::string& buffer_path, Store& store, ProducerFactory make_producer,
                       std::unique_ptr<KafkaForwarder>* out);
  ~KafkaForwarder();
  KafkaForwarder(const KafkaForwarder&) = delete;
  KafkaForwarder& operator=(const KafkaForwarder&) = delete;

  void start();
  // Stops the thread. Unconfirmed rows stay in the buffer for the next start.
  void stop();

  // One turn of the uplink thread's loop: due retries, new rows, delivery reports, a failed
  // producer replaced. Tests call it instead of start(), from one thread, to step it.
  void run_once();

  // Any thread: the statistics as of the loop's last turn.
  UplinkStats stats() const { return published_stats_.get(); }

 private:
  KafkaForwarder(ForwarderOptions options, std::string agent_id, Store& store,
                 ProducerFactory make_producer)
      : options_(std::move(options)),
        agent_id_(std::move(agent_id)),
        store_(store),
        make_producer_(std::move(make_producer)) {}
  void produce_new_rows();
  void produce_due_retries();
  // False when the producer's queue is full and the row must wait.
  bool produce(const OutboxRow& row);
  void handle_delivery_reports();
  void replace_failed_producer(const std::string& reason);
  void publish_stats();

  ForwarderOptions options_;
  std::string agent_id_;
  Store& store_;
  ProducerFactory make_producer_;
  std::unique_ptr<OutboxReader> reader_;
  std::unique_ptr<DeadLetterSender> dead_letters_;
  std::unique_ptr<RecordProducer> producer_;
  std::thread thread_;
  // An outbox read that found nothing is not repeated until the store reports new rows
  // (Store::outbox_version) or kIdleReread passed: an idle agent then costs one futex wait per
  // poll, not a SQLite query twenty times a second.
  static constexpr std::chrono::seconds kIdleReread{1};
  bool outbox_drained_ = false;
  uint64_t drained_version_ = 0;
  std::chrono::steady_clock::time_point reread_at_;
  std::atomic<bool> stopping_{false};

  // Uplink thread only.
  int64_t cursor_ = 0;  // every row up to here was produced at least once
  // Unconfirmed seqs, with when they were produced (the delivery latency).
  std::unordered_map<int64_t, std::chrono::steady_clock::time_point> in_flight_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> retries_;
  std::vector<DeliveryReport> reports_;  // filled by poll, reused turn after turn
  std::vector<int64_t> confirmed_;
  std::vector<OutboxRow> read_rows_;  // reused batch after batch, so reading allocates little
  std::string encode_buffer_;
  std::string produce_error_;
  // Warnings the loop repeats (every row fails alike in an outage): a few, then one per 10 s.
  LogLimiter delivery_warnings_{10'000, 3};
  LogLimiter produce_warnings_{10'000, 3};
  UplinkStats stats_;
  Published<UplinkStats> published_stats_;  // stats_ as of the last turn, for any thread
};

}  // namespace meterd
