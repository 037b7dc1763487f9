// One Unix stream client: line splitting, error lines and durable acks (see PROTOCOL.md).
#include "agent/listeners/stream_connection.h"

#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include "buffer/base/clock.h"

namespace meterd {

namespace asio = boost::asio;

StreamConnection::StreamConnection(asio::local::stream_protocol::socket socket, PayloadSink& sink,
                                   Durability& durability, int64_t max_line_bytes)
    : socket_(std::move(socket)),
      sink_(sink),
      durability_(durability),
      max_line_bytes_(max_line_bytes) {}

void StreamConnection::stop_reading() {
  if (!reading_) return;
  reading_ = false;
  boost::system::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_receive, ec);
  close_when_settled();
}

void StreamConnection::read_more() {
  socket_.async_read_some(
      asio::buffer(read_buffer_, kReadSize),
      [self = shared_from_this()](boost::system::error_code ec, size_t size) {
        if (!self->reading_) return;
        if (ec) {
          // EOF or a reset: what arrived is still acknowledged before the connection closes.
          self->reading_ = false;
          self->close_when_settled();
          return;
        }
        self->handle_bytes(std::string_view(self->read_buffer_, size));
        self->read_more();
      });
}

void StreamConnection::handle_bytes(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    std::string_view piece = bytes.substr(0, newline);
    bytes.remove_prefix(newline == std::string_view::npos ? bytes.size() : newline + 1);
    bool complete = newline != std::string_view::npos;

    if (!discarding_ &&
        partial_line_.size() + piece.size() > static_cast<size_t>(max_line_bytes_)) {
      discarding_ = true;
      partial_line_.clear();
      ++lines_;
      sink_.reject_payload(Payload{piece.substr(0, 1024), false, "unix_stream", wall_clock_ms()},
                           fmt::format("line longer than {} bytes", max_line_bytes_));
      send(fmt::format("error {} line longer than {} bytes\n", lines_, max_line_bytes_));
    }
    if (discarding_) {
      if (complete) discarding_ = false;
      continue;
    }
    if (!complete) {
      partial_line_.append(piece);
      break;
    }
    if (partial_line_.empty()) {
      handle_line(piece);  // inside read_buffer_, which is padded
    } else {
      partial_line_.reserve(partial_line_.size() + piece.size() + kPayloadPadding);
      partial_line_.append(piece);
      handle_line(partial_line_);
      partial_line_.clear();
    }
  }
  if (pending_.empty() || pending_.back().first != generation_) {
    pending_.emplace_back(generation_, lines_);
    durability_.when_durable(generation_,
                             [self = shared_from_this(), generation = generation_](bool durable) {
                               self->settle_through(generation, durable);
                             });
  } else {
    pending_.back().second = lines_;
  }
}

void StreamConnection::handle_line(std::string_view line) {
  ++lines_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;  // blank lines are skipped
  result_.errors.clear();
  result_.events = 0;
  sink_.accept(
      Payload{line, /*padded=*/true, "unix_stream", wall_clock_ms(), /*acknowledged=*/true},
      &result_);
  generation_ = result_.generation;
  for (const EventError& error : result_.errors) {
    send(error.field.empty()
             ? fmt::format("error {} event {}: {}\n", lines_, error.index, error.reason)
             : fmt::format("error {} event {}: {}: {}\n", lines_, error.index, error.field,
                           error.reason));
  }
}

void StreamConnection::settle_through(uint64_t generation, bool durable) {
  uint64_t line = acked_;
  while (!pending_.empty() && pending_.front().first <= generation) {
    line = pending_.front().second;
    pending_.pop_front();
  }
  if (line > acked_ && !refused_) {
    if (durable) {
      acked_ = line;
      send(fmt::format("ack {}\n", line));
    } else {
      // Acks are cumulative, so nothing after a refused line can be acknowledged on this
      // connection: say so, stop reading, and let the client resend from its last ack.
      refused_ = true;
      send(fmt::format("error {} buffer full: lines {}-{} were not stored; resend them\n", line,
                       acked_ + 1, line));
      stop_reading();
      pending_.clear();
    }
  }
  close_when_settled();
}

void StreamConnection::send(std::string text) {
  writes_.push_back(std::move(text));
  if (!writing_) write_next();
}

void StreamConnection::write_next() {
  if (writes_.empty()) {
    writing_ = false;
    close_when_settled();
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(writes_.front()),
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      self->writes_.pop_front();
                      if (ec) {
                        // The client is gone; it resends whatever it did not see acknowledged.
                        self->writes_.clear();
                        self->reading_ = false;
                      }
                      self->write_next();
                    });
}

void StreamConnection::close_when_settled() {
  if (reading_ || writing_ || !pending_.empty() || !writes_.empty()) return;
  boost::system::error_code ec;
  socket_.close(ec);
}

}  // namespace meterd
