"""The pipeline end to end against the test broker: UDP events → meterd → Kafka records.

Each test runs the real meterd binary and kafka_mock_broker, sends random events whose exact
totals the Workload reference model keeps, and reads the topic back. Records are collapsed by
idempotency key first (the mock broker may store a retried produce twice, as any consumer must
expect), and a key seen with two different payloads fails the test.

Usage: /usr/bin/python3 tests/integration/test_pipeline.py --build-dir BUILD [unittest args]
"""

import collections
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
from meterd import Meterd, Workload, send_paced, totals_of, unique_records  # noqa: E402

BUILD_DIR = None


def windows_of(records):
    """(meter, subject, groups, window_start) -> [count, sum, min, max], revisions combined."""
    out = {}
    for r in records:
        key = (r["meter"], r["subject"], tuple(zip(r["group_keys"], r["group_values"])),
               r["window_start"])
        w = out.setdefault(key, [0, 0, r["value_min"], r["value_max"]])
        w[0] += r["event_count"]
        w[1] += r["value_sum"]
        w[2] = min(w[2], r["value_min"])
        w[3] = max(w[3], r["value_max"])
    return out


class PipelineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-it-")
        self.broker = MockBroker(BUILD_DIR, brokers=3, topics={"meter-windows": 3})

    def tearDown(self):
        self.broker.stop()
        self.tmp.cleanup()

    def meterd(self, **overrides):
        return Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap, **overrides)

    def records(self):
        return unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows"))

    def test_udp_events_become_exactly_the_expected_window_records(self):
        work = Workload(seed=1, subjects=40)
        with self.meterd() as agent:
            agent.start()
            for style, per in (("lines", 1), ("array", 10), ("lines", 10)):
                send_paced(agent, work.datagrams(1000, per, style))
            agent.send("this is not an event")
            agent.send('{"specversion":"1.0","id":"x","source":"s","type":"prompt","subject":"c"}')
            agent.wait_buffered_events(3000)
            # Threads are named, for top -H, perf and the bench's per-thread CPU split.
            threads = {(task / "comm").read_text().strip()
                       for task in Path(f"/proc/{agent.proc.pid}/task").iterdir()}
            self.assertLessEqual({"ingest", "store", "uplink"}, threads)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
            letters = sqlite3.connect(agent.buffer_path).execute(
                "SELECT listener, reason FROM dead_letters ORDER BY id").fetchall()

        records = self.records()
        windows = windows_of(records)
        # An event is accepted by every meter it matches or by none: the one without a value
        # counts for no meter, not even the COUNT meter, which needs none (its dead letter below).
        self.assertEqual([k for k in windows if k[1] == "c"], [])
        self.assertEqual(windows, work.windows)
        for r in records:
            self.assertEqual(r["agent_id"], "test-agent")
            self.assertEqual(r["window_size_s"], 60)
        self.assertEqual(len(letters), 2)
        self.assertEqual(letters[0][0], "udp")
        self.assertTrue(letters[0][1].startswith("event 0: invalid JSON"), letters[0])
        self.assertEqual(letters[1], ("udp", "event 0: data: meter tokens_total: value missing at $.tokens"))

    def test_restart_with_rows_still_buffered_loses_and_duplicates_nothing(self):
        work = Workload(seed=2, subjects=50)
        with self.meterd() as agent:
            self.broker.down()
            agent.start()
            send_paced(agent, work.datagrams(2000, 5))
            agent.wait_buffered_events(2000)
            agent.kill()  # a crash with everything still buffered

            agent.start()
            self.broker.up()
            send_paced(agent, work.datagrams(2000, 5))
            agent.wait_buffered_events(1)  # the restarted agent is committing again
            time.sleep(1.5)  # some rows go out before the graceful restart below
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))

            agent.start()
            send_paced(agent, work.datagrams(1000, 5))
            agent.wait_buffered_events(1)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
            self.assertEqual(agent.buffered(), (0, 0, 0))

        self.assertEqual(totals_of(self.records()), dict(work.totals))

    def test_broker_outage_while_events_flow_then_recovery_is_exact(self):
        work = Workload(seed=3, subjects=100)
        # A short delivery timeout makes meterd's own retry path (not only librdkafka's) run.
        agent = self.meterd()
        agent.config["kafka"]["properties"]["message.timeout.ms"] = "3000"
        with agent:
            agent.start()
            send_paced(agent, work.datagrams(1000, 4))
            time.sleep(2)  # the first windows are delivered before the outage
            self.broker.down()
            outage_end = time.monotonic() + 20
            while time.monotonic() < outage_end:  # events keep flowing during the outage
                send_paced(agent, work.datagrams(200, 4))
                time.sleep(0.5)
            open_events, outbox_events, outbox_rows = agent.buffered()
            self.assertGreater(outbox_rows, 0, "the outage should have left rows waiting")
            self.broker.up()
            send_paced(agent, work.datagrams(1000, 4))
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
            self.assertEqual(agent.buffered(), (0, 0, 0))

        dump = dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows")
        records = unique_records(dump)
        self.assertEqual(totals_of(records), dict(work.totals))
        print(f"\noutage: {len(dump)} messages, {len(records)} distinct keys, "
              f"{outbox_rows} rows waited", file=sys.stderr)


if __name__ == "__main__":
    run_tests(globals())
