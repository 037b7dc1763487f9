"""An event is accepted by every meter it matches or by none, and no window's sum leaves the doubles.

meterd runs with UDP, Unix stream and HTTP listeners against the test broker, with a SUM and a
COUNT meter on one event type. An event the SUM meter refuses ("tokens":"12O") must be refused
whole: answered as invalid, counted by neither meter and not remembered as seen, so the client's
fixed resend under the same id counts in full. Values whose sum would pass ±1.8e308 are refused
one event at a time, and the commits (every client's acknowledgements) carry on.

Usage: /usr/bin/python3 tests/integration/test_atomic_events.py --build-dir BUILD [unittest args]
"""

import json
import math
import os
import sqlite3
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker, dump_topic  # noqa: E402
from clients import StreamClient, http_post  # noqa: E402
from meterd import Meterd, free_tcp_port, rfc3339, totals_of, unique_records  # noqa: E402

BUILD_DIR = None
ONE_EVENT = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
METERS = [
    {"slug": "tokens_total", "eventType": "prompt", "aggregation": "SUM",
     "valueProperty": "$.tokens"},
    {"slug": "prompts", "eventType": "prompt", "aggregation": "COUNT"},
]
NON_NUMERIC = "meter tokens_total: value is a non-numeric string"
NON_FINITE = "meter tokens_total: value would make the window's sum non-finite (beyond ±1.8e308)"


def event(event_id, subject, tokens, time_ms):
    """One prompt event as JSON text; `tokens` is put in as it is (a number or a string)."""
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "atomic-test",
                       "type": "prompt", "subject": subject, "time": rfc3339(time_ms),
                       "data": {"tokens": tokens}}, separators=(",", ":"))


class AtomicEventsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-atomic-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 1})
        self.http_port = free_tcp_port()
        self.stream_path = os.path.join(self.tmp.name, "run", "events.stream.sock")
        self.agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap, meters=METERS)
        self.agent.config["listeners"].update({
            "unix_stream": self.stream_path, "http": f"127.0.0.1:{self.http_port}"})
        # Events of one recent window: closed at shutdown, so the records are all out by then.
        self.time_ms = int(time.time() * 1000) // 60_000 * 60_000 - 60_000 + 30_000
        self.agent.start()

    def tearDown(self):
        self.agent.__exit__()
        self.broker.stop()
        self.tmp.cleanup()

    def stop_and_read(self):
        """Stops meterd (which sends every window) and returns its records, one per key."""
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        failures = [line for line in self.agent.log if "commit failed" in line]
        self.assertEqual(failures, [])
        return unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows"))

    def dead_letters(self):
        db = sqlite3.connect(f"file:{self.agent.buffer_path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT listener, reason FROM dead_letters ORDER BY id").fetchall()
        finally:
            db.close()

    def test_an_http_event_one_meter_refuses_counts_in_full_once_resent_fixed(self):
        status, text = http_post(self.http_port, event("h1", "acme", "12O", self.time_ms),
                                 ONE_EVENT)
        self.assertEqual(status, 400, text)
        self.assertEqual(json.loads(text)["invalid_events"],
                         [{"index": 0, "field": "data", "reason": NON_NUMERIC}])
        # The same id again, fixed: a new event, since the refused one left no dedup key.
        status, text = http_post(self.http_port, event("h1", "acme", "120", self.time_ms),
                                 ONE_EVENT)
        self.assertEqual(status, 204, text)
        # And once more, as a client that missed the 204 would: a duplicate now.
        status, text = http_post(self.http_port, event("h1", "acme", "120", self.time_ms),
                                 ONE_EVENT)
        self.assertEqual(status, 204, text)
        records = self.stop_and_read()
        self.assertEqual(totals_of(records), {("tokens_total", "acme", ()): [1, 120],
                                              ("prompts", "acme", ()): [1, 1]})
        self.assertEqual(self.dead_letters(), [("http", "event 0: data: " + NON_NUMERIC)])

    def test_a_stream_event_one_meter_refuses_counts_in_full_once_resent_fixed(self):
        client = StreamClient(self.stream_path)
        client.send_lines([event("s1", "acme", "12O", self.time_ms),
                           event("s1", "acme", 120, self.time_ms)])
        client.read_until_acked(2)
        client.close()
        # One error line for the event, whatever number of meters refused it.
        self.assertEqual(client.errors, [(1, "event 0: data: " + NON_NUMERIC)])
        records = self.stop_and_read()
        self.assertEqual(totals_of(records), {("tokens_total", "acme", ()): [1, 120],
                                              ("prompts", "acme", ()): [1, 1]})
        self.assertEqual(self.dead_letters(), [("unix_stream", "event 0: data: " + NON_NUMERIC)])

    def test_sums_beyond_the_doubles_are_refused_and_commits_go_on(self):
        t = self.time_ms
        # Two of 1e308 make +inf: the second is refused, over HTTP and over UDP.
        status, text = http_post(self.http_port, "[" + event("b1", "big-http", 1e308, t) + "," +
                                 event("b2", "big-http", 1e308, t) + "]", BATCH)
        self.assertEqual(status, 400, text)
        self.assertEqual(json.loads(text)["invalid_events"],
                         [{"index": 1, "field": "data", "reason": NON_FINITE}])
        self.agent.send(event("u1", "big-udp", 1e308, t) + "\n" + event("u2", "big-udp", 1e308, t))
        # A window holding 1e308 in the buffer, then -1e308 twice in a later commit: had the
        # first interval kept +inf, this would be inf + -inf, NaN, which SQLite refuses to store
        # in a NOT NULL column, failing the commit for every client.
        for sign in (1, -1):
            status, text = http_post(self.http_port, "[" + event(f"w{sign}a", "swing", sign * 1e308, t) +
                                     "," + event(f"w{sign}b", "swing", sign * 1e308, t) + "]", BATCH)
            self.assertEqual(status, 400, text)
            self.assertEqual([e["index"] for e in json.loads(text)["invalid_events"]], [1])
        # Other clients' events are still acknowledged, so the commits succeed.
        status, text = http_post(self.http_port, event("o1", "other", 5, t), ONE_EVENT)
        self.assertEqual(status, 204, text)
        client = StreamClient(self.stream_path)
        client.send_lines([event("o2", "other", 7, t)])
        client.read_until_acked(1)
        client.close()
        self.assertEqual(client.errors, [])
        time.sleep(0.3)  # the datagram is committed by now

        records = self.stop_and_read()
        for record in records:
            for field in ("value_sum", "value_min", "value_max", "latest_value"):
                self.assertTrue(math.isfinite(record[field]), record)
        self.assertEqual(totals_of(records), {
            ("tokens_total", "big-http", ()): [1, 1e308], ("prompts", "big-http", ()): [1, 1],
            ("tokens_total", "big-udp", ()): [1, 1e308], ("prompts", "big-udp", ()): [1, 1],
            ("tokens_total", "swing", ()): [2, 0.0], ("prompts", "swing", ()): [2, 2],
            ("tokens_total", "other", ()): [2, 12], ("prompts", "other", ()): [2, 2],
        })
        big_http = [r for r in records if r["meter"] == "tokens_total" and r["subject"] == "big-http"]
        self.assertEqual([r["value_sum"] for r in big_http], [1e308])
        letters = self.dead_letters()
        self.assertEqual(sorted(listener for listener, _ in letters), ["http", "http", "http", "udp"])
        self.assertTrue(all(reason.endswith(NON_FINITE) for _, reason in letters), letters)


if __name__ == "__main__":
    run_tests(globals())
