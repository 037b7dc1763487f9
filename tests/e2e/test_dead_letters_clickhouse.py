"""Dead letters reach the center: refused events → meterd → the dead-letter topic → ClickHouse.

Events refused for every reason code (invalid, value, late, future, cardinality, oversized) go
through the real meterd, the test broker and clickhouse-server with the shipped schema. Every
dead letter the agent keeps must reach the topic with its key and reason code, and ClickHouse's
table (through the shipped query, packaging/clickhouse/dead_letters_per_hour.sql) must count
each exactly once although the agent resends: a SIGKILL mid-way with letters unconfirmed, and
confirmations lost with the process (the test clears the sent marks of letters already in Kafka
while meterd is down, as a crash between the broker's acknowledgement and the commit would).
Along the way, /status's broker_connected follows a broker outage down and back up.

Usage: /usr/bin/python3 tests/e2e/test_dead_letters_clickhouse.py --build-dir BUILD [unittest args]
"""

import json
import sqlite3
import sys
import tempfile
import time
import unittest
import urllib.request
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker, dump_topic  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402
from clients import http_post  # noqa: E402
from meterd import DEFAULT_METERS, Meterd, free_tcp_port, rfc3339  # noqa: E402

BUILD_DIR = None
TOPIC = "meter-windows"
DEAD_LETTER_TOPIC = "meter-dead-letters"
REASON_CODES = {"invalid", "value", "late", "future", "cardinality", "oversized"}
PER_HOUR_SQL = REPO_ROOT / "packaging" / "clickhouse" / "dead_letters_per_hour.sql"
# A COUNT meter that holds one series a window: a second subject in the window is refused.
METERS = DEFAULT_METERS + [
    {"slug": "calls", "eventType": "call", "aggregation": "COUNT", "cardinalityLimit": 1}]


def event(event_id, subject="acme", etype="prompt", data=None, time_ms=None):
    e = {"specversion": "1.0", "id": str(event_id), "source": "e2e", "type": etype,
         "subject": subject, "data": data if data is not None else {"tokens": 1}}
    if time_ms is not None:
        e["time"] = rfc3339(time_ms)
    return e


def send_refused(agent, http_port, group):
    """Sends events refused for every reason; `group` keeps ids and subjects apart."""
    now = int(time.time() * 1000)
    agent.send(b"not json {" + group.encode())                              # invalid
    agent.send(json.dumps({"specversion": "1.0", "id": group, "source": "e2e",
                           "type": "prompt"}))                              # invalid: no subject
    agent.send(b"\xc1\xff\xfe" + group.encode())                            # invalid, not UTF-8
    agent.send("x" * 20_000 + group)                                        # invalid, cut at 8 KiB
    agent.send(json.dumps(event(group + "-v", data={"tokens": "many"})))    # value
    agent.send(json.dumps(event(group + "-l", time_ms=now - 2 * 3600_000)))  # late
    agent.send(json.dumps(event(group + "-f", time_ms=now + 3600_000)))     # future
    # Three subjects in one payload, so in one window: at least two over the limit of one.
    agent.send(json.dumps([event(f"{group}-c{i}", subject=f"{group}-s{i}", etype="call")
                           for i in range(3)]))                             # cardinality
    status, _ = http_post(http_port, json.dumps(event(group + "-o", data={"pad": "y" * 4096})),
                          "application/cloudevents+json")
    if status != 413:
        raise AssertionError(f"an HTTP body over http_max_body got {status}, not 413")


def buffer_letters(agent):
    """{dead letter key: (reason code, sent)} as the agent's buffer holds them."""
    db = sqlite3.connect(f"file:{agent.buffer_path}?mode=ro", uri=True, timeout=10)
    try:
        buffer_id = db.execute("SELECT value FROM meta WHERE key = 'buffer_id'").fetchone()[0]
        return {f"{buffer_id}-{i}": (code, sent) for i, code, sent in
                db.execute("SELECT id, reason_code, sent FROM dead_letters")}
    finally:
        db.close()


