// The terminal of `meterctl top` (see terminal_session.h): plain ANSI sequences, which every
// terminal meterctl meets understands (xterm, tmux, screen, the Linux console), and termios.
#include "agent/ctl/terminal_session.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace meterd {
namespace {

volatile std::sig_atomic_t quit_requested = 0;

void request_quit(int) { quit_requested = 1; }

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction saved_actions[std::size(kSignals)];

void write_all(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal went away: nothing left to show it
    done += static_cast<size_t>(n);
  }
}

winsize window_size() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0 || size.ws_row == 0) {
    size.ws_col = 80;
    size.ws_row = 24;
  }
  return size;
}

}  // namespace

TerminalSession::TerminalSession() {
  quit_requested = 0;
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    struct sigaction action{};
    action.sa_handler = request_quit;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a signal wakes poll() at once
    ::sigaction(kSignals[i], &action, &saved_actions[i]);
  }
  if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
    struct termios raw = saved_;
    raw.c_lflag &= ~(ICANON | ECHO | ISIG | IEXTEN);
    raw.c_iflag &= ~(IXON | ICRNL);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    raw_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
  }
  write_all("\x1b[?1049h\x1b[?25l");  // alternate screen, cursor hidden
}

TerminalSession::~TerminalSession() {
  write_all("\x1b[?25h\x1b[?1049l");
  if (raw_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    ::sigaction(kSignals[i], &saved_actions[i], nullptr);
  }
}

void TerminalSession::draw(const std::vector<std::string>& lines) {
  std::string frame = "\x1b[H\x1b[2J";  // home, clear
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) frame += "\r\n";
    frame += lines[i];
  }
  write_all(frame);
}

bool TerminalSession::wait_for_quit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!quit_requested) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd input{STDIN_FILENO, POLLIN, 0};
    int ready = ::poll(&input, input_open_ ? 1 : 0, static_cast<int>(left.count()));
    if (ready <= 0) continue;  // a timeout ends at the deadline check, a signal at the flag
    char keys[64];
    ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
    if (n <= 0) {
      input_open_ = false;  // end of input: only signals and the clock remain
      continue;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 0x03) return true;
    }
  }
  return true;
}

int TerminalSession::columns() const { return window_size().ws_col; }
int TerminalSession::rows() const { return window_size().ws_row; }

}  // namespace meterd
