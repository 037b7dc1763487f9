// What the transport tests (http_session_test.cc, stream_connection_test.cc) share: a PayloadSink
// that records what a transport hands it and answers as the test chooses, and a way to run the
// io_context until something happened. The transports run on one thread, so the tests do too:
// the client's sockets live on the same io_context as the server side.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "agent/ingest/payload_sink.h"

namespace meterd::testing {

class FakePayloadSink : public PayloadSink {
 public:
  struct Accepted {
    std::string bytes;
    std::string listener;
    bool padded = false;
    bool acknowledged = false;
  };
  struct Rejected {
    std::string bytes;
    std::string reason;
  };

  // The generation every accepted payload joins, as Ingest stamps its current batch.
  uint64_t generation = 1;
  // Per payload: fills in the events seen and their errors (by default one valid event).
  std::function<void(std::string_view bytes, AcceptResult* result)> answer =
      [](std::string_view, AcceptResult* result) { result->events = 1; };

  std::vector<Accepted> accepted;
  std::vector<Rejected> rejected;

  void accept(const Payload& payload, AcceptResult* result) override {
    accepted.push_back({std::string(payload.bytes), std::string(payload.listener), payload.padded,
                        payload.acknowledged});
    if (!result) return;
    answer(payload.bytes, result);
    result->generation = generation;
  }

  void reject_payload(const Payload& payload, std::string reason) override {
    rejected.push_back({std::string(payload.bytes), std::move(reason)});
  }
};

// Runs handlers until `done()` holds or `timeout` passes; says whether it holds.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Runs whatever is ready now, so that a test can check that nothing more happened.
inline void run_ready(boost::asio::io_context& io) {
  for (int i = 0; i < 3; ++i) {
    io.restart();
    io.poll();
  }
}

}  // namespace meterd::testing
