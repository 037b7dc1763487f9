"""End-to-end check of the shipped ClickHouse side (packaging/clickhouse/) without the agent.

Hand-written window records go through the real path a deployment uses: the test Kafka broker,
ClickHouse's Kafka engine table, the materialized view and the ReplacingMergeTree. The shipped
queries must then return exact totals although one idempotency key was delivered twice.

Background merges are stopped before the duplicate arrives, so it is still a separate row when
the queries run: that proves the queries themselves deduplicate (FINAL) rather than relying on a
merge having happened. The last test then merges and checks that nothing changes.

Usage: /usr/bin/python3 tests/e2e/test_clickhouse_schema.py --build-dir BUILD [unittest args]
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from broker import MockBroker, produce  # noqa: E402
from clickhouse import ClickHouse, find_server_command  # noqa: E402

QUERIES = REPO_ROOT / "packaging" / "clickhouse"
TOPIC = "meter-windows"
CONSUME_TIMEOUT_S = 90
BUILD_DIR = None  # set from --build-dir before unittest runs


def key_of(name):
    """A 32-hex-digit idempotency key; the value only needs to be stable and unique per name."""
    return hashlib.md5(name.encode()).hexdigest()


def record(name, meter, subject, groups, window_start, event_count, value_sum, revision=0):
    """One Kafka message (key, JSON value) shaped exactly like the agent's record."""
    keys = sorted(groups)
    value = {
        "idempotency_key": key_of(name),
        "agent_id": "edge-1",
        "meter": meter,
        "subject": subject,
        "group_keys": keys,
        "group_values": [groups[k] for k in keys],
        "window_start": window_start,
        "window_size_s": 60,
        "revision": revision,
        "event_count": event_count,
        "value_sum": value_sum,
        "value_min": 0,
        "value_max": value_sum,
        "latest_value": value_sum,
        "latest_time_ms": (window_start + 59) * 1000 + 123,
        "distinct_values": [],
    }
    return key_of(name), json.dumps(value, separators=(",", ":"))


# 2023-01-01 00:01:00, 00:02:00, 00:03:00 and 01:01:00 UTC.
T0001, T0002, T0003, T0101 = 1672531260, 1672531320, 1672531380, 1672534860
GPT4 = {"model": "gpt-4"}

# Produced before the schema exists: the new consumer group must still read them
# (auto_offset_reset=smallest in the server config).
FIRST_BATCH = [
    record("a", "tokens_total", "customer-1", GPT4, T0001, 12, 119),
    # A late revision of the same window: a separate partial with its own key, fractional value.
    record("b", "tokens_total", "customer-1", GPT4, T0001, 1, 0.25, revision=1),
    record("c", "tokens_total", "customer-1", {"model": "gpt-3.5"}, T0002, 3, 2.5),
    record("d", "tokens_total", "customer-1", GPT4, T0101, 2, 30),
    # A COUNT meter without groups: value_sum equals event_count.
    record("e", "requests", "customer-2", {}, T0001, 5, 5),
    record("f", "tokens_total", "customer-2", {"region": "eu", "model": "gpt-4"}, T0001, 4, 0.125),
]
# Record "a" again, byte for byte, as an agent resends after a lost acknowledgement.
SECOND_BATCH = [FIRST_BATCH[0], record("g", "tokens_total", "customer-1", GPT4, T0003, 1, 7)]
DISTINCT_KEYS = 7
MESSAGES = len(FIRST_BATCH) + len(SECOND_BATCH)

# Written out by hand rather than computed, so a mistake cannot be mirrored on both sides.
# (meter, subject, groups, events, usage); "a" is counted once: 119 + 0.25 + 30 + 7 = 156.25.
EXPECTED_PER_SUBJECT = [
    ("requests", "customer-2", "", 5, 5.0),
    ("tokens_total", "customer-1", "model=gpt-3.5", 3, 2.5),
    ("tokens_total", "customer-1", "model=gpt-4", 16, 156.25),
    ("tokens_total", "customer-2", "model=gpt-4,region=eu", 4, 0.125),
]
# (meter, subject, groups, hour, events, usage)
EXPECTED_PER_SUBJECT_HOUR = [
    ("requests", "customer-2", "", "2023-01-01 00:00:00", 5, 5.0),
    ("tokens_total", "customer-1", "model=gpt-3.5", "2023-01-01 00:00:00", 3, 2.5),
    ("tokens_total", "customer-1", "model=gpt-4", "2023-01-01 00:00:00", 14, 126.25),
    ("tokens_total", "customer-1", "model=gpt-4", "2023-01-01 01:00:00", 2, 30.0),
    ("tokens_total", "customer-2", "model=gpt-4,region=eu", "2023-01-01 00:00:00", 4, 0.125),
]


