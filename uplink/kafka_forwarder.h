// KafkaForwarder: sends outbox rows to Kafka and reports the confirmed ones back to the store.
//
// Threading: start() runs one uplink thread that owns the librdkafka producer and an
// OutboxReader. It produces rows in seq order (at most `max_in_flight` unconfirmed at a time),
// polls delivery reports, hands successful seqs to Store::mark_delivered() (the store deletes
// them at its next commit) and re-produces failed ones after a back-off, for as long as it takes:
// a row leaves the buffer only after the broker confirmed it. The idempotent producer
// (enable.idempotence=true) avoids duplicates within a session; the idempotency key makes the
// resends after a restart or a producer reset harmless.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "buffer/store/outbox_reader.h"
#include "buffer/base/status.h"
#include "buffer/store/store.h"

namespace meterd {

struct ForwarderOptions {
  std::string brokers;
  std::string topic;
  std::map<std::string, std::string> properties;  // passed to librdkafka as they are
  int max_in_flight = 50'000;
  int read_batch = 2'000;
  std::chrono::milliseconds retry_backoff{1000};
};

class KafkaForwarder {
 public:
  // `store` must outlive the forwarder.
  static Status create(ForwarderOptions options, std::string agent_id, const std::string& buffer_path,
                       Store& store, std::unique_ptr<KafkaForwarder>* out);
  ~KafkaForwarder();
  KafkaForwarder(const KafkaForwarder&) = delete;
  KafkaForwarder& operator=(const KafkaForwarder&) = delete;

  void start();
  // Stops the thread. Unconfirmed rows stay in the buffer for the next start.
  void stop();

  int64_t rows_confirmed() const { return rows_confirmed_.load(); }
  int64_t delivery_failures() const { return delivery_failures_.load(); }

 private:
  struct ProducerDeleter {
    void operator()(rd_kafka_t* rk) const;
  };
  using Producer = std::unique_ptr<rd_kafka_t, ProducerDeleter>;

  KafkaForwarder(ForwarderOptions options, std::string agent_id, Store& store)
      : options_(std::move(options)), agent_id_(std::move(agent_id)), store_(store) {}
  Status make_producer();
  void run();
  void produce_new_rows();
  void produce_due_retries();
  // False when librdkafka's queue is full and the row must wait.
  bool produce(const OutboxRow& row);
  void handle_fatal_error();
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  ForwarderOptions options_;
  std::string agent_id_;
  Store& store_;
  std::unique_ptr<OutboxReader> reader_;
  Producer producer_;
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
  std::unordered_set<int64_t> in_flight_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> retries_;
  std::vector<int64_t> confirmed_;  // filled by on_delivery during poll
  std::vector<OutboxRow> read_rows_;  // reused batch after batch, so reading allocates little
  std::string encode_buffer_;
  std::chrono::steady_clock::time_point last_error_log_{};

  std::atomic<int64_t> rows_confirmed_{0};
  std::atomic<int64_t> delivery_failures_{0};
};

}  // namespace meterd
