"""The fault suite: whatever happens to the process, the disk or the network, nothing
acknowledged is lost and nothing is counted twice.

Each test runs the real meterd against the test broker (and ClickHouse where the invariant is
stated in ClickHouse's terms), injures one thing, and compares the deduplicated totals with the
reference model of what was acknowledged (stream and HTTP clients) or committed.

Usage: /usr/bin/python3 tests/fault/test_faults.py --build-dir BUILD [unittest args]
"""

import glob
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker, dump_topic  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402
from clients import ResilientStreamSender, StreamClient, http_post  # noqa: E402
from meterd import (Meterd, Workload, clickhouse_totals, free_tcp_port, send_paced,  # noqa: E402
                    totals_of, totals_of_lines, unique_records)

BUILD_DIR = None
TOPIC = "meter-windows"
USAGE_SQL = REPO_ROOT / "packaging" / "clickhouse" / "usage_per_subject.sql"
BATCH = "application/cloudevents-batch+json"


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-fault-")
        self.broker = MockBroker(BUILD_DIR, brokers=3, topics={TOPIC: 6})
        self.stream_path = os.path.join(self.tmp.name, "stream.sock")
        self.http_port = free_tcp_port()
        self.agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap)
        self.agent.config["listeners"].update(
            {"unix_stream": self.stream_path, "http": f"127.0.0.1:{self.http_port}"})
        self.agent.config["kafka"]["properties"]["compression.type"] = "lz4"

    def tearDown(self):
        self.agent.__exit__()
        self.broker.stop()
        self.tmp.cleanup()

    def topic_totals(self):
        return totals_of(unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, TOPIC)))

    def clickhouse(self):
        clickhouse = ClickHouse(self.tmp.name)
        clickhouse.apply_schema(self.broker.bootstrap, TOPIC, "meterd-fault")
        return clickhouse

    def wait_clickhouse(self, clickhouse, events):
        query = "SELECT sum(event_count) FROM meterd.windows FINAL WHERE meter = 'prompts'"
        wait_for(lambda: int(clickhouse.query(query).strip() or 0) >= events, 180,
                 f"{events} events in ClickHouse")

    def test_sigkill_at_random_moments_loses_and_duplicates_nothing_acknowledged(self):
        work = Workload(seed=21, subjects=200)
        lines = [work.event() for _ in range(30000)]
        rng = random.Random(21)
        with self.clickhouse() as clickhouse:
            self.agent.start()
            sender = ResilientStreamSender(self.stream_path, lines, chunk=300).start()
            kills = 0
            while kills < 10 and sender.thread.is_alive():
                time.sleep(rng.uniform(0.2, 1.2))
                self.agent.kill()
                kills += 1
                self.agent.start()
            sender.join(240)
            self.assertIsNone(sender.failure)
            self.assertEqual(sender.acked, len(lines))
            self.assertEqual(kills, 10)
            self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
            self.wait_clickhouse(clickhouse, len(lines))
            self.assertEqual(clickhouse_totals(clickhouse, USAGE_SQL),
                             {k: [v[0], float(v[1])] for k, v in totals_of_lines(lines).items()})
        print(f"\nsigkill: 10 kills, {sender.reconnects} reconnects", file=sys.stderr)

    def test_broker_down_two_minutes_under_load_then_exact_and_backlog_drains(self):
        work = Workload(seed=22, subjects=300)
        self.agent.config["kafka"]["properties"]["message.timeout.ms"] = "10000"
        self.agent.start()
        self.broker.down()
        outage_end = time.monotonic() + 120
        lines = []
        while time.monotonic() < outage_end:  # acknowledged and fire-and-forget load
            batch = [work.event() for _ in range(200)]
            client = StreamClient(self.stream_path)
            client.send_lines(batch)
            client.read_until_acked(len(batch))
            client.close()
            lines += batch
            send_paced(self.agent, work.datagrams(400, 10), per_second=200)
            time.sleep(0.5)
        time.sleep(0.5)  # the last datagrams are committed
        _, _, backlog = self.agent.buffered()
        self.assertGreater(backlog, 0)
        self.broker.up()
        wait_for(lambda: self.agent.buffered()[2] == 0, 120, "the backlog to drain")
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertEqual(self.topic_totals(), dict(work.totals))
        print(f"\noutage: {backlog} rows waited two minutes, then drained", file=sys.stderr)

    def test_long_outage_coarsens_the_backlog_into_hours_within_bounds_and_stays_exact(self):
        # Events over three past hours, many subjects: thousands of minute partials.
        work = Workload(seed=27, subjects=40, span_ms=3 * 3600_000,
                        start_ms=int(time.time() * 1000) - 3 * 3600_000 - 120_000)
        self.agent.config["buffer"]["coarsen_at"] = 500
        self.agent.config["kafka"]["max_in_flight"] = 50
        self.agent.config["windows"]["max_lateness"] = "1d"
        self.agent.start()
        self.broker.down()
        send_paced(self.agent, work.datagrams(20000, 20), per_second=500)
        time.sleep(2)  # closed and coarsened
        _, _, backlog = self.agent.buffered()
        # At most one row per series (280) and hour (4) plus what is in flight, not one a minute.
        self.assertLessEqual(backlog, 280 * 4 + 50)
        self.assertTrue(any("merged into coarser windows" in l for l in self.agent.log))
        self.broker.up()
        wait_for(lambda: self.agent.buffered()[2] == 0, 120, "the backlog to drain")
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        records = unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, TOPIC))
        udp = [l for l in self.agent.log if "datagrams received" in l]
        self.assertEqual(totals_of(records), dict(work.totals), udp)
        self.assertTrue(any(r["window_size_s"] == 3600 for r in records))
        # Hourly totals stay exact: every record lies inside one hour.
        hourly = {}
        for r in records:
            key = (r["meter"], r["subject"], r["window_start"] // 3600)
            hourly[key] = hourly.get(key, 0) + r["event_count"]
            self.assertEqual(r["window_start"] // 3600,
                             (r["window_start"] + r["window_size_s"] - 1) // 3600)
        expected = {}
        for (meter, subject, _, start), w in work.windows.items():
            key = (meter, subject, start // 3600)
            expected[key] = expected.get(key, 0) + w[0]
        self.assertEqual(hourly, expected)
        print(f"\ncoarsening: backlog held at {backlog} rows; {len(records)} records sent",
              file=sys.stderr)

    def test_injected_produce_errors_and_duplicated_produces_are_exact_after_final(self):
        work = Workload(seed=23, subjects=200)
        self.agent.config["kafka"]["properties"].update(
            {"socket.timeout.ms": "1500", "message.timeout.ms": "5000"})
        with self.clickhouse() as clickhouse:
            self.agent.start()
            send_paced(self.agent, work.datagrams(5000, 10), per_second=500)
            # Retriable errors (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS)
            # and slow brokers whose produce requests time out and are sent again.
            for code in (6, 7, 19):
                self.broker.inject_errors(0, code, 20)
            for broker_id in (1, 2, 3):
                self.broker.set_rtt(broker_id, 2500)
            send_paced(self.agent, work.datagrams(5000, 10), per_second=500)
            time.sleep(4)
            for broker_id in (1, 2, 3):
                self.broker.set_rtt(broker_id, 0)
            send_paced(self.agent, work.datagrams(5000, 10), per_second=500)
            self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
            self.wait_clickhouse(clickhouse, work.sent)
            self.assertEqual(clickhouse_totals(clickhouse, USAGE_SQL),
                             {k: [v[0], float(v[1])] for k, v in work.totals.items()})
            rows = int(clickhouse.query("SELECT count() FROM meterd.windows").strip())
            keys = int(clickhouse.query(
                "SELECT count(DISTINCT idempotency_key) FROM meterd.windows").strip())
        print(f"\nproduce faults: {rows} rows for {keys} keys in ClickHouse", file=sys.stderr)

    def test_buffer_limit_refuses_with_clear_errors_keeps_forwarding_and_recovers(self):
        work = Workload(seed=24, subjects=5000)
        self.agent.config["buffer"].update({"max_size": "400KiB", "dedup_window": "3s"})
        self.agent.start()
        self.broker.down()
        accepted, refused_status = [], None
        for _ in range(200):  # until the buffer is full
            batch = [work.event() for _ in range(200)]
            status, text = http_post(self.http_port, "[" + ",".join(batch) + "]", BATCH)
            if status == 503:
                refused_status = (status, json.loads(text))
                break
            self.assertEqual(status, 204, text)
            accepted += batch
        self.assertIsNotNone(refused_status, "the buffer never filled")
        self.assertIn("buffer is full", refused_status[1]["detail"])
        client = StreamClient(self.stream_path)
        client.send_lines([work.event() for _ in range(10)])
        with self.assertRaises(ConnectionError):
            client.read_until_acked(10)
        self.assertIn("buffer full", client.errors[0][1])
        client.close()
        self.agent.send(work.event())  # a datagram over the limit: counted as refused

        self.broker.up()  # forwarding frees the space again
        deadline = time.monotonic() + 120
        while True:
            batch = [work.event() for _ in range(50)]
            status, _ = http_post(self.http_port, "[" + ",".join(batch) + "]", BATCH)
            if status == 204:
                accepted += batch
                break
            self.assertEqual(status, 503)
            self.assertLess(time.monotonic(), deadline, "the buffer never accepted again")
            time.sleep(1)
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertTrue(any("events refused" in line for line in self.agent.log))
        self.assertEqual(self.topic_totals(), totals_of_lines(accepted))
        integrity = sqlite3.connect(self.agent.buffer_path).execute("PRAGMA integrity_check")
        self.assertEqual(integrity.fetchone()[0], "ok")

    def test_truncated_and_corrupted_buffers_are_moved_aside_and_the_agent_starts_anew(self):
        work = Workload(seed=25, subjects=20)
        for damage in ("truncate", "overwrite", "garbage"):
            self.agent.start()
            send_paced(self.agent, work.datagrams(3000, 10))
            self.broker.down()  # keep rows in the file
            time.sleep(0.5)
            self.agent.kill()
            self.broker.up()
            # Fold the WAL into the main file, then damage the main file's pages.
            db = sqlite3.connect(self.agent.buffer_path)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            size = os.path.getsize(self.agent.buffer_path)
            self.assertGreater(size, 4096 * 8)
            with open(self.agent.buffer_path, "r+b") as f:
                if damage == "truncate":
                    f.truncate(size // 2 + 100)
                elif damage == "overwrite":
                    f.seek(4096 * 2)
                    f.write(os.urandom(4096 * 3))
                else:
                    f.seek(0)
                    f.write(b"not a database" * 100)
            self.agent.start()
            self.assertTrue(any("moved it to" in line for line in self.agent.log),
                            f"{damage}: " + "\n".join(self.agent.log))
            self.assertEqual(self.agent.stop(), 0)
        self.assertEqual(len(glob.glob(self.agent.buffer_path + ".corrupt-*[0-9]")), 3)
        with open(self.agent.buffer_path + ".recoveries") as f:
            self.assertEqual(f.read().strip(), "3")

    def test_a_second_agent_on_the_same_buffer_is_refused(self):
        self.agent.start()
        second = subprocess.run([self.agent.binary, "--config", self.agent.config_path],
                                capture_output=True, text=True, timeout=30)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn(f"another meterd (pid {self.agent.proc.pid}) is using the buffer",
                      second.stderr)
        self.assertEqual(self.agent.stop(), 0)

    def test_sigterm_under_load_exits_zero_within_the_deadline_and_is_exact(self):
        work = Workload(seed=26, subjects=300)
        lines = [work.event() for _ in range(20000)]
        self.agent.config["shutdown_timeout"] = "10s"
        self.agent.start()
        sender = ResilientStreamSender(self.stream_path, lines, chunk=500).start()
        while sender.acked < 8000:
            time.sleep(0.05)
        started = time.monotonic()
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        stop_s = time.monotonic() - started
        self.assertLess(stop_s, 10 + 2)
        self.agent.start()  # the sender resends what the stopped agent did not acknowledge
        sender.join(120)
        self.assertIsNone(sender.failure)
        self.assertEqual(sender.acked, len(lines))
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertEqual(self.topic_totals(), totals_of_lines(lines))
        print(f"\nsigterm under load: stopped in {stop_s:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    run_tests(globals())
