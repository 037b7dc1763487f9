// One HTTP connection of the ingest API (see http_listener.h for the contract).
#include "agent/listeners/http_session.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>

#include "agent/decode/msgpack_transcoder.h"
#include "buffer/base/clock.h"
#include "buffer/base/json_text.h"

namespace meterd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr std::string_view kEventsPath = "/api/v1/events";

std::string media_type(std::string_view content_type) {
  std::string media(content_type.substr(0, content_type.find(';')));
  std::erase_if(media, [](unsigned char c) { return std::isspace(c); });
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return media;
}

std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

char first_byte(std::string_view body) {
  size_t at = body.find_first_not_of(" \t\r\n");
  return at == std::string_view::npos ? '\0' : body[at];
}

// RFC 9457 problem details naming each invalid event.
std::string problem(int status, std::string_view title, std::string_view detail,
                    const std::vector<EventError>& errors) {
  std::string body = fmt::format(R"({{"type":"about:blank","title":"{}","status":{},"detail":)",
                                 title, status);
  append_json_string(&body, detail);
  if (!errors.empty()) {
    body.append(R"(,"invalid_events":[)");
    for (size_t i = 0; i < errors.size(); ++i) {
      if (i) body.push_back(',');
      fmt::format_to(std::back_inserter(body), R"({{"index":{},"field":)", errors[i].index);
      append_json_string(&body, errors[i].field);
      body.append(R"(,"reason":)");
      append_json_string(&body, errors[i].reason);
      body.push_back('}');
    }
    body.push_back(']');
  }
  body.push_back('}');
  return body;
}

struct Refusal {
  http::status status;
  std::string problem_body;
};

// Why a body cannot be read as its content type says, if it cannot: 415 for a type meterd does
// not read, 400 for a body whose first byte contradicts its type (an array sent as one event).
std::optional<Refusal> refuse_content(const std::string& media, std::string_view body) {
  char first = first_byte(body);
  std::string mismatch;
  if (media == "application/cloudevents+json") {
    if (first == '[') {
      mismatch = "takes one event; send arrays as application/cloudevents-batch+json";
    }
  } else if (media == "application/cloudevents-batch+json") {
    if (first != '[') mismatch = "takes a JSON array of events";
  } else if (media == "application/msgpack" || media == "application/x-msgpack" ||
             media == "application/vnd.msgpack") {
    if (!looks_like_msgpack(body)) mismatch = "takes a msgpack map or array";
  } else if (media != "application/json") {
    return Refusal{http::status::unsupported_media_type,
                   problem(415, "Unsupported Media Type",
                           fmt::format("content type '{}' is not accepted; use "
                                       "application/cloudevents+json, "
                                       "application/cloudevents-batch+json, application/json or "
                                       "application/msgpack", media),
                           {})};
  }
  if (mismatch.empty()) return std::nullopt;
  return Refusal{http::status::bad_request,
                 problem(400, "Bad Request", media + " " + mismatch, {})};
}

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, PayloadSink& sink, Durability& durability,
                         const HttpLimits& limits)
    : stream_(std::move(socket)), sink_(sink), durability_(durability), limits_(limits) {}

void HttpSession::read_request() {
  parser_.emplace();
  parser_->header_limit(kMaxHeaderBytes);
  parser_->body_limit(static_cast<uint64_t>(limits_.max_body_bytes));
  // One deadline for the whole request: an idle keep-alive client and a slow sender alike.
  stream_.expires_after(std::chrono::milliseconds(limits_.idle_timeout_ms));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     if (ec) return self->answer_read_error(ec);
                     self->handle_request();
                   });
}

void HttpSession::answer_read_error(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    // Counted and kept as a dead letter (its head only), like an oversized datagram or line.
    std::string_view head(parser_->get().body());
    sink_.reject_payload(Payload{head.substr(0, 1024), false, "http", wall_clock_ms()},
                         fmt::format("HTTP body larger than {} bytes", limits_.max_body_bytes));
    return respond(http::status::payload_too_large,
                   problem(413, "Payload Too Large",
                           fmt::format("the body exceeds {} bytes", limits_.max_body_bytes), {}),
                   "application/problem+json");
  }
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    return respond(http::status::request_header_fields_too_large);
  }
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == asio::error::operation_aborted) {
    return close();
  }
  // A malformed request gets a 400; a broken connection just closes.
  if (ec.category() != http::make_error_code(http::error::bad_target).category()) return close();
  keep_alive_ = false;
  respond(http::status::bad_request);
}

void HttpSession::handle_request() {
  const Request& request = parser_->get();
  keep_alive_ = request.keep_alive();
  if (to_std(request.target()) != kEventsPath) {
    return respond(http::status::not_found,
                   problem(404, "Not Found", "the ingest endpoint is POST /api/v1/events", {}),
                   "application/problem+json");
  }
  if (request.method() != http::verb::post) {
    return respond(http::status::method_not_allowed);
  }
  ingest(request);
}

void HttpSession::ingest(const Request& request) {
  std::string_view body = request.body();
  std::string media = media_type(to_std(request[http::field::content_type]));
  if (auto refusal = refuse_content(media, body)) {
    return respond(refusal->status, std::move(refusal->problem_body), "application/problem+json");
  }

  auto result = std::make_shared<AcceptResult>();
  sink_.accept(Payload{body, false, "http", wall_clock_ms(), /*acknowledged=*/true}, result.get());
  size_t invalid = result->errors.size();
  if (invalid == 0) {
    return durability_.when_durable(result->generation, [self = shared_from_this()](bool durable) {
      if (durable) return self->respond(http::status::no_content);
      self->respond_buffer_full();
    });
  }
  std::string detail =
      fmt::format("{} of {} events are invalid and were not accepted; the other {} were", invalid,
                  result->events, result->events - std::min(invalid, result->events));
  std::string answer = problem(400, "Bad Request", detail, result->errors);
  // The valid events of the body are acknowledged too: answer once they are durable.
  durability_.when_durable(
      result->generation,
      [self = shared_from_this(), answer = std::move(answer)](bool durable) mutable {
        if (!durable) return self->respond_buffer_full();
        self->respond(http::status::bad_request, std::move(answer), "application/problem+json");
      });
}

void HttpSession::respond_buffer_full() {
  response_retry_after_ = true;
  respond(http::status::service_unavailable,
          problem(503, "Service Unavailable",
                  "the buffer is full (buffer.max_size); nothing of this request was stored, "
                  "retry later", {}),
          "application/problem+json");
}

void HttpSession::respond(http::status status, std::string body, std::string_view content_type) {
  response_ = Response(status, 11);
  response_.set(http::field::server, "meterd");
  if (!content_type.empty()) response_.set(http::field::content_type, std::string(content_type));
  if (response_retry_after_) response_.set(http::field::retry_after, "5");
  response_retry_after_ = false;
  response_.body() = std::move(body);
  response_.keep_alive(keep_alive_);
  response_.prepare_payload();
  http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec || !self->keep_alive_) return self->close();
    self->read_request();
  });
}

void HttpSession::close() {
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace meterd
