// The loop of `meterctl top` (see ctl_top.h): read, compute the rates against the previous
// reading, draw, wait for a key or the next second. The screen is top_screen.cc; the terminal
// is terminal_session.cc.
#include "agent/ctl/ctl_top.h"

#include <iostream>
#include <optional>

#include "agent/ctl/terminal_session.h"
#include "agent/ctl/top_screen.h"
#include "buffer/base/clock.h"

namespace meterd {
namespace {

constexpr std::chrono::milliseconds kRefresh{1000};
constexpr std::chrono::milliseconds kTimeout{900};  // a reading must not delay the next one

// One turn: a new frame from a new reading. `previous` is the last answer of this run of meterd.
TopFrame next_frame(const CtlTarget& target, std::optional<StatusDoc>* previous,
                    int64_t* last_answer_ms) {
  TopFrame frame;
  frame.admin = target.admin.text();
  StatusReading reading = read_status(target, kTimeout);
  frame.now_unix_ms = wall_clock_ms();
  if (!reading.ok) {
    frame.error = reading.error;
    frame.last_answer_unix_ms = *last_answer_ms;
    previous->reset();  // rates start again from the first answer after it returns
    return frame;
  }
  frame.reachable = true;
  *last_answer_ms = frame.now_unix_ms;
  frame.doc = reading.doc;
  if (*previous) {
    double seconds = reading.doc.uptime_seconds - (*previous)->uptime_seconds;
    if (seconds > 0) {
      frame.has_rates = true;
      frame.rates = compute_rates(**previous, reading.doc, seconds);
    }
  }
  *previous = std::move(reading.doc);
  return frame;
}

}  // namespace

int run_top(const TopOptions& options) {
  CtlTarget target;
  std::string error;
  if (!resolve_target(options.target, &target, &error)) {
    std::cerr << "meterctl top: " << error << "\n";
    return 2;
  }
  if (!target.has_admin) {
    std::cerr << "meterctl top: " << target.no_admin_reason << "\n";
    return 2;
  }
  TerminalSession terminal;
  std::optional<StatusDoc> previous;
  int64_t last_answer_ms = 0;
  for (;;) {
    int64_t started = steady_clock_ms();
    TopFrame frame = next_frame(target, &previous, &last_answer_ms);
    terminal.draw(top_screen(frame, terminal.columns(), terminal.rows()));
    auto left = kRefresh - std::chrono::milliseconds(steady_clock_ms() - started);
    if (terminal.wait_for_quit(std::max(left, std::chrono::milliseconds(50)))) return 0;
  }
}

}  // namespace meterd
