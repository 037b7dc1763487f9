// DeadLetterSender: the uplink's dead-letter half. It sends every unsent dead letter of the
// buffer to `kafka.dead_letter_topic` as the record of FORMAT.md and has the store mark it sent
// once the broker confirmed it, so that the center sees every event an agent refused.
//
// The rules are the windows' (kafka_forwarder.h): letters go out in id order, at most
// `max_in_flight` unconfirmed (a bound of their own, so a flood of bad input never holds back
// window records), a failed or refused one is produced again after a back-off, for as long as it
// takes, and only a successful delivery report lets the store mark it sent
// (Store::mark_dead_letters_sent). Until then it is resent after any failure or restart; its key
// (buffer id and letter id) makes repeats recognisable. A letter evicted before it was confirmed
// (past `buffer.dead_letter_limit`) is simply not sent again.
//
// Threading: the uplink thread makes every call; the KafkaForwarder owns it and lends it the
// producer at each call.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "buffer/base/log_limiter.h"
#include "buffer/base/status.h"
#include "buffer/store/dead_letter_reader.h"
#include "buffer/store/store.h"
#include "uplink/record_producer.h"
#include "uplink/uplink_stats.h"

namespace meterd {

struct DeadLetterOptions {
  int max_in_flight = 1'000;
  int read_batch = 500;
  int64_t max_raw_bytes = 8 << 10;  // of the raw event in a record; raw_bytes says the whole
  std::chrono::milliseconds retry_backoff{1000};
};

class DeadLetterSender {
 public:
  // `store` must outlive the sender.
  static Status open(const std::string& buffer_path, std::string agent_id, Store& store,
                     DeadLetterOptions options, std::unique_ptr<DeadLetterSender>* out);

  // Produces the letters due again, then new ones, through `producer`, within the bound.
  void produce(RecordProducer& producer, UplinkStats* stats);
  // A delivery report of a dead-letter record (RecordKind::kDeadLetter).
  void handle_report(const DeliveryReport& report, UplinkStats* stats);
  // After a turn's reports: hands the confirmed ids to the store.
  void flush_confirmed();
  // The producer was replaced: every unconfirmed letter is due again at once.
  void requeue_in_flight();
  // Nothing in flight, nothing to retry, nothing new read last time.
  bool idle() const { return in_flight_.empty() && retries_.empty() && drained_; }

 private:
  DeadLetterSender(std::string agent_id, Store& store, DeadLetterOptions options)
      : agent_id_(std::move(agent_id)), store_(store), options_(options) {}
  void produce_due_retries(RecordProducer& producer, UplinkStats* stats);
  void produce_new_letters(RecordProducer& producer, UplinkStats* stats);
  // False when the producer's queue is full and the letter must wait.
  bool produce_one(RecordProducer& producer, const UnsentDeadLetter& letter, UplinkStats* stats);
  void warn(const std::string& message);

  std::string agent_id_;
  Store& store_;
  DeadLetterOptions options_;
  std::unique_ptr<DeadLetterReader> reader_;

  // A read that found nothing is not repeated until the store reports new letters or a second
  // passed (as the forwarder does for the outbox).
  static constexpr std::chrono::seconds kIdleReread{1};
  bool drained_ = false;
  uint64_t drained_version_ = 0;
  std::chrono::steady_clock::time_point reread_at_;

  int64_t cursor_ = 0;  // every letter up to here was produced at least once
  std::unordered_set<int64_t> in_flight_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> retries_;
  std::vector<int64_t> confirmed_;
  std::vector<UnsentDeadLetter> read_letters_;
  std::string record_, key_, produce_error_;
  // Every letter fails alike in an outage: a few lines, then one per 10 s.
  LogLimiter warnings_{10'000, 3};
};

}  // namespace meterd
