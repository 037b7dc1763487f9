// The Unix stream protocol as a client sees it (agent/PROTOCOL.md): one StreamConnection over a
// connected socket pair, fed by a recording sink and settled by a real Durability, so each test
// says what the client reads back and when.
#include <catch2/catch.hpp>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include <memory>
#include <string>

#include "agent/ingest/durability.h"
#include "agent/listeners/stream_connection.h"
#include "tests/unit/transport_test_support.h"

using namespace meterd;
using meterd::testing::FakePayloadSink;
using meterd::testing::run_until;

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

namespace {

// A StreamConnection and the client end of its socket; the client reads whatever arrives.
struct StreamClient {
  explicit StreamClient(int64_t max_line_bytes = 1 << 20) {
    Socket server(io);
    asio::local::connect_pair(client, server);
    connection = std::make_shared<StreamConnection>(std::move(server), sink, durability,
                                                    max_line_bytes);
    connection->start();
    read_more();
  }

  void send(std::string_view bytes) { asio::write(client, asio::buffer(bytes)); }
  void close_sending() { client.shutdown(Socket::shutdown_send); }

  // Runs until the sink holds `count` payloads.
  bool wait_for_payloads(size_t count) {
    return run_until(io, [&] { return sink.accepted.size() >= count; });
  }
  // Runs until the client has read `text` (and whatever came before it).
  bool wait_for(std::string_view text) {
    return run_until(io, [&] { return received.find(text) != std::string::npos; });
  }
  bool wait_for_close() {
    return run_until(io, [&] { return closed; });
  }
  void run_ready() { meterd::testing::run_ready(io); }

  void read_more() {
    client.async_read_some(asio::buffer(chunk), [this](boost::system::error_code ec, size_t n) {
      if (ec) {
        closed = true;
        return;
      }
      received.append(chunk, n);
      read_more();
    });
  }

  // The io_context first, so it is destroyed last: the connection's pending handlers and the
  // Durability's waiters hold the connection, whose socket belongs to it.
  asio::io_context io;
  FakePayloadSink sink;
  Durability durability;
  std::shared_ptr<StreamConnection> connection;
  Socket client{io};
  char chunk[4096];
  std::string received;  // everything the client read so far
  bool closed = false;   // the client read the end of the stream
};

// Marks a payload holding "bad" as one event whose subject is empty.
void refuse_lines_saying_bad(FakePayloadSink& sink) {
  sink.answer = [](std::string_view bytes, AcceptResult* result) {
    result->events = 1;
    if (bytes.find("bad") != std::string_view::npos) {
      result->errors.push_back({0, "subject", "must not be empty"});
    }
  };
}

}  // namespace

TEST_CASE("stream: lines are acknowledged only once their generation is committed") {
  StreamClient client;
  client.send("one\ntwo\n");
  REQUIRE(client.wait_for_payloads(2));
  client.run_ready();
  CHECK(client.received.empty());

  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 2\n"));
  CHECK(client.received == "ack 2\n");
}

TEST_CASE("stream: each line goes to the sink as an acknowledged, padded unix_stream payload") {
  StreamClient client;
  client.send("one\ntwo\n");
  REQUIRE(client.wait_for_payloads(2));
  CHECK(client.sink.accepted[0].bytes == "one");
  CHECK(client.sink.accepted[1].bytes == "two");
  for (const auto& payload : client.sink.accepted) {
    CHECK(payload.listener == "unix_stream");
    CHECK(payload.acknowledged);
    CHECK(payload.padded);
  }
}

TEST_CASE("stream: an invalid event is answered at once with its line, event and field") {
  StreamClient client;
  refuse_lines_saying_bad(client.sink);
  client.send("good\nbad\n");
  REQUIRE(client.wait_for("error 2 event 0: subject: must not be empty\n"));
  CHECK(client.received == "error 2 event 0: subject: must not be empty\n");

  // The invalid line is settled too: the ack covers it.
  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 2\n"));
}

TEST_CASE("stream: an error without a field names the event and the reason only") {
  StreamClient client;
  client.sink.answer = [](std::string_view, AcceptResult* result) {
    result->events = 2;
    result->errors.push_back({1, "", "not a JSON object"});
  };
  client.send("[{},1]\n");
  REQUIRE(client.wait_for("\n"));
  CHECK(client.received == "error 1 event 1: not a JSON object\n");
}

