// The screen of `meterctl top`: one frame built from the newest /status reading and the rates
// since the one before, as lines of text cut to the terminal's width. Pure, so the tests check
// frames without a terminal; the loop that reads and draws is ctl_top.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/ctl/status_doc.h"
#include "agent/ctl/status_verdict.h"

namespace meterd {

struct TopFrame {
  std::string admin;  // the address read
  int64_t now_unix_ms = 0;

  bool reachable = false;
  std::string error;              // why not, when not reachable
  int64_t last_answer_unix_ms = 0;  // the last time meterd answered; 0: never

  StatusDoc doc;           // the newest reading, when reachable
  bool has_rates = false;  // false on the first reading after (re)connecting
  StatusRates rates;
};

// Lines of at most `width` characters; at most `height` lines (the rest dropped from the end).
std::vector<std::string> top_screen(const TopFrame& frame, int width, int height);

}  // namespace meterd
