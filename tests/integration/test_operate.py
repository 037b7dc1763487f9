"""Operating meterd: the admin listener's metrics, health and readiness against a real agent.

meterd runs with all four ingest listeners and the admin listener against the test broker. The
tests check that each transport's counters equal what was sent, exactly, with refusals counted
per reason; that a live scrape passes `promtool check metrics`; that /healthz stays 200 through a
broker outage while meterd_broker_connected is 0 and the outbox's oldest age grows; and that
/readyz flips to 503 when the buffer is full (back to 200 once it drains) and at SIGTERM.

Usage: /usr/bin/python3 tests/integration/test_operate.py --build-dir BUILD [unittest args]
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker  # noqa: E402
from clients import StreamClient, http_post, send_unix_datagram  # noqa: E402
from meterd import Meterd, Workload, free_tcp_port, send_paced  # noqa: E402

BUILD_DIR = None
BATCH = "application/cloudevents-batch+json"


def get(port, path, timeout_s=10):
    """(status, body) of GET http://127.0.0.1:port/path; 503 answers are answers too."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    """Sample name with sorted labels -> value, from /metrics."""
    status, text = get(port, "/metrics")
    assert status == 200, text
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples, text


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class OperateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-operate-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 3,
                                                               "meter-dead-letters": 1})
        self.admin_port = free_tcp_port()
        self.http_port = free_tcp_port()
        self.datagram_path = os.path.join(self.tmp.name, "events.dgram")
        self.stream_path = os.path.join(self.tmp.name, "events.sock")
        self.agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap)
        self.agent.config["listeners"].update({
            "admin": f"127.0.0.1:{self.admin_port}",
            "http": f"127.0.0.1:{self.http_port}",
            "unix_datagram": self.datagram_path,
            "unix_stream": self.stream_path,
            "http_max_body": "64KiB",
        })

    def tearDown(self):
        self.agent.__exit__(None, None, None)
        self.broker.stop()
        self.tmp.cleanup()

    def status(self):
        code, body = get(self.admin_port, "/status")
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def test_counters_per_transport_equal_what_was_sent(self):
        work = Workload(seed=41, subjects=30)
        self.agent.start()
        send_paced(self.agent, work.datagrams(300))
        for datagram in work.datagrams(200):
            send_unix_datagram(self.datagram_path, datagram)
        stream_lines = [work.event() for _ in range(150)]
        client = StreamClient(self.stream_path)
        client.send_lines(stream_lines)
        client.read_until_acked(150)
        client.send_lines(stream_lines[:40])  # resends: accepted, and deduplicated
        client.read_until_acked(190)
        client.close()
        http_events = [work.event() for _ in range(120)]
        self.assertEqual(http_post(self.http_port, "[" + ",".join(http_events) + "]", BATCH)[0],
                         204)
        # Refusals with a known reason on each transport.
        late = json.loads(work.event())
        late["time"] = "2001-01-01T00:00:00Z"
        self.agent.send("{not json")                                   # udp: invalid
        self.agent.send(json.dumps(late))                              # udp: late
        future = json.loads(work.event())
        future["time"] = "2101-01-01T00:00:00Z"
        send_unix_datagram(self.datagram_path, json.dumps(future))     # unix_datagram: future
        bad_value = json.loads(work.event())
        bad_value["data"]["tokens"] = "many"
        status, _ = http_post(self.http_port, json.dumps(bad_value), "application/cloudevents+json")
        self.assertEqual(status, 400)                                  # http: value
        status, _ = http_post(self.http_port, "[" + " " * 70_000 + "]", BATCH)
        self.assertEqual(status, 413)                                  # http: oversized

        expected_received = {"udp": 302, "unix_datagram": 201, "unix_stream": 190, "http": 122}
        expected_accepted = {"udp": 300, "unix_datagram": 200, "unix_stream": 190, "http": 120}

        def settled():
            s = self.status()
            return s if (s["events"]["received"] == expected_received and
                         s["events"]["accepted"] == expected_accepted) else None
        try:
            s = wait_for(settled, 30, "the counters to reach what was sent")
        except AssertionError:
            self.fail(json.dumps(self.status()["events"], indent=1))
        rejected = s["events"]["rejected"]
        self.assertEqual(rejected["udp"]["invalid"], 1)
        self.assertEqual(rejected["udp"]["late"], 1)
        self.assertEqual(rejected["http"]["oversized"], 1)
        self.assertEqual(rejected["unix_datagram"]["future"], 1)
        self.assertEqual(rejected["http"]["value"], 1)
        total_rejected = sum(sum(r.values()) for r in rejected.values())
        self.assertEqual(total_rejected, 5, rejected)
        self.assertEqual(s["events"]["deduplicated"], 40)
        self.assertEqual(s["buffer"]["dead_letters_by_reason"],
                         {"invalid": 1, "late": 1, "future": 1, "value": 1, "oversized": 1})

        samples, _ = scrape(self.admin_port)
        self.assertEqual(samples['meterd_events_received_total{transport="udp"}'], 302)
        self.assertEqual(samples['meterd_events_accepted_total{transport="http"}'], 120)
        self.assertEqual(
            samples['meterd_events_rejected_total{reason="future",transport="unix_datagram"}'], 1)
        self.assertEqual(samples["meterd_events_deduplicated_total"], 40)
        self.assertEqual(samples["meterd_dead_letters"], 5)
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))

    def test_a_live_scrape_passes_promtool(self):
        work = Workload(seed=42, subjects=10)
        self.agent.start()
        send_paced(self.agent, work.datagrams(500, 5))
        wait_for(lambda: scrape(self.admin_port)[0].get("meterd_records_delivered_total", 0) > 0,
                 30, "a delivery")
        _, text = scrape(self.admin_port)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr + text)
        self.assertNotIn("problem", check.stdout + check.stderr)
        for path, code in (("/nope", 404), ("/healthz", 200), ("/readyz", 200)):
            self.assertEqual(get(self.admin_port, path)[0], code, path)
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}/metrics",
                                         method="POST", data=b"x")
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        self.assertEqual(refused.exception.code, 405)
        # Idle clients holding more connections than the cap do not lock the probes out.
        idle = [socket.create_connection(("127.0.0.1", self.admin_port)) for _ in range(100)]
        try:
            self.assertEqual(get(self.admin_port, "/healthz", timeout_s=5)[0], 200)
        finally:
            for connection in idle:
                connection.close()

    def test_health_through_a_broker_outage_readiness_when_full_and_at_sigterm(self):
        work = Workload(seed=43, subjects=5000)
        self.agent.config["buffer"].update({"max_size": "400KiB", "dedup_window": "3s"})
        self.agent.config["kafka"]["properties"].update({"statistics.interval.ms": "500"})
        self.agent.config["shutdown_timeout"] = "5s"
        self.agent.start()
        wait_for(lambda: scrape(self.admin_port)[0]["meterd_broker_connected"] == 1, 30,
                 "the broker to be connected")
        self.broker.down()
        send_paced(self.agent, work.datagrams(200, 10))
        wait_for(lambda: scrape(self.admin_port)[0]["meterd_broker_connected"] == 0, 30,
                 "meterd_broker_connected to drop to 0")
        first = wait_for(lambda: scrape(self.admin_port)[0]["meterd_outbox_oldest_age_seconds"],
                         30, "a waiting outbox row")
        time.sleep(1.5)
        self.assertEqual(get(self.admin_port, "/healthz")[0], 200)
        self.assertEqual(get(self.admin_port, "/readyz")[0], 200, "an outage alone is not unready")
        later = scrape(self.admin_port)[0]["meterd_outbox_oldest_age_seconds"]
        self.assertGreater(later, first)

        for _ in range(200):  # fill the buffer
            batch = [work.event() for _ in range(200)]
            status, _ = http_post(self.http_port, "[" + ",".join(batch) + "]", BATCH)
            if status == 503:
                break
        self.assertEqual(status, 503, "the buffer never filled")
        code, body = get(self.admin_port, "/readyz")
        self.assertEqual(code, 503, body)
        self.assertIn("full", json.loads(body)["reason"])
        self.assertEqual(get(self.admin_port, "/healthz")[0], 200)
        samples, _ = scrape(self.admin_port)
        self.assertGreater(samples['meterd_events_rejected_total{reason="buffer_full",'
                                   'transport="http"}'], 0)

        self.broker.up()  # the outbox drains and the space is free again
        wait_for(lambda: get(self.admin_port, "/readyz")[0] == 200, 120, "ready again")

        self.broker.down()  # a drain that takes a while, so /readyz can be seen during it
        send_paced(self.agent, work.datagrams(200, 10))
        time.sleep(0.5)
        self.agent.proc.send_signal(15)
        code, body = wait_for(lambda: (lambda r: r if "draining" in r[1] else None)(
            get(self.admin_port, "/readyz")), 5, "/readyz to say it is draining")
        self.assertEqual(code, 503, body)
        self.agent.proc.wait(60)


if __name__ == "__main__":
    run_tests(globals())
