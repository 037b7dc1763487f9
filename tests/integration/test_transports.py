"""Every transport and format end to end, with their error cases, retries and restarts.

meterd runs with all four listeners (UDP, Unix datagram, Unix stream, HTTP) against the test
broker. Valid events are drawn from the Workload reference model; malformed inputs are sent
beside them; the topic's totals must equal the valid events exactly, each malformed input must
get its documented outcome, and retried or resent events must be counted once.

Usage: /usr/bin/python3 tests/integration/test_transports.py --build-dir BUILD [unittest args]
"""

import json
import os
import re
import signal
import socket
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
from clients import (ResilientStreamSender, StreamClient, http_post, msgpack,  # noqa: E402
                     send_unix_datagram)
from meterd import Meterd, Workload, free_tcp_port, totals_of, unique_records  # noqa: E402

BUILD_DIR = None
JSON_BATCH = "application/cloudevents-batch+json"
MAX_BODY = 256 * 1024
MAX_LINE = 64 * 1024


def bad_events():
    """(name, bytes) of malformed single events; each must be refused with a reason."""
    good = {"specversion": "1.0", "id": "bad", "source": "bad", "type": "prompt",
            "subject": "nobody", "data": {"tokens": 1}}
    def variant(**changes):
        event = dict(good)
        for k, v in changes.items():
            if v is None:
                event.pop(k)
            else:
                event[k] = v
        return json.dumps(event).encode()
    return [
        ("truncated JSON", json.dumps(good).encode()[:40]),
        ("wrong type", variant(subject=7)),
        ("missing field", variant(id=None)),
        ("empty string", variant(source="")),
        ("invalid UTF-8", variant(subject="x").replace(b'"x"', b'"\xff\xfe"')),
        ("msgpack garbage", b"\x85\xa3abc\xc1\xc1"),
    ]


class TransportsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-tr-")
        self.broker = MockBroker(BUILD_DIR, brokers=3, topics={"meter-windows": 3})
        self.http_port = free_tcp_port()
        self.dgram_path = os.path.join(self.tmp.name, "run", "events.sock")
        self.stream_path = os.path.join(self.tmp.name, "run", "events.stream.sock")
        self.agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap)
        self.agent.config["listeners"].update({
            "unix_datagram": self.dgram_path, "unix_stream": self.stream_path,
            "http": f"127.0.0.1:{self.http_port}", "http_max_body": str(MAX_BODY),
            "stream_max_line": str(MAX_LINE), "unix_mode": "0600"})

    def tearDown(self):
        self.agent.__exit__()
        self.broker.stop()
        self.tmp.cleanup()

    def totals(self):
        return totals_of(unique_records(
            dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows")))

    def dead_letters(self):
        db = sqlite3.connect(f"file:{self.agent.buffer_path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT listener, reason FROM dead_letters ORDER BY id").fetchall()
        finally:
            db.close()

    def test_every_transport_and_format_reaches_the_topic(self):
        work = Workload(seed=11, subjects=30)
        self.agent.start()
        self.assertEqual(os.stat(self.dgram_path).st_mode & 0o777, 0o600)
        # A short kernel queue for Unix datagrams (the default is 10) is named at start.
        with open("/proc/sys/net/unix/max_dgram_qlen") as f:
            queue_length = int(f.read())
        warned = [line for line in self.agent.log if "net.unix.max_dgram_qlen is" in line]
        self.assertEqual(len(warned), 1 if queue_length < 512 else 0, warned)
        if warned:
            self.assertIn(f"max_dgram_qlen is {queue_length},", warned[0])
        for _ in range(200):
            self.agent.send(work.event())                                   # UDP, JSON
            self.agent.send(msgpack(work.event_object()))                   # UDP, msgpack
            send_unix_datagram(self.dgram_path, work.event())               # Unix dgram, JSON
            send_unix_datagram(self.dgram_path, msgpack([work.event_object() for _ in range(3)]))
        self.agent.send("\n".join(work.event() for _ in range(5)))          # lines in a datagram
        client = StreamClient(self.stream_path)
        client.send_lines([work.event() for _ in range(500)])
        client.send_lines(["[" + work.event() + "," + work.event() + "]"])  # an array on a line
        client.read_until_acked(501)
        client.close()
        self.assertEqual(client.errors, [])
        for content_type, body in [
                ("application/cloudevents+json", work.event()),
                ("application/cloudevents-batch+json", "[" + ",".join(work.event() for _ in range(300)) + "]"),
                ("application/json", "[" + ",".join(work.event() for _ in range(100)) + "]"),
                ("application/json; charset=utf-8", work.event()),
                ("application/msgpack", msgpack([work.event_object() for _ in range(100)]))]:
            status, text = http_post(self.http_port, body, content_type)
            self.assertEqual(status, 204, f"{content_type}: {text}")
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertFalse(os.path.exists(self.dgram_path), "socket files are removed at exit")
        self.assertEqual(self.totals(), dict(work.totals))
        self.assertEqual(self.dead_letters(), [])

    def test_malformed_input_gets_its_documented_outcome_and_valid_events_count(self):
        work = Workload(seed=12, subjects=10)
        self.agent.start()
        bad = bad_events()
        for name, payload in bad:
            self.agent.send(payload)
            send_unix_datagram(self.dgram_path, payload)
            self.agent.send(work.event())
            send_unix_datagram(self.dgram_path, work.event())
        send_unix_datagram(self.dgram_path, b"{" + b" " * (70 * 1024) + b"}")  # over 64 KiB

        # Unix stream: one error line per bad line, numbered; the stream carries on.
        client = StreamClient(self.stream_path)
        lines = []
        for name, payload in bad:
            if name != "msgpack garbage":  # binary has no place in a line protocol
                lines += [payload, work.event()]
        lines.append(b"{" + b"x" * MAX_LINE + b"}")
        lines.append(work.event())
        client.send_lines(lines)
        client.read_until_acked(len(lines))
        client.close()
        self.assertEqual([n for n, _ in client.errors], [1, 3, 5, 7, 9, 11])
        reasons = dict(client.errors)
        self.assertIn("invalid JSON", reasons[1])
        self.assertIn("subject: must be a string", reasons[3])
        self.assertIn("id: required", reasons[5])
        self.assertIn("source: must not be empty", reasons[7])
        self.assertIn("invalid JSON", reasons[9])  # simdjson validates UTF-8
        self.assertIn(f"line longer than {MAX_LINE} bytes", reasons[11])

        # HTTP: 400 names each invalid event; the valid ones of the batch are accepted.
        batch = [work.event(), bad[1][1].decode(), work.event(), bad[2][1].decode(),
                 bad[3][1].decode(), work.event()]
        status, text = http_post(self.http_port, "[" + ",".join(batch) + "]", JSON_BATCH)
        self.assertEqual(status, 400)
        problem = json.loads(text)
        self.assertEqual(problem["status"], 400)
        self.assertEqual([(e["index"], e["field"]) for e in problem["invalid_events"]],
                         [(1, "subject"), (3, "id"), (4, "source")])
        status, _ = http_post(self.http_port, bad[0][1], "application/cloudevents+json")
        self.assertEqual(status, 400)
        status, _ = http_post(self.http_port, b"\xff\xfe", "application/json")
        self.assertEqual(status, 400)
        status, _ = http_post(self.http_port, bad[5][1], "application/msgpack")
        self.assertEqual(status, 400)
        status, text = http_post(self.http_port, "[" + " " * MAX_BODY + "]", JSON_BATCH)
        self.assertEqual(status, 413, text)
        status, text = http_post(self.http_port, work.event(), "text/plain")
        self.assertEqual(status, 415, text)
        status, _ = http_post(self.http_port, "[]", JSON_BATCH, path="/api/v1/nothing")
        self.assertEqual(status, 404)
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))

        letters = self.dead_letters()
        by_listener = {}
        for listener, reason in letters:
            by_listener[listener] = by_listener.get(listener, 0) + 1
        # HTTP: six invalid events and the body over the limit (a counted dead letter of its head).
        self.assertEqual(by_listener, {"udp": 6, "unix_datagram": 7, "unix_stream": 6, "http": 7})
        self.assertTrue(any(f"HTTP body larger than {MAX_BODY} bytes" in r for _, r in letters))
        self.assertTrue(any("datagram larger than 65536 bytes" in r for _, r in letters))
        # Every valid event counts, except the one refused whole with 415 (it was never decoded).
        totals = self.totals()
        expected = dict(work.totals)
        self.assertEqual(sum(v[0] for k, v in totals.items() if k[0] == "prompts"),
                         sum(v[0] for k, v in expected.items() if k[0] == "prompts") - 1)

    def test_kernel_drops_are_counted_when_the_receive_buffer_overflows(self):
        work = Workload(seed=17, subjects=5)
        self.agent.config["listeners"]["receive_buffer"] = "4096"
        self.agent.start()
        self.agent.proc.send_signal(signal.SIGSTOP)  # meterd cannot drain: the buffer fills up
        try:
            for _ in range(500):
                self.agent.send(work.event())
        finally:
            self.agent.proc.send_signal(signal.SIGCONT)
        time.sleep(0.5)
        # meterd reads the kernel's drop count after each drain; these few make more drains,
        # paced so they fit the tiny buffer.
        for _ in range(10):
            self.agent.send(work.event())
            time.sleep(0.02)
        time.sleep(0.5)
        self.assertEqual(self.agent.stop(), 0)
        line = next(l for l in self.agent.log if "udp: " in l and "datagrams received" in l)
        received, dropped = (int(w) for w in re.findall(r"(\d+) datagrams received, (\d+) dropped",
                                                         line)[0])
        self.assertGreater(dropped, 0, line)
        self.assertEqual(received + dropped, 510, line)
        counted = sum(v[0] for k, v in self.totals().items() if k[0] == "prompts")
        self.assertEqual(counted, received)

    def test_udp_bursts_followed_by_silence_are_taken_without_more_traffic(self):
        # The UDP loop pauses between drains and rearms a one-shot readiness only when a drain
        # finds the socket empty: a missed wake-up would leave a burst's tail in the socket until
        # the next datagram, which here never comes.
        work = Workload(seed=23, subjects=7)
        self.agent.start()
        sent = 0
        for burst in (1, 31, 33, 500, 2000):
            for _ in range(burst):
                self.agent.send(work.event())
            sent += burst
            self.agent.wait_buffered_events(sent, timeout_s=10)
            time.sleep(0.3)  # silence: the loop goes back to waiting for readiness
        self.assertEqual(self.agent.stop(), 0)

    def test_http_client_too_slow_to_send_its_request_is_disconnected(self):
        self.agent.config["listeners"]["idle_timeout"] = "1s"
        self.agent.start()
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=10) as slow:
            slow.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")  # and then nothing
            started = time.monotonic()
            self.assertEqual(slow.recv(1024), b"")  # closed by meterd
            self.assertLess(time.monotonic() - started, 5)
        status, _ = http_post(self.http_port, "[]", JSON_BATCH)  # others are still served
        self.assertEqual(status, 204)

    def test_stream_client_killed_before_its_ack_then_retrying_is_counted_once(self):
        work = Workload(seed=13, subjects=20)
        self.agent.start()
        lines = [work.event() for _ in range(2000)]
        first = StreamClient(self.stream_path)
        first.send_lines(lines)
        first.close()  # gone before any ack arrived
        time.sleep(0.5)  # its events are committed by now
        retry = StreamClient(self.stream_path)
        retry.send_lines(lines)
        retry.read_until_acked(len(lines))
        retry.close()
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertEqual(self.totals(), dict(work.totals))

    def test_http_client_retrying_a_batch_is_counted_once(self):
        work = Workload(seed=14, subjects=20)
        self.agent.start()
        body = "[" + ",".join(work.event() for _ in range(500)) + "]"
        for _ in range(3):
            status, text = http_post(self.http_port, body, JSON_BATCH)
            self.assertEqual(status, 204, text)
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        # The restart keeps the dedup records: a retry to the next instance is still dropped.
        self.agent.start()
        status, _ = http_post(self.http_port, body, JSON_BATCH)
        self.assertEqual(status, 204)
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertEqual(self.totals(), dict(work.totals))

    def test_agent_restarted_while_stream_clients_send_loses_nothing_acknowledged(self):
        work = Workload(seed=15, subjects=50)
        lines = [work.event() for _ in range(20000)]
        self.agent.start()
        sender = ResilientStreamSender(self.stream_path, lines).start()
        for how in ("kill", "term"):
            while sender.acked < (5000 if how == "kill" else 12000) and sender.thread.is_alive():
                time.sleep(0.05)
            if how == "kill":
                self.agent.kill()
            else:
                self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
            self.agent.start()
        sender.join(180)
        self.assertIsNone(sender.failure)
        self.assertEqual(sender.acked, len(lines))
        self.assertGreaterEqual(sender.reconnects, 1)
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        self.assertEqual(self.totals(), dict(work.totals))

    def test_meterctl_sends_over_each_transport_and_lists_dead_letters(self):
        work = Workload(seed=16, subjects=5)
        self.agent.start()
        meterctl = os.path.join(BUILD_DIR, "meterctl")
        for flag, target in (("--udp", f"127.0.0.1:{self.agent.udp_port}"),
                             ("--unix-datagram", self.dgram_path),
                             ("--unix-stream", self.stream_path),
                             ("--http", f"http://127.0.0.1:{self.http_port}")):
            events = "\n".join(work.event() for _ in range(50)) + "\n"
            result = subprocess.run([meterctl, "send", flag, target], input=events.encode(),
                                    capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr.decode())
        result = subprocess.run([meterctl, "send", "--unix-stream", self.stream_path],
                                input=b'{"specversion":"1.0"}\n', capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"error 1 event 0: id: required", result.stderr)
        time.sleep(0.5)  # the datagrams are committed
        self.assertEqual(self.agent.stop(), 0, "\n".join(self.agent.log))
        result = subprocess.run([meterctl, "dlq", "list", "--config", self.agent.config_path],
                                capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertIn(b"unix_stream: event 0: id: required", result.stdout)
        self.assertEqual(self.totals(), dict(work.totals))

    def test_meterctl_says_meterd_is_not_running(self):
        # meterd stopped: every acknowledged or Unix transport and the dead-letter listing say
        # what is wrong in one line and exit 1, never an uncaught exception (exit 134).
        meterctl = os.path.join(BUILD_DIR, "meterctl")
        for flag, target in (("--unix-datagram", self.dgram_path),
                             ("--unix-stream", self.stream_path),
                             ("--http", f"http://127.0.0.1:{self.http_port}")):
            result = subprocess.run([meterctl, "send", flag, target], input=b'{"id":"1"}\n',
                                    capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 1, result.stderr.decode())
            self.assertIn(f"cannot reach meterd at {target}".encode(), result.stderr)
            self.assertEqual(result.stderr.count(b"\n"), 1, result.stderr.decode())
        missing = os.path.join(os.path.dirname(self.dgram_path), "no-such-buffer.db")
        result = subprocess.run([meterctl, "dlq", "list", "--buffer", missing],
                                capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"no buffer at {missing}".encode(), result.stderr)
        self.assertFalse(os.path.exists(missing))


if __name__ == "__main__":
    run_tests(globals())
