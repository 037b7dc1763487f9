"""Exactness end to end: the cases that once lost or double-counted acknowledged usage.

Each test drives the real meterd binary against the test broker and reads the topic back,
collapsing records by idempotency key as ClickHouse's ReplacingMergeTree FINAL does (a key seen
with two different payloads fails the test: that is "one key, other contents"):
- an event older than buffer.dedup_window but within windows.max_lateness, resent after a lost
  answer, counts once (its key used to expire in the commit that wrote it);
- a buffer lost between two runs under the same agent_id: revision 0 of a window gets a new key
  (it got the old one, and ClickHouse kept one of the two partials);
- a SIGKILL after the broker confirmed rows but before the buffer forgot them, then a restart
  whose backlog passes buffer.coarsen_at: rows that may already be in Kafka are never merged
  under new keys.

Usage: /usr/bin/python3 tests/integration/test_exactness.py --build-dir BUILD [unittest args]
"""

import json
import os
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker, dump_topic  # noqa: E402
from clients import http_post  # noqa: E402
from meterd import Meterd, free_tcp_port, rfc3339, unique_records  # noqa: E402

BUILD_DIR = None
JSON_BATCH = "application/cloudevents-batch+json"
DAY_MS = 24 * 3600 * 1000


def event(event_id, time_ms, tokens, subject="acme"):
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "app", "type": "prompt",
                       "subject": subject, "time": rfc3339(time_ms),
                       "data": {"tokens": tokens, "model": "gpt-4"}})


def totals(records):
    """meter -> (event_count, value_sum) over the records, each key once."""
    out = {}
    for r in records:
        count, total = out.get(r["meter"], (0, 0))
        out[r["meter"]] = (count + r["event_count"], total + r["value_sum"])
    return out


class ExactnessTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-exact-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 1})
        self.http_port = free_tcp_port()

    def tearDown(self):
        self.broker.stop()
        self.tmp.cleanup()

    def meterd(self, buffer=None, **overrides):
        agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap, **overrides)
        agent.config["listeners"]["http"] = f"127.0.0.1:{self.http_port}"
        agent.config["buffer"].update(buffer or {})
        return agent

    def post(self, *events):
        status, text = http_post(self.http_port, "[" + ",".join(events) + "]", JSON_BATCH)
        self.assertEqual(status, 204, text)

    def records(self, expect_at_least, timeout_s=60):
        deadline = time.monotonic() + timeout_s
        while True:
            records = unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows"))
            if len(records) >= expect_at_least or time.monotonic() > deadline:
                return records
            time.sleep(0.5)

    def test_an_old_event_resent_after_a_lost_answer_counts_once(self):
        two_days_ago = int(time.time() * 1000) - 2 * DAY_MS
        with self.meterd(buffer={"dedup_window": "24h"}, windows={"size": "1m", "grace": "1s",
                                                                  "max_lateness": "7d"}) as agent:
            agent.start()
            self.post(event("old-1", two_days_ago, 120))
            time.sleep(0.5)  # the resend comes a few commits later, as a retry would
            self.post(event("old-1", two_days_ago, 120))
            self.assertEqual(agent.stop(), 0)
        self.assertEqual(totals(self.records(2)),
                         {"tokens_total": (1, 120), "prompts": (1, 1)})

    def test_a_lost_buffer_under_the_same_agent_id_gets_new_keys(self):
        # A window a little ahead, so both runs put revision 0 of the same window.
        ahead = (int(time.time() * 1000) // 60_000 + 2) * 60_000 + 5_000
        agent = self.meterd()
        with agent:
            agent.start()
            self.post(event("first-run", ahead, 100))
            self.assertEqual(agent.stop(), 0)  # drains: revision 0 is in the topic
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(agent.buffer_path + suffix):
                    os.remove(agent.buffer_path + suffix)
            agent.start()
            self.post(event("second-run", ahead, 7))
            self.assertEqual(agent.stop(), 0)
        records = self.records(4)
        sums = [r for r in records if r["meter"] == "tokens_total"]
        self.assertEqual(sorted(r["revision"] for r in sums), [0, 0])
        self.assertEqual(totals(records), {"tokens_total": (2, 107), "prompts": (2, 2)})

    def test_coarsening_after_a_crash_with_confirmations_in_flight_counts_once(self):
        now = int(time.time() * 1000)
        hour_start = now // 3_600_000 * 3_600_000 - 3_600_000  # the previous hour: closed
        # Long commits: the broker confirms a row at once, but the buffer forgets it only at the
        # next commit, seconds later. A SIGKILL in between leaves rows that are in Kafka.
        agent = self.meterd(buffer={"commit_interval": "5s", "coarsen_at": 0})
        with agent:
            agent.start()
            events = [event(f"m{minute}-{i}", hour_start + minute * 60_000 + 1000, 1 + i,
                            subject=f"s{i}")
                      for minute in range(30) for i in range(3)]
            self.post(*events)  # 30 closed minutes x 3 subjects x 2 meters: 180 outbox rows
            deadline = time.monotonic() + 30
            while agent.buffered()[2] < 180 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.5)  # produced and confirmed; the deleting commit is seconds away
            agent.kill()
            self.assertEqual(agent.buffered()[2], 180)
            self.assertEqual(len(self.records(180)), 180)
            # A restart whose backlog passes coarsen_at at once, reading few rows at a time, so
            # that its first commit's coarsening sees rows the dead process had produced.
            agent.config["buffer"].update({"commit_interval": "100ms", "coarsen_at": 20})
            agent.config["kafka"]["max_in_flight"] = 5
            agent.start()
            time.sleep(2)
            self.assertEqual(agent.stop(), 0)
        expected_sum = sum(1 + i for minute in range(30) for i in range(3))
        self.assertEqual(totals(self.records(180)),
                         {"tokens_total": (90, expected_sum), "prompts": (90, 90)})


if __name__ == "__main__":
    run_tests(globals())
