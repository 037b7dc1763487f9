"""The whole pipeline, exact: UDP events → meterd → Kafka → ClickHouse → usage per subject.

100,000 random events over 1,000 subjects and six groups (model × region) go through the real
meterd, the test broker and clickhouse-server with the shipped schema; the shipped query
(packaging/clickhouse/usage_per_subject.sql) must return, for every meter, subject and group,
exactly the event count and sum the test sent. A crash-restart in the middle (SIGKILL with rows
buffered) makes meterd resend what it had not confirmed, so ClickHouse also sees duplicates.

Usage: /usr/bin/python3 tests/e2e/test_pipeline_clickhouse.py --build-dir BUILD [unittest args]
"""

import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402
from meterd import Meterd, Workload, clickhouse_totals, send_paced  # noqa: E402

BUILD_DIR = None
TOPIC = "meter-windows"
EVENTS = 100_000
# The mock broker keeps only ~5 MB per partition, so ClickHouse consumes while meterd produces,
# over six partitions, with lz4 (which ClickHouse 18.16 reads) making records smaller still.
PARTITIONS = 6


def wait_for_count(clickhouse, expected, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        counted = int(clickhouse.query(
            "SELECT sum(event_count) FROM meterd.windows FINAL WHERE meter = 'prompts'").strip()
            or 0)
        if counted >= expected or time.monotonic() > deadline:
            return counted
        time.sleep(0.5)


class PipelineClickHouseTest(unittest.TestCase):
    def test_usage_per_subject_and_group_equals_the_sums_sent(self):
        with tempfile.TemporaryDirectory(prefix="meterd-e2e-") as tmp, \
                MockBroker(BUILD_DIR, brokers=3, topics={TOPIC: PARTITIONS}) as broker, \
                ClickHouse(tmp) as clickhouse, \
                Meterd(BUILD_DIR, tmp, broker.bootstrap) as agent:
            clickhouse.apply_schema(broker.bootstrap, TOPIC, "meterd-e2e")
            agent.config["kafka"]["properties"]["compression.type"] = "lz4"
            agent.config["windows"]["grace"] = "20s"
            work = Workload(seed=7, subjects=1000, span_ms=120_000)

            # The first half waits in the buffer (broker down) and is committed before the crash,
            # so the crash loses nothing; the restarted agent sends it all.
            broker.down()
            agent.start()
            send_paced(agent, work.datagrams(EVENTS // 2, 20, "array"), per_second=2_000)
            agent.wait_buffered_events(EVENTS // 2)
            agent.kill()
            broker.up()
            agent.start()
            send_paced(agent, work.datagrams(EVENTS - work.sent, 20, "lines"), per_second=2_000)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))

            # Every event feeds the COUNT meter once: ClickHouse is done when that sums to EVENTS
            # (deduplicated), and the per-subject comparison below then checks everything else.
            started = time.monotonic()
            counted = wait_for_count(clickhouse, EVENTS, timeout_s=120)
            consumed_s = time.monotonic() - started
            self.assertEqual(counted, EVENTS)
            usage = clickhouse_totals(
                clickhouse, REPO_ROOT / "packaging" / "clickhouse" / "usage_per_subject.sql")

        expected = {k: [v[0], float(v[1])] for k, v in work.totals.items()}
        self.maxDiff = 4000
        self.assertEqual(sum(v[0] for v in usage.values()), sum(v[0] for v in expected.values()))
        self.assertEqual(len(usage), len(expected))
        self.assertEqual(usage, expected)
        self.assertEqual(sum(v[0] for k, v in usage.items() if k[0] == "prompts"), EVENTS)
        print(f"\ne2e: {EVENTS} events; ClickHouse caught up {consumed_s:.1f} s after meterd "
              f"stopped", file=sys.stderr)


if __name__ == "__main__":
    run_tests(globals())
