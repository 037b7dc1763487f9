"""meterctl status and meterctl top against a real meterd and the test broker.

`meterctl status` exits 0 while meterd is healthy, 1 while the broker is down (and again 0 once
it is back), 2 with meterd stopped, then showing the backlog read from the buffer file; --json is
one object that parses. A stand-in HTTP server (a fixture document, garbage, silence) checks that
every answer that is not meterd's gives a one-line message and exit 2, and that dead letters
rising between the two reads give 1. `meterctl top` runs under tmux: the screen shows the
transports' rows, a rate that moved once events were sent, "meterd not reachable" while meterd is
stopped, and `q` ends it.

Usage: /usr/bin/python3 tests/integration/test_meterctl.py --build-dir BUILD [unittest args]
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker  # noqa: E402
from meterd import Meterd, Workload, free_tcp_port, send_paced  # noqa: E402

BUILD_DIR = None


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def fetch_status(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        return json.loads(r.read())


class Sender(threading.Thread):
    """Sends UDP events at a modest pace until stopped, so rates are above zero."""

    def __init__(self, agent, seed):
        super().__init__(daemon=True)
        self.agent = agent
        self.work = Workload(seed=seed, subjects=20)
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():  # about 500 events a second
            for datagram in self.work.datagrams(10):
                self.agent.send(datagram)
            time.sleep(0.02)

    def stop(self):
        self.halt.set()
        self.join(10)


class MeterctlStatusTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-ctl-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 3,
                                                               "meter-dead-letters": 1})
        self.admin_port = free_tcp_port()
        self.agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap,
                            shutdown_timeout="2s")
        self.agent.config["listeners"]["admin"] = f"127.0.0.1:{self.admin_port}"
        self.meterctl = os.path.join(BUILD_DIR, "meterctl")

    def tearDown(self):
        self.agent.__exit__(None, None, None)  # kills it, closes its UDP socket
        self.broker.stop()
        self.tmp.cleanup()

    def status(self, *args):
        """(exit code, stdout, stderr) of `meterctl status --config CONFIG ARGS`."""
        result = subprocess.run([self.meterctl, "status", "--config", self.agent.config_path,
                                 *args], capture_output=True, text=True, timeout=60)
        return result.returncode, result.stdout, result.stderr

    def wait_broker(self, connected):
        wait_for(lambda: fetch_status(self.admin_port)["health"]["broker_connected"] == connected,
                 60, f"broker_connected to be {connected}")

    def test_healthy_meterd_exits_0_and_json_carries_the_rates(self):
        self.agent.start()
        self.wait_broker(True)
        code, out, err = self.status()
        self.assertEqual(code, 0, out + err)
        self.assertIn("healthy (exit 0)", out)
        self.assertIn("connected", out)
        self.assertEqual(err, "")
        sender = Sender(self.agent, seed=1)
        sender.start()
        try:
            code, out, err = self.status("--json", "--interval", "1.5")
        finally:
            sender.stop()
        self.assertEqual(code, 0, out + err)
        report = json.loads(out)
        self.assertEqual(report["verdict"], "healthy")
        self.assertEqual(report["exit_code"], 0)
        self.assertEqual(report["reach"], "answering")
        self.assertEqual(report["admin"], f"127.0.0.1:{self.admin_port}")
        self.assertTrue(report["broker_connected"])
        self.assertEqual(set(report["rates"]), {"udp", "unix_datagram", "unix_stream", "http"})
        self.assertGreater(report["rates"]["udp"]["received"], 50)
        self.assertEqual(report["rates"]["http"]["received"], 0)
        self.assertEqual(report["backlog"]["source"], "meterd")
        self.assertGreater(report["backlog"]["buffer_limit_bytes"], 0)
        self.assertEqual(report["meterd"]["agent_id"], "test-agent")

    def test_broker_down_exits_1_then_0_once_it_is_back(self):
        self.agent.start()
        self.wait_broker(True)
        self.broker.down()
        self.wait_broker(False)
        code, out, err = self.status()
        self.assertEqual(code, 1, out + err)
        self.assertIn("degraded (exit 1): broker unreachable", out)
        self.assertIn("NOT CONNECTED", out)
        code, out, _ = self.status("--json")
        self.assertEqual(json.loads(out)["problems"], ["broker unreachable"])
        self.broker.up()
        self.wait_broker(True)
        code, out, err = self.status()
        self.assertEqual(code, 0, out + err)

    def test_stopped_meterd_exits_2_and_shows_the_backlog_from_the_buffer(self):
        work = Workload(seed=2, subjects=10)  # event times minutes ago: windows close at once
        self.agent.start()
        self.broker.down()  # the closed windows stay in the outbox
        send_paced(self.agent, work.datagrams(200))
        wait_for(lambda: self.agent.buffered()[2] > 0, 30, "outbox rows")
        time.sleep(0.5)
        self.agent.kill()
        rows = self.agent.buffered()[2]
        code, out, err = self.status()
        self.assertEqual(code, 2, out + err)
        self.assertTrue(out.startswith(
            f"meterd is not running: nothing answers at 127.0.0.1:{self.admin_port}"), out)
        self.assertIn(f"{rows} outbox records, the oldest waiting", out)
        self.assertIn(self.agent.buffer_path, out)
        code, out, _ = self.status("--json")
        self.assertEqual(code, 2)
        report = json.loads(out)
        self.assertEqual(report["verdict"], "down")
        self.assertEqual(report["reach"], "not_running")
        self.assertEqual(report["backlog"]["source"], "buffer")
        self.assertEqual(report["backlog"]["outbox_records"], rows)
        self.assertGreater(report["backlog"]["outbox_oldest_age_seconds"], 60)
        # The buffer named on the command line, no config at all.
        result = subprocess.run([self.meterctl, "status", "--admin",
                                 f"127.0.0.1:{self.admin_port}", "--buffer",
                                 self.agent.buffer_path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{rows} outbox records", result.stdout)


class StandIn(http.server.BaseHTTPRequestHandler):
    """Answers GET /status as the server's `answer(count)` says; count is the request's number."""

    def do_GET(self):
        self.server.count += 1
        status, body = self.server.answer(self.server.count)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def fixture(dead_letters=0, broker=True):
    transports = ("udp", "unix_datagram", "unix_stream", "http")
    return {
        "version": "0.1.0", "agent_id": "fixture", "state": "running",
        "uptime_seconds": 10.0 + dead_letters,
        "health": {"healthy": True, "reason": "", "loops": {}, "broker_connected": broker},
        "ready": {"ready": True, "reason": ""},
        "events": {"received": {t: 0 for t in transports},
                   "accepted": {t: 0 for t in transports},
                   "rejected": {t: {} for t in transports}, "deduplicated": 0,
                   "datagrams_dropped": {"udp": 0, "unix_datagram": 0}},
        "buffer": {"size_bytes": 10, "limit_bytes": 1000, "open_windows": 0, "series": 0,
                   "outbox_records": 0, "outbox_oldest_age_seconds": 0,
                   "dead_letters": dead_letters, "dead_letters_evicted": 0,
                   "dead_letters_by_reason": {"invalid": dead_letters}},
        "commit": {"count": 0, "seconds_sum": 0.0, "failures": 0},
        "uplink": {"records_produced": 0, "records_delivered": 0, "delivery_errors": 0,
                   "delivery_latency": {"count": 0, "seconds_sum": 0.0},
                   "last_delivery_unix_ms": 0, "last_error": "\x1b[2Jhostile"},
    }


class StandInTest(unittest.TestCase):
    """meterctl against servers that are not meterd, or a meterd played from fixtures."""

    def serve(self, answer):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
        server.count = 0
        server.answer = answer
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def status(self, port, *args):
        result = subprocess.run([os.path.join(BUILD_DIR, "meterctl"), "status", "--admin",
                                 f"127.0.0.1:{port}", "--interval", "0.2", *args],
                                capture_output=True, text=True, timeout=30)
        return result.returncode, result.stdout, result.stderr

    def test_dead_letters_rising_between_the_reads_exit_1(self):
        port = self.serve(lambda n: (200, json.dumps(fixture(dead_letters=n)).encode()))
        code, out, err = self.status(port)
        self.assertEqual(code, 1, out + err)
        self.assertIn("1 new dead letters", out)
        self.assertIn("\\x1b[2Jhostile", out)  # escaped, never sent to the terminal
        self.assertNotIn("\x1b", out)

    def test_a_steady_fixture_exits_0_and_a_disconnected_broker_1(self):
        port = self.serve(lambda n: (200, json.dumps(fixture(dead_letters=4)).encode()))
        self.assertEqual(self.status(port)[0], 0)
        port = self.serve(lambda n: (200, json.dumps(fixture(broker=False)).encode()))
        self.assertEqual(self.status(port)[0], 1)

    def test_answers_that_are_not_meterd_exit_2_with_one_line(self):
        cases = {
            "not JSON": lambda n: (200, b"<html>hello</html>"),
            "not meterd's: /version is missing": lambda n: (200, b'{"status": "ok"}'),
            "HTTP 404": lambda n: (404, b"no"),
        }
        for expected, answer in cases.items():
            code, out, err = self.status(self.serve(answer))
            self.assertEqual(code, 2, out + err)
            first = out.splitlines()[0]
            self.assertTrue(first.startswith("meterd is not answering at 127.0.0.1:"), first)
            self.assertIn(expected, first)
            self.assertEqual(err, "")

    def test_garbage_and_silence_on_the_port_exit_2(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]

        def garbage():
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.sendall(b"\x00\x1b[2J garbage\r\n\r\n")
            conn.close()
        threading.Thread(target=garbage, daemon=True).start()
        code, out, err = self.status(port)
        self.assertEqual(code, 2, out + err)
        self.assertIn("its answer is not HTTP", out)
        # Nobody accepts now: the kernel's backlog takes the connection, nothing answers.
        started = time.monotonic()
        code, out, err = self.status(port)
        self.assertEqual(code, 2, out + err)
        self.assertIn("no answer in time", out)
        self.assertLess(time.monotonic() - started, 10)

    def test_command_line_problems_are_one_line_exit_2(self):
        meterctl = os.path.join(BUILD_DIR, "meterctl")
        for args, expected in (
                ([], "give --config FILE"),
                (["--config", "/nonexistent/meterd.yaml"], "/nonexistent/meterd.yaml"),
                (["--admin", "nohostport"], "--admin takes HOST:PORT")):
            result = subprocess.run([meterctl, "status", *args], capture_output=True, text=True)
            self.assertEqual(result.returncode, 2)
            self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
            self.assertIn(expected, result.stderr)
            self.assertNotIn("terminate", result.stderr)


class MeterctlTopTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-top-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 3,
                                                               "meter-dead-letters": 1})
        self.admin_port = free_tcp_port()
        self.agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap,
                            shutdown_timeout="2s")
        self.agent.config["listeners"]["admin"] = f"127.0.0.1:{self.admin_port}"
        self.socket_name = f"meterctl-top-{os.getpid()}"

    def tearDown(self):
        subprocess.run(self.tmux("kill-server"), capture_output=True)
        self.agent.__exit__(None, None, None)  # kills it, closes its UDP socket
        self.broker.stop()
        self.tmp.cleanup()

    def tmux(self, *args):
        return ["tmux", "-L", self.socket_name, "-f", "/dev/null", *args]

    def screen(self, session="top"):
        result = subprocess.run(self.tmux("capture-pane", "-p", "-t", session),
                                capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else ""

    def start_top(self, session):
        """meterctl top in a 100x30 tmux pane; once it ends, the shell prints its exit code on
        the screen it left behind and keeps the pane open for capture-pane."""
        meterctl = os.path.join(BUILD_DIR, "meterctl")
        command = (f"{meterctl} top --admin 127.0.0.1:{self.admin_port}; "
                   f"echo \"meterctl exited $?\"; sleep 60")
        subprocess.run(self.tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                                 "sh", "-c", command), check=True)

    def assert_quits_and_restores(self, session, key):
        subprocess.run(self.tmux("send-keys", "-t", session, key), check=True)
        try:
            screen = wait_for(lambda: "meterctl exited" in self.screen(session) and
                              self.screen(session), 10, f"{key} to end meterctl top")
        except AssertionError:
            self.fail(f"{key} did not end meterctl top:\n{self.screen(session)}")
        self.assertIn("meterctl exited 0", screen)
        # The alternate screen was left: the pane shows the normal screen again, not the view.
        self.assertNotIn("TRANSPORT", screen)

    def udp_received(self):
        """The udp row's received rate on the screen, when it is above zero."""
        for line in self.screen().splitlines():
            fields = line.split()
            if fields and fields[0] == "udp" and len(fields) == 4 and fields[1] not in ("-", "0"):
                return float(fields[1].rstrip("kM"))
        return None

    def test_top_shows_transports_rates_and_outages_and_quits_on_q(self):
        self.agent.start()
        self.start_top("top")
        screen = wait_for(lambda: "TRANSPORT" in self.screen() and self.screen(), 15,
                          "the first frame")
        for row in ("udp", "unix_datagram", "unix_stream", "http", "BACKLOG", "DELIVERY"):
            self.assertIn(row, screen)
        self.assertIsNone(self.udp_received(), screen)  # nothing sent yet
        sender = Sender(self.agent, seed=3)
        sender.start()
        try:
            rate = wait_for(self.udp_received, 15, "a udp rate above zero")
        finally:
            sender.stop()
        self.assertGreater(rate, 0)

        self.agent.kill()
        wait_for(lambda: f"meterd not reachable at 127.0.0.1:{self.admin_port}" in self.screen(),
                 15, "the not-reachable frame")
        self.agent.start()  # top keeps asking and comes back by itself
        wait_for(lambda: "TRANSPORT" in self.screen(), 15, "frames again after the restart")

        self.assert_quits_and_restores("top", "q")

    def test_top_quits_on_ctrl_c_and_restores_the_terminal(self):
        self.agent.start()
        self.start_top("top-c")
        wait_for(lambda: "TRANSPORT" in self.screen("top-c"), 15, "the first frame")
        self.assert_quits_and_restores("top-c", "C-c")


if __name__ == "__main__":
    run_tests(globals())
