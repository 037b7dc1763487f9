// The uplink's dead-letter loop steps: unsent letters → RecordProducer → delivery reports →
// Store::mark_dead_letters_sent (see dead_letter_sender.h). The windows' steps, in
// kafka_forwarder.cc, call these once a turn; the two share the producer and nothing else.
#include "uplink/dead_letter_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "buffer/base/clock.h"
#include "uplink/dead_letter_encoder.h"

namespace meterd {

Status DeadLetterSender::open(const std::string& buffer_path, std::string agent_id, Store& store,
                              DeadLetterOptions options, std::unique_ptr<DeadLetterSender>* out) {
  std::unique_ptr<DeadLetterSender> sender(
      new DeadLetterSender(std::move(agent_id), store, options));
  if (Status s = DeadLetterReader::open(buffer_path, options.max_raw_bytes, &sender->reader_);
      !s) {
    return s;
  }
  *out = std::move(sender);
  return Status::ok();
}

void DeadLetterSender::produce(RecordProducer& producer, UplinkStats* stats) {
  produce_due_retries(producer, stats);
  produce_new_letters(producer, stats);
}

void DeadLetterSender::produce_due_retries(RecordProducer& producer, UplinkStats* stats) {
  auto now = std::chrono::steady_clock::now();
  while (!retries_.empty() && retries_.front().first <= now) {
    UnsentDeadLetter letter;
    bool found = false;
    if (Status s = reader_->read_one(retries_.front().second, &letter, &found); !s) {
      warn("reading dead letter " + std::to_string(retries_.front().second) + ": " + s.message());
      return;
    }
    // Not found: evicted past the limit since, and no longer to be sent.
    if (found && !produce_one(producer, letter, stats)) return;
    retries_.pop_front();
  }
}

void DeadLetterSender::produce_new_letters(RecordProducer& producer, UplinkStats* stats) {
  // Asked before reading: letters committed after this read bump it, and are read next time.
  uint64_t version = store_.dead_letter_version();
  auto now = std::chrono::steady_clock::now();
  if (drained_ && version == drained_version_ && now < reread_at_) return;
  drained_ = false;
  while (static_cast<int>(in_flight_.size()) < options_.max_in_flight) {
    int room = options_.max_in_flight - static_cast<int>(in_flight_.size());
    if (Status s = reader_->read_after(cursor_, std::min(room, options_.read_batch),
                                       &read_letters_);
        !s) {
      warn("reading dead letters: " + s.message());
      return;
    }
    if (read_letters_.empty()) {
      drained_ = true;
      drained_version_ = version;
      reread_at_ = now + kIdleReread;
      return;
    }
    for (const UnsentDeadLetter& letter : read_letters_) {
      if (!produce_one(producer, letter, stats)) return;  // queue full: from here next turn
      cursor_ = letter.id;
    }
  }
}

bool DeadLetterSender::produce_one(RecordProducer& producer, const UnsentDeadLetter& letter,
                                   UplinkStats* stats) {
  encode_dead_letter(agent_id_, store_.buffer_id(), letter, &record_);
  key_ = dead_letter_key(store_.buffer_id(), letter.id);
  switch (producer.produce(RecordKind::kDeadLetter, key_, record_, letter.id, &produce_error_)) {
    case ProduceOutcome::kQueued:
      in_flight_.insert(letter.id);
      ++stats->dead_letters_produced;
      return true;
    case ProduceOutcome::kQueueFull:
      return false;
    case ProduceOutcome::kRefused:
      warn("producing dead letter " + std::to_string(letter.id) + ": " + produce_error_);
      stats->last_error = produce_error_;
      retries_.emplace_back(std::chrono::steady_clock::now() + options_.retry_backoff, letter.id);
      return true;
  }
  return true;
}

void DeadLetterSender::handle_report(const DeliveryReport& report, UplinkStats* stats) {
  if (in_flight_.erase(report.seq) == 0) return;  // from a producer already replaced
  if (report.delivered) {
    confirmed_.push_back(report.seq);
    ++stats->dead_letters_delivered;
    return;
  }
  stats->last_error = report.error;
  warn("delivery of dead letter " + std::to_string(report.seq) + " failed, will retry: " +
       report.error);
  retries_.emplace_back(std::chrono::steady_clock::now() + options_.retry_backoff, report.seq);
}

void DeadLetterSender::flush_confirmed() {
  // Marked sent by the store at its next commit: only after the broker's acknowledgement.
  if (confirmed_.empty()) return;
  store_.mark_dead_letters_sent(confirmed_);
  confirmed_.clear();
}

void DeadLetterSender::requeue_in_flight() {
  auto now = std::chrono::steady_clock::now();
  for (int64_t id : in_flight_) retries_.emplace_back(now, id);
  in_flight_.clear();
}

void DeadLetterSender::warn(const std::string& message) {
  if (uint64_t suppressed = 0; warnings_.allow(steady_clock_ms(), &suppressed)) {
    spdlog::warn("uplink: {}{}", message, suppressed_note(suppressed));
  }
}

}  // namespace meterd