TEST_CASE("stream: blank lines are skipped but keep their number, and CRLF is accepted") {
  StreamClient client;
  client.send("first\r\n\n \t\nlast\n");
  REQUIRE(client.wait_for_payloads(2));
  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 4\n"));
  REQUIRE(client.sink.accepted.size() == 2);
  CHECK(client.sink.accepted[0].bytes == "first");
  CHECK(client.sink.accepted[1].bytes == "last");
}

TEST_CASE("stream: a line split across reads is one payload") {
  StreamClient client;
  client.send(R"({"id":)");
  client.run_ready();
  CHECK(client.sink.accepted.empty());
  client.send(R"("1"})" "\n");
  REQUIRE(client.wait_for_payloads(1));
  CHECK(client.sink.accepted[0].bytes == R"({"id":"1"})");
  CHECK(client.sink.accepted[0].padded);
}

TEST_CASE("stream: acks are cumulative and cover only the generations committed") {
  StreamClient client;
  client.send("a\n");
  REQUIRE(client.wait_for_payloads(1));
  client.sink.generation = 2;
  client.send("b\nc\n");
  REQUIRE(client.wait_for_payloads(3));

  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 1\n"));
  client.run_ready();
  CHECK(client.received == "ack 1\n");

  client.durability.settle_through(2, true);
  REQUIRE(client.wait_for("ack 3\n"));
  CHECK(client.received == "ack 1\nack 3\n");
}

TEST_CASE("stream: a line over the bound is refused whole and the connection carries on") {
  StreamClient client(/*max_line_bytes=*/16);
  client.send(std::string(40, 'x') + "\nok\n");
  REQUIRE(client.wait_for("error 1 line longer than 16 bytes\n"));
  REQUIRE(client.wait_for_payloads(1));
  CHECK(client.sink.accepted[0].bytes == "ok");
  REQUIRE(client.sink.rejected.size() == 1);
  CHECK(client.sink.rejected[0].reason == "line longer than 16 bytes");

  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 2\n"));
  CHECK(client.received == "error 1 line longer than 16 bytes\nack 2\n");
}

TEST_CASE("stream: a line that grows over the bound across reads is refused once") {
  StreamClient client(/*max_line_bytes=*/16);
  client.send(std::string(12, 'x'));
  client.run_ready();
  client.send(std::string(12, 'y'));
  REQUIRE(client.wait_for("error 1 line longer than 16 bytes\n"));
  client.send("zz\nok\n");
  REQUIRE(client.wait_for_payloads(1));
  CHECK(client.sink.accepted[0].bytes == "ok");
  CHECK(client.sink.rejected.size() == 1);
  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 2\n"));
  // Line 1 was settled by its error alone, before any commit: acked as soon as it was read.
  CHECK(client.received == "error 1 line longer than 16 bytes\nack 1\nack 2\n");
}

TEST_CASE("stream: a refused generation names the lines to resend, then the connection closes") {
  StreamClient client;
  client.send("a\n");
  REQUIRE(client.wait_for_payloads(1));
  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for("ack 1\n"));

  client.sink.generation = 2;
  client.send("b\nc\n");
  REQUIRE(client.wait_for_payloads(3));
  client.durability.settle_through(2, false);
  REQUIRE(client.wait_for_close());
  CHECK(client.received ==
        "ack 1\nerror 3 buffer full: lines 2-3 were not stored; resend them\n");
}

TEST_CASE("stream: after the client half-closes, its acks still come, then the connection closes") {
  StreamClient client;
  client.send("a\nb\n");
  client.close_sending();
  REQUIRE(client.wait_for_payloads(2));
  client.run_ready();
  CHECK_FALSE(client.closed);

  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for_close());
  CHECK(client.received == "ack 2\n");
}

TEST_CASE("stream: stop_reading still acknowledges what was read, then closes") {
  StreamClient client;
  client.send("a\n");
  REQUIRE(client.wait_for_payloads(1));
  client.connection->stop_reading();
  client.run_ready();
  CHECK_FALSE(client.closed);

  client.durability.settle_through(1, true);
  REQUIRE(client.wait_for_close());
  CHECK(client.received == "ack 1\n");
}
