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

// What became of a produced record: `seq` is the one given to produce(); `error` says why
// delivery failed and is empty when `delivered`.
struct DeliveryReport {
  int64_t seq = 0;
  bool delivered = false;
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

  // Hands one record to the client, which copies `key` and `payload`. Every record queued gets
  // exactly one DeliveryReport carrying `seq`, unless the producer is destroyed first.
  virtual ProduceOutcome produce(std::string_view key, std::string_view payload, int64_t seq,
                                 std::string* error) = 0;

  // Waits up to `timeout` for delivery reports and appends those that arrived to `reports`.
  virtual void poll(std::chrono::milliseconds timeout, std::vector<DeliveryReport>* reports) = 0;

  // True once the producer can deliver nothing more and must be replaced; `reason` says why.
  // Records it still holds get no reports: their rows are still in the buffer.
  virtual bool failed(std::string* reason) = 0;
};

// Makes a producer: once when the forwarder is created, again after one failed.
using ProducerFactory = std::function<Status(std::unique_ptr<RecordProducer>* out)>;

}  // namespace meterd
