// The HTTP ingest API as a client sees it (contract in agent/listeners/http_listener.h): one
// HttpSession over a loopback TCP connection, fed by a recording sink and settled by a real
// Durability, so each test says which answer the client gets and when.
#include <catch2/catch.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/ingest/durability.h"
#include "agent/listeners/http_session.h"
#include "tests/unit/transport_test_support.h"

using namespace meterd;
using meterd::testing::FakePayloadSink;
using meterd::testing::run_until;

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

namespace {

// An HttpSession and the client end of its connection.
struct HttpClient {
  explicit HttpClient(HttpLimits limits = {}) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    std::make_shared<HttpSession>(acceptor.accept(), sink, durability, limits)->start();
  }

  void send(std::string_view raw) { asio::write(client, asio::buffer(raw)); }

  void post(std::string_view content_type, std::string_view body,
            std::string_view target = "/api/v1/events") {
    send(fmt::format("POST {} HTTP/1.1\r\nHost: meterd\r\nContent-Type: {}\r\n"
                     "Content-Length: {}\r\n\r\n{}",
                     target, content_type, body.size(), body));
  }

  // Runs until the session handed the sink its `count`th payload and did all it could without
  // a commit; says whether any answer arrived by then.
  bool answered_before_commit(size_t count) {
    REQUIRE(run_until(io, [&] { return sink.accepted.size() >= count; }));
    meterd::testing::run_ready(io);
    return client.available() > 0;
  }

  // Reads one response.
  Response response() {
    Response response;
    std::optional<boost::beast::error_code> result;
    http::async_read(client, buffer, response,
                     [&](boost::beast::error_code ec, size_t) { result = ec; });
    REQUIRE(run_until(io, [&] { return result.has_value(); }));
    REQUIRE_FALSE(*result);
    return response;
  }

  // True once the server closed the connection.
  bool closed_by_server() {
    char byte;
    std::optional<boost::system::error_code> result;
    client.async_read_some(asio::buffer(&byte, 1),
                           [&](boost::system::error_code ec, size_t) { result = ec; });
    return run_until(io, [&] { return result.has_value(); }) && *result == asio::error::eof;
  }

  // The io_context first, so it is destroyed last: pending handlers and the Durability's waiters
  // hold the session, whose socket belongs to it.
  asio::io_context io;
  FakePayloadSink sink;
  Durability durability;
  tcp::socket client{io};
  boost::beast::flat_buffer buffer;
};

constexpr std::string_view kEvent = R"({"specversion":"1.0","id":"1"})";

}  // namespace

TEST_CASE("http: a valid body is answered 204 only once its generation is committed") {
  HttpClient client;
  client.post("application/cloudevents+json", kEvent);
  CHECK_FALSE(client.answered_before_commit(1));

  client.durability.settle_through(1, true);
  CHECK(client.response().result() == http::status::no_content);
}

TEST_CASE("http: the body goes to the sink whole, as an acknowledged http payload") {
  HttpClient client;
  client.post("application/json", kEvent);
  client.answered_before_commit(1);
  REQUIRE(client.sink.accepted.size() == 1);
  CHECK(client.sink.accepted[0].bytes == kEvent);
  CHECK(client.sink.accepted[0].listener == "http");
  CHECK(client.sink.accepted[0].acknowledged);
}

TEST_CASE("http: invalid events get a 400 naming each, once the valid ones are durable") {
  HttpClient client;
  client.sink.answer = [](std::string_view, AcceptResult* result) {
    result->events = 3;
    result->errors.push_back({1, "subject", "must not be empty"});
    result->errors.push_back({2, "", "not a \"JSON\" object"});
  };
  client.post("application/cloudevents-batch+json", "[{},{},1]");
  CHECK_FALSE(client.answered_before_commit(1));

  client.durability.settle_through(1, true);
  Response response = client.response();
  CHECK(response.result() == http::status::bad_request);
  CHECK(response[http::field::content_type] == "application/problem+json");
  CHECK(response.body() ==
        R"({"type":"about:blank","title":"Bad Request","status":400,)"
        R"("detail":"2 of 3 events are invalid and were not accepted; the other 1 were",)"
        R"("invalid_events":[{"index":1,"field":"subject","reason":"must not be empty"},)"
        R"({"index":2,"field":"","reason":"not a \"JSON\" object"}]})");
}

