"""Every aggregation's shipped query over ClickHouse equals the reference recomputation.

The workload of tests/integration/test_aggregations.py (seven meters, two waves of shuffled
events, late revisions, duplicated datagrams, dead letters) goes through meterd, the test broker
and clickhouse-server with the shipped schema; meterd is also restarted in the middle of the
second wave's delivery, so some partials reach ClickHouse twice. Then each
packaging/clickhouse/meter_<aggregation>.sql, per hour and per day in a half-hour-offset time
zone and in UTC, must return exactly what the reference model computes from the events sent.

Also a UNIQUE_COUNT window with more distinct values than one Kafka record holds (30,000 values
of 40 bytes, 1.2 MB): its partial goes out as several records, each under Kafka's 1 MB, and
meter_unique_count.sql counts every value once.

Usage: /usr/bin/python3 tests/e2e/test_aggregations_clickhouse.py --build-dir BUILD [unittest args]
"""

import json
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from aggregations import (METERS, AggregationWorkload, reference_periods,  # noqa: E402
                          send_waves)
from broker import MockBroker, dump_topic  # noqa: E402
from clickhouse import ClickHouse, render, split_sql  # noqa: E402
from meterd import Meterd, rfc3339, send_paced, unique_records  # noqa: E402

BUILD_DIR = None
TOPIC = "meter-windows"
QUERIES = REPO_ROOT / "packaging" / "clickhouse"
PERIODS = {"hour": "toStartOfHour", "day": "toStartOfDay"}


def run_query(clickhouse, aggregation, meter, period, zone):
    """(subject, groups, period start unix) -> value from meter_<aggregation>.sql."""
    template = (QUERIES / f"meter_{aggregation.lower()}.sql").read_text()
    sql = render(template, {"METER": meter, "PERIOD": PERIODS[period], "TIME_ZONE": zone})
    [statement] = split_sql(sql)
    out = {}
    for line in clickhouse.query(statement).splitlines():
        subject, groups, _local, period_unix, value = line.split("\t")[:5]
        out[(subject, groups, int(period_unix))] = float(value)
    return out


def wait_for_keys(clickhouse, keys, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        count = int(clickhouse.query(
            "SELECT count(DISTINCT idempotency_key) FROM meterd.windows").strip() or 0)
        if count >= keys or time.monotonic() > deadline:
            return count
        time.sleep(0.25)


class AggregationsClickHouseTest(unittest.TestCase):
    def test_each_aggregation_query_equals_the_reference(self):
        work = AggregationWorkload(seed=21)
        with tempfile.TemporaryDirectory(prefix="meterd-e2e-agg-") as tmp, \
                MockBroker(BUILD_DIR, brokers=1, topics={TOPIC: 3}) as broker, \
                ClickHouse(tmp) as clickhouse, \
                Meterd(BUILD_DIR, tmp, broker.bootstrap, meters=METERS) as agent:
            clickhouse.apply_schema(broker.bootstrap, TOPIC, "meterd-e2e-agg")
            agent.config["windows"]["max_lateness"] = "10m"
            agent.start()
            send_waves(agent, work, waves=1)
            # A crash with partials in flight: the restart resends what was not confirmed.
            agent.kill()
            agent.start()
            send_waves(agent, work, waves=1)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))

            keys = len(unique_records(dump_topic(BUILD_DIR, broker.bootstrap, TOPIC)))
            self.assertEqual(wait_for_keys(clickhouse, keys, timeout_s=60), keys)
            results = {}
            for meter in METERS:
                for period in PERIODS:
                    for zone in ("Asia/Kolkata", "UTC"):
                        results[(meter["slug"], period, zone)] = run_query(
                            clickhouse, meter["aggregation"], meter["slug"], period, zone)

        self.maxDiff = None
        for (slug, period, zone), got in results.items():
            with self.subTest(meter=slug, period=period, zone=zone):
                expected = reference_periods(work.windows, slug, period, zone)
                self.assertGreater(len(expected), 3)
                self.assertEqual(got, {k: float(v) for k, v in expected.items()})

    def test_a_window_beyond_one_record_of_distinct_values_counts_exactly(self):
        meters = [{"slug": "users", "eventType": "call", "aggregation": "UNIQUE_COUNT",
                   "valueProperty": "$.user"}]
        values = [f"user-{i:07d}".ljust(40, "x") for i in range(30_000)]
        event_ms = int(time.time() * 1000) - 1000  # one window: all events share a time

        def datagrams(per_datagram=100):
            for first in range(0, len(values), per_datagram):
                yield json.dumps([
                    {"specversion": "1.0", "id": f"e{i}", "source": "test", "type": "call",
                     "subject": "customer-1", "time": rfc3339(event_ms),
                     "data": {"user": values[i]}}
                    for i in range(first, min(first + per_datagram, len(values)))])

        with tempfile.TemporaryDirectory(prefix="meterd-e2e-unique-") as tmp, \
                MockBroker(BUILD_DIR, brokers=1, topics={TOPIC: 3}) as broker, \
                ClickHouse(tmp) as clickhouse, \
                Meterd(BUILD_DIR, tmp, broker.bootstrap, meters=meters) as agent:
            clickhouse.apply_schema(broker.bootstrap, TOPIC, "meterd-e2e-unique")
            agent.start()
            send_paced(agent, datagrams(), per_second=2_000)
            agent.wait_buffered_events(len(values))
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))  # closes the window early

            records = unique_records(dump_topic(BUILD_DIR, broker.bootstrap, TOPIC))
            self.assertGreater(len(records), 1)
            for record in records:
                self.assertLess(len(json.dumps(record)), 1_000_000)
            self.assertEqual(sum(r["event_count"] for r in records), len(values))
            self.assertEqual(sorted(v for r in records for v in r["distinct_values"]), values)
            self.assertEqual(wait_for_keys(clickhouse, len(records), timeout_s=60), len(records))
            got = run_query(clickhouse, "UNIQUE_COUNT", "users", "hour", "UTC")
        self.assertEqual(list(got.values()), [len(values)])


if __name__ == "__main__":
    run_tests(globals())
