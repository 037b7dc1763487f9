// RecordProducer: the seam between the forwarder's delivery logic and the Kafka client.
//
// The forwarder decides what to send, when to send it again and when a row may leave the buffer;
// a RecordProducer only moves bytes to the broker and says, later, whether each one arrived.
// KafkaProducer (kafka_producer.h) implements it with librdkafka; unit tests replace it with a
// fake, so the forwarder's guarantees are tested without a broker.
//
// Threading: one thread (the uplink thread) makes every call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/base/status.h"

namespace meterd {

// Which topic a record goes to: a window record (an outbox row, `kafka.topic`) or a dead letter
// (`kafka.dead_letter_topic`). Their ids are counted apart (an outbox seq, a dead letter id), so a
// delivery report carries the kind as well as the id.
enum class RecordKind { kWindow, kDeadLetter };

// What became of a produced record: `seq` and `kind` are the ones given to produce(); `error`
// says why delivery failed and is empty when `delivered`.
struct DeliveryReport {
  int64_t seq = 0;
  bool delivered = false;
  std::string error;
  RecordKind kind = RecordKind::kWindow;
};

// The brokers as the client sees them: whether at least one is up, and the newest error the
// client reported about them (a connection refused, every broker down), empty when none came
// since the last look.
struct BrokerState {
  bool connected = false;
  std::string error;
};

enum class ProduceOutcome {
  kQueued,     // a delivery report for it will come from poll()
  kQueueFull,  // not taken: the client's queue is full; produce it again after a poll()
  kRefused,    // not taken, and the client will not take it as it is (`error` says why)
};

class RecordProducer {
 public:
  virtual ~RecordProducer() = default;

  // Hands one record for `kind`'s topic to the client, which copies `key` and `payload`. Every
  // record queued gets exactly one DeliveryReport carrying `kind` and `seq` (non-negative), unless
  // the producer is destroyed first.
  virtual ProduceOutcome produce(RecordKind kind, std::string_view key, std::string_view payload,
                                 int64_t seq, std::string* error) = 0;

  // Waits up to `timeout` for delivery reports and appends those that arrived to `reports`.
  virtual void poll(std::chrono::milliseconds timeout, std::vector<DeliveryReport>* reports) = 0;

  // True once the producer can deliver nothing more and must be replaced; `reason` says why.
  // Records it still holds get no reports: their rows are still in the buffer.
  virtual bool failed(std::string* reason) = 0;

  // The brokers' state as of the last poll(), for the uplink's statistics; takes the error, so
  // each is reported once.
  virtual BrokerState take_broker_state() = 0;
};

// Makes a producer: once when the forwarder is created, again after one failed.
using ProducerFactory = std::function<Status(std::unique_ptr<RecordProducer>* out)>;

}  // namespace meterd
