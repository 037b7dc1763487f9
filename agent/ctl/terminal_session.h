// TerminalSession: the terminal as `meterctl top` needs it, for as long as the object lives:
// the alternate screen (the user's scrollback is left as it was), no cursor, and raw input
// (no echo, no line buffering, Ctrl-C read as a key) so one key press quits.
//
// The destructor puts everything back, and SIGINT, SIGTERM and SIGHUP only ask the loop to stop,
// so the terminal is restored on every way out but SIGKILL. When stdin is not a terminal, input
// stays as it is and only the signals end the loop.
//
// One per process, on the main thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <termios.h>

namespace meterd {

class TerminalSession {
 public:
  TerminalSession();
  ~TerminalSession();
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;

  // Replaces the screen with `lines` (already cut to the width).
  void draw(const std::vector<std::string>& lines);

  // Waits up to `timeout` for input; true once the user asked to quit (q, Q, Ctrl-C, or one
  // of the signals above).
  bool wait_for_quit(std::chrono::milliseconds timeout);

  int columns() const;  // the terminal's size now (80×24 when unknown)
  int rows() const;

 private:
  bool raw_ = false;
  bool input_open_ = true;
  struct termios saved_{};
};

}  // namespace meterd