def wait_until(predicate, what, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def broker_connected(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/status", timeout=5) as response:
        status = json.load(response)

    def find(node):
        if isinstance(node, dict):
            if "broker_connected" in node:
                return node["broker_connected"]
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        return None
    return find(status)


class DeadLettersClickHouseTest(unittest.TestCase):
    def test_every_dead_letter_reaches_clickhouse_once(self):
        http_port, admin_port = free_tcp_port(), free_tcp_port()
        with tempfile.TemporaryDirectory(prefix="meterd-e2e-dl-") as tmp, \
                MockBroker(BUILD_DIR, brokers=1,
                           topics={TOPIC: 1, DEAD_LETTER_TOPIC: 2}) as broker, \
                ClickHouse(tmp) as clickhouse, \
                Meterd(BUILD_DIR, tmp, broker.bootstrap, meters=METERS) as agent:
            clickhouse.apply_schema(broker.bootstrap, TOPIC, "meterd-e2e-dl",
                                    dead_letter_topic=DEAD_LETTER_TOPIC)
            agent.config["listeners"].update({
                "http": f"127.0.0.1:{http_port}", "admin": f"127.0.0.1:{admin_port}",
                "http_max_body": "2KiB"})
            agent.config["windows"].update({"max_lateness": "1h", "max_future": "5m"})
            agent.config["kafka"]["dead_letter_topic"] = DEAD_LETTER_TOPIC

            # A: sent and confirmed; the broker's outage shows in /status and passes.
            agent.start()
            send_refused(agent, http_port, "a")
            # Ten letters a group at least: four invalid, two or three over the cardinality limit.
            wait_until(lambda: len(buffer_letters(agent)) >= 10, "group a in the buffer")
            wait_until(lambda: all(s for _, s in buffer_letters(agent).values()),
                       "group a confirmed")
            sent_a = set(buffer_letters(agent))
            self.assertTrue(broker_connected(admin_port))
            broker.down()
            wait_until(lambda: broker_connected(admin_port) is False, "broker_connected 0", 10)
            broker.up()
            wait_until(lambda: broker_connected(admin_port) is True, "broker_connected 1", 15)

            # B: refused while the broker is down, then a crash with them unconfirmed.
            broker.down()
            send_refused(agent, http_port, "b")
            wait_until(lambda: len(buffer_letters(agent)) >= len(sent_a) + 10, "group b")
            agent.kill()
            # Confirmations of A lost with the process: the restarted agent sends A again.
            db = sqlite3.connect(agent.buffer_path)
            db.execute("UPDATE dead_letters SET sent = 0")
            db.commit()
            db.close()

            # C: after the restart, with the broker back.
            broker.up()
            agent.start()
            send_refused(agent, http_port, "c")
            wait_until(lambda: len(buffer_letters(agent)) >= len(sent_a) + 20, "group c")
            wait_until(lambda: all(s for _, s in buffer_letters(agent).values()),
                       "every letter confirmed", 60)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
            letters = buffer_letters(agent)
            expected = {key: code for key, (code, _) in letters.items()}

            records = dump_topic(BUILD_DIR, broker.bootstrap, DEAD_LETTER_TOPIC)
            self.check_topic(records, expected, sent_a)
            self.check_clickhouse(clickhouse, expected)

    def check_topic(self, records, expected, sent_a):
        by_key = {}
        for record in records:
            value = record["value"]
            self.assertEqual(record["key"], value["dead_letter_key"])
            # Every copy of a letter carries the same bytes.
            self.assertEqual(by_key.setdefault(record["key"], value), value)
        self.assertEqual({k: v["reason_code"] for k, v in by_key.items()}, expected)
        self.assertEqual(set(expected.values()), REASON_CODES)
        self.assertGreaterEqual(len(records), len(expected) + len(sent_a))  # A went twice
        cut = [v for v in by_key.values() if v["raw_bytes"] > 8192]
        self.assertEqual(len(cut), 3)
        for v in cut:
            self.assertEqual((v["raw_truncated"], len(v["raw"])), (1, 8192))

    def check_clickhouse(self, clickhouse, expected):
        deadline = time.monotonic() + 120
        while True:
            count = int(clickhouse.query(
                "SELECT count(DISTINCT dead_letter_key) FROM meterd.dead_letters").strip())
            if count >= len(expected) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(count, len(expected), clickhouse.log_tail())
        rows = clickhouse.query(
            "SELECT dead_letter_key, reason_code FROM meterd.dead_letters FINAL").splitlines()
        self.assertEqual(dict(line.split("\t") for line in rows), expected)
        per_code = Counter()
        for line in clickhouse.query_file(PER_HOUR_SQL).splitlines():
            agent_id, code, _hour, letters, _truncated = line.split("\t")
            self.assertEqual(agent_id, "test-agent")
            per_code[code] += int(letters)
        self.assertEqual(per_code, Counter(expected.values()))
        # Copies were stored (A twice) but the query counted each letter once.
        stored = int(clickhouse.query("SELECT count() FROM meterd.dead_letters").strip())
        print(f"\ne2e: {len(expected)} dead letters, {stored} rows before merges",
              file=sys.stderr)


if __name__ == "__main__":
    run_tests(globals())