TEST_CASE("http: a refused generation is answered 503 with Retry-After") {
  HttpClient client;
  client.post("application/cloudevents+json", kEvent);
  client.answered_before_commit(1);
  client.durability.settle_through(1, false);
  Response response = client.response();
  CHECK(response.result() == http::status::service_unavailable);
  CHECK(response[http::field::retry_after] == "5");
  CHECK(response.body().find("the buffer is full") != std::string::npos);
}

TEST_CASE("http: a refused body with invalid events is answered 503 too") {
  HttpClient client;
  client.sink.answer = [](std::string_view, AcceptResult* result) {
    result->events = 2;
    result->errors.push_back({0, "id", "must not be empty"});
  };
  client.post("application/json", "[{},{}]");
  client.answered_before_commit(1);
  client.durability.settle_through(1, false);
  CHECK(client.response().result() == http::status::service_unavailable);
}

TEST_CASE("http: a body over the limit is answered 413 and the connection closes") {
  HttpClient client(HttpLimits{/*max_body_bytes=*/16, /*idle_timeout_ms=*/60'000});
  client.post("application/json", std::string(100, ' '));
  Response response = client.response();
  CHECK(response.result() == http::status::payload_too_large);
  CHECK(response.body().find("the body exceeds 16 bytes") != std::string::npos);
  CHECK(client.sink.accepted.empty());
  CHECK(client.closed_by_server());
}

TEST_CASE("http: a content type other than JSON, CloudEvents or msgpack is answered 415") {
  HttpClient client;
  client.post("text/plain", kEvent);
  CHECK(client.response().result() == http::status::unsupported_media_type);
  CHECK(client.sink.accepted.empty());
}

TEST_CASE("http: a body whose shape contradicts its content type is answered 400") {
  HttpClient client;
  std::string detail;
  SECTION("one event type, an array") {
    client.post("application/cloudevents+json", "[]");
    detail = "application/cloudevents+json takes one event";
  }
  SECTION("batch type, an object") {
    client.post("application/cloudevents-batch+json", kEvent);
    detail = "application/cloudevents-batch+json takes a JSON array of events";
  }
  SECTION("msgpack type, JSON text") {
    client.post("application/msgpack", kEvent);
    detail = "application/msgpack takes a msgpack map or array";
  }
  Response response = client.response();
  CHECK(response.result() == http::status::bad_request);
  CHECK(response.body().find(detail) != std::string::npos);
  CHECK(client.sink.accepted.empty());
}

TEST_CASE("http: content type parameters and case do not matter") {
  HttpClient client;
  client.post("Application/CloudEvents+JSON; charset=utf-8", kEvent);
  client.answered_before_commit(1);
  client.durability.settle_through(1, true);
  CHECK(client.response().result() == http::status::no_content);
}

TEST_CASE("http: a msgpack body goes to the sink as it came") {
  HttpClient client;
  const std::string map = "\x81\xa2id\xa1" "1";  // {"id":"1"}
  client.post("application/msgpack", map);
  client.answered_before_commit(1);
  CHECK(client.sink.accepted[0].bytes == map);
  client.durability.settle_through(1, true);
  CHECK(client.response().result() == http::status::no_content);
}

TEST_CASE("http: another path is 404 and another method 405") {
  HttpClient client;
  client.post("application/json", kEvent, "/api/v2/events");
  CHECK(client.response().result() == http::status::not_found);
  client.send("GET /api/v1/events HTTP/1.1\r\nHost: meterd\r\n\r\n");
  CHECK(client.response().result() == http::status::method_not_allowed);
  CHECK(client.sink.accepted.empty());
}

TEST_CASE("http: a kept-alive connection answers each request after its own commit") {
  HttpClient client;
  client.post("application/json", kEvent);
  client.answered_before_commit(1);
  client.durability.settle_through(1, true);
  CHECK(client.response().result() == http::status::no_content);

  client.sink.generation = 2;
  client.post("application/json", kEvent);
  CHECK_FALSE(client.answered_before_commit(2));
  client.durability.settle_through(2, true);
  CHECK(client.response().result() == http::status::no_content);
}

TEST_CASE("http: a malformed request is answered 400 and the connection closes") {
  HttpClient client;
  client.send("NOT HTTP AT ALL\r\n\r\n");
  CHECK(client.response().result() == http::status::bad_request);
  CHECK(client.closed_by_server());
}
