"""Every aggregation exact under shuffled, late and duplicated events: UDP → meterd → Kafka.

Seven meters (SUM, COUNT, AVG, MIN, MAX, LATEST, UNIQUE_COUNT) see two waves of a few thousand
shuffled events spread over the last four minutes (tests/harness/aggregations.py): the first
wave's windows close one grace later, so the second wave's events for them arrive late and
become revisions; some datagrams are sent twice (UDP: counted twice, by design); some values are
invalid and some events too old (dead letters). The records meterd sends, collapsed by key and
combined per window, must equal the reference recomputation for every meter, series and window.
The same again with early partials every second, and the cardinality bound.

Usage: /usr/bin/python3 tests/integration/test_aggregations.py --build-dir BUILD [unittest args]
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

from aggregations import (METERS, AggregationWorkload, answers, combine_records,  # noqa: E402
                          now_ms, rfc3339, send_waves, wait_processed)
from broker import MockBroker, dump_topic  # noqa: E402
from meterd import Meterd, unique_records  # noqa: E402

BUILD_DIR = None


class AggregationsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-agg-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 3})

    def tearDown(self):
        self.broker.stop()
        self.tmp.cleanup()

    def run_agent(self, work, meters=METERS, **windows):
        agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap, meters=meters)
        agent.config["windows"].update({"max_lateness": "10m", **windows})
        return agent

    def letters(self, agent):
        db = sqlite3.connect(agent.buffer_path)
        try:
            return [r[0] for r in db.execute("SELECT reason FROM dead_letters ORDER BY id")]
        finally:
            db.close()

    def check_exact(self, work, records):
        self.maxDiff = None
        got, expected = answers(combine_records(records)), answers(work.windows)
        for meter in METERS:
            slug = meter["slug"]
            with self.subTest(meter=slug):
                mine = {k: v for k, v in got.items() if k[0] == slug}
                theirs = {k: v for k, v in expected.items() if k[0] == slug}
                self.assertGreater(len(theirs), 20)
                self.assertEqual(mine, theirs)
        revised = collections.Counter((r["meter"], r["subject"], tuple(r["group_values"]),
                                       r["window_start"]) for r in records)
        return max(revised.values())

    def run_two_waves(self, seed, **windows):
        work = AggregationWorkload(seed=seed)
        with self.run_agent(work, **windows) as agent:
            agent.start()
            send_waves(agent, work)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
            letters = self.letters(agent)
        records = unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows"))
        return work, records, letters

    def test_every_aggregation_is_exact_over_late_shuffled_duplicated_events(self):
        work, records, letters = self.run_two_waves(seed=11)
        most_partials = self.check_exact(work, records)
        self.assertGreaterEqual(most_partials, 2, "the second wave should have made revisions")
        reasons = "\n".join(letters)
        for reason in ("time: older than max_lateness", "value is a non-numeric string",
                       "value is null", "value is a boolean, not a number", "value is NaN",
                       "value overflows a double", "meter v_users: value missing at $.user"):
            self.assertIn(reason, reasons)
        print(f"\n{work.sent} events, {len(records)} records, up to {most_partials} partials "
              f"per window", file=sys.stderr)

    def test_early_partials_keep_every_aggregation_exact(self):
        work, records, _ = self.run_two_waves(seed=12, partials_every="1s")
        most_partials = self.check_exact(work, records)
        self.assertGreaterEqual(most_partials, 2)

    def test_series_beyond_the_cardinality_limit_become_dead_letters(self):
        meters = [{"slug": "per_user", "eventType": "call", "aggregation": "COUNT",
                   "groupBy": {"user": "$.user"}, "cardinalityLimit": 5},
                  {"slug": "all_users", "eventType": "call", "aggregation": "COUNT",
                   "groupBy": {"user": "$.user"}}]
        work = AggregationWorkload(seed=13)
        with self.run_agent(work, meters=meters) as agent:
            agent.start()
            # A window a minute ahead stays open for the whole test; 8 users, 3 events each.
            time_ms = (now_ms() // 60_000 + 1) * 60_000 + 1000
            for round_ in range(3):
                for user in range(8):
                    agent.send(f'{{"specversion":"1.0","id":"{round_}-{user}","source":"t",'
                               f'"type":"call","subject":"s","time":"{rfc3339(time_ms)}",'
                               f'"data":{{"user":"u{user}"}}}}')
            wait_processed(agent, "cardinality-sent")
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
            letters = self.letters(agent)
        records = unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows"))
        per_user = {r["group_values"][0]: r["event_count"] for r in records
                    if r["meter"] == "per_user"}
        self.assertEqual(per_user, {f"u{i}": 3 for i in range(5)})
        # An event is accepted by every meter or by none: the three users over per_user's limit
        # count for all_users neither.
        self.assertEqual({r["group_values"][0] for r in records if r["meter"] == "all_users"},
                         {f"u{i}" for i in range(5)})
        over = [r for r in letters if "cardinality_limit" in r]
        self.assertEqual(len(over), 9)
        self.assertTrue("data: meter per_user: cardinality_limit: window " in over[0], over[0])
        self.assertTrue(any("(9 over a cardinality limit)" in line for line in agent.log),
                        "\n".join(agent.log))


if __name__ == "__main__":
    run_tests(globals())