def parse_tsv(text):
    """TSV rows with the trailing (events, usage) columns parsed, so "5" and "5.0" compare equal."""
    rows = []
    for line in text.splitlines():
        *labels, events, usage = line.split("\t")
        rows.append((*labels, int(events), float(usage)))
    return rows


class ClickHouseSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            find_server_command()
        except FileNotFoundError as e:
            raise unittest.SkipTest(str(e))
        started = time.monotonic()
        tmp = tempfile.TemporaryDirectory(prefix="meterd-e2e-ch-")
        cls.addClassCleanup(tmp.cleanup)
        log = open(os.path.join(tmp.name, "broker.log"), "wb")
        cls.addClassCleanup(log.close)

        cls.broker = MockBroker(BUILD_DIR, brokers=3, topics={TOPIC: 3}, stderr=log)
        cls.addClassCleanup(cls.broker.stop)
        produce(BUILD_DIR, cls.broker.bootstrap, TOPIC, FIRST_BATCH)

        cls.ch = ClickHouse(tmp.name)
        cls.addClassCleanup(cls.ch.stop)
        cls.ch.apply_schema(cls.broker.bootstrap, TOPIC, "meterd-e2e")
        # Keep every delivered copy as its own row (see the module comment). Only the first batch,
        # which has no duplicates, can have been inserted before this.
        cls.ch.query("SYSTEM STOP MERGES meterd.windows")
        cls.ch.wait_for_rows(len(FIRST_BATCH), CONSUME_TIMEOUT_S)

        produce(BUILD_DIR, cls.broker.bootstrap, TOPIC, SECOND_BATCH)
        cls.ch.wait_for_rows(DISTINCT_KEYS, CONSUME_TIMEOUT_S)
        # Distinct keys do not show that the duplicate arrived; raw rows do.
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while cls.raw_rows() < MESSAGES:
            if time.monotonic() > deadline:
                raise TimeoutError("the duplicate of record 'a' never reached meterd.windows:\n"
                                   + cls.ch.log_tail())
            time.sleep(0.25)
        print("\n[e2e] ClickHouse consumed %d messages in %.1f s"
              % (MESSAGES, time.monotonic() - started), file=sys.stderr)

    @classmethod
    def raw_rows(cls):
        return int(cls.ch.query("SELECT count() FROM meterd.windows").strip())

    def check_queries(self):
        per_subject = parse_tsv(self.ch.query_file(QUERIES / "usage_per_subject.sql"))
        self.assertEqual(per_subject, EXPECTED_PER_SUBJECT)
        per_hour = parse_tsv(self.ch.query_file(QUERIES / "usage_per_subject_hour.sql"))
        self.assertEqual(per_hour, EXPECTED_PER_SUBJECT_HOUR)

    def test_duplicate_is_stored_twice_but_counted_once(self):
        self.assertEqual(self.raw_rows(), MESSAGES)
        self.check_queries()

    def test_totals_unchanged_once_duplicates_are_merged_away(self):
        self.ch.query("SYSTEM START MERGES meterd.windows")
        self.ch.query("OPTIMIZE TABLE meterd.windows FINAL")
        self.assertEqual(self.raw_rows(), DISTINCT_KEYS)
        self.check_queries()

    def test_window_time_is_derived_from_window_start(self):
        text = self.ch.query("SELECT DISTINCT toString(window_time) FROM meterd.windows "
                             "WHERE window_start = %d" % T0101)
        self.assertEqual(text.strip(), "2023-01-01 01:01:00")


def main():
    global BUILD_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--build-dir", required=True)
    args, rest = parser.parse_known_args()
    BUILD_DIR = os.path.abspath(args.build_dir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
