"""The config's environment references and log format, on the real meterd binary.

- A config whose brokers, agent id and UDP port are `${VAR}` references runs on the values of the
  process's environment: events sent to that port reach the broker under that agent id, counted
  exactly (the Workload reference model).
- An unset variable without a default fails `--check-config` (and `--config`) with exit code 2,
  naming the variable with its file, line and key, in the same report as the file's other errors.
- `log.format: json` makes every stderr line of a run one JSON object with time (RFC 3339 UTC,
  milliseconds), level and message; the command line's --log-level wins over log.level.

Usage: /usr/bin/python3 tests/integration/test_config_env.py --build-dir BUILD [unittest args]
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker, dump_topic  # noqa: E402
from meterd import READY_TIMEOUT_S, Meterd, Workload, send_paced, totals_of, unique_records  # noqa: E402,E501

BUILD_DIR = None
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"trace", "debug", "info", "warn", "error", "critical"}


def without(env, *names):
    """The test's environment minus `names`, so an inherited variable cannot mask a test."""
    return {k: v for k, v in env.items() if k not in names}


class ConfigEnvTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="meterd-env-")
        self.broker = MockBroker(BUILD_DIR, brokers=1, topics={"meter-windows": 3,
                                                               "meter-dead-letters": 1})

    def tearDown(self):
        self.broker.stop()
        self.tmp.cleanup()

    def check_config(self, config, env):
        path = os.path.join(self.tmp.name, "check.yaml")
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        result = subprocess.run([os.path.join(BUILD_DIR, "meterd"), "--check-config", path],
                                capture_output=True, text=True, timeout=30, env=env)
        return path, result

    def assert_json_log_line(self, line):
        try:
            entry = json.loads(line)
        except ValueError as e:
            self.fail(f"stderr line is not JSON ({e}): {line!r}")
        self.assertIsInstance(entry, dict, line)
        self.assertRegex(entry.get("time", ""), RFC3339_MS, line)
        self.assertIn(entry.get("level"), LEVELS, line)
        self.assertIsInstance(entry.get("message"), str, line)
        return entry

    def test_brokers_agent_id_and_port_come_from_the_environment(self):
        work = Workload(seed=7, subjects=20)
        agent = Meterd(BUILD_DIR, self.tmp.name, "${METERD_IT_BROKERS}",
                       env={"METERD_IT_BROKERS": self.broker.bootstrap,
                            "METERD_IT_AGENT": "edge-from-env"})
        # The port is given through the environment too; the harness sends to agent.udp_port.
        agent.env["METERD_IT_UDP_PORT"] = str(agent.udp_port)
        agent.config["agent_id"] = "${METERD_IT_AGENT}"
        agent.config["listeners"]["udp"] = "127.0.0.1:${METERD_IT_UDP_PORT}"
        agent.config["buffer"]["commit_interval"] = "${METERD_IT_UNSET_INTERVAL:-100ms}"
        with agent:
            agent.start()
            self.assertIn("${METERD_IT_BROKERS}", Path(agent.config_path).read_text())
            send_paced(agent, work.datagrams(600, 3))
            agent.wait_buffered_events(600)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
        records = unique_records(dump_topic(BUILD_DIR, self.broker.bootstrap, "meter-windows"))
        self.assertEqual({r["agent_id"] for r in records}, {"edge-from-env"})
        self.assertEqual(totals_of(records), dict(work.totals))

    def test_an_unset_variable_fails_check_config_with_the_other_errors(self):
        agent = Meterd(BUILD_DIR, self.tmp.name, "${METERD_IT_UNSET_BROKERS}")
        self.addCleanup(agent.__exit__)  # never started: this closes its socket
        agent.config["windows"]["size"] = "2m"  # another error, reported in the same round
        agent.config["listeners"]["udp"] = "127.0.0.1:${METERD_IT_UNSET_PORT:-7701}"
        agent.config["listeners"]["http"] = "127.0.0.1:${METERD_IT_BAD NAME}"
        env = without(os.environ, "METERD_IT_UNSET_BROKERS", "METERD_IT_UNSET_PORT")
        path, result = self.check_config(agent.config, env)
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        errors = result.stderr
        self.assertRegex(errors, re.escape(path) + r":\d+: kafka\.brokers: environment variable "
                         r"METERD_IT_UNSET_BROKERS is not set")
        self.assertRegex(errors, re.escape(path) + r":\d+: listeners\.http: malformed reference")
        self.assertRegex(errors, re.escape(path) + r":\d+: windows\.size: must be 1m, 5m")
        self.assertIn("(3 errors)", errors)  # the variable's own key is not reported twice
        self.assertNotIn("METERD_IT_UNSET_PORT", errors)  # it has a default

        # --config refuses the same file the same way, before anything starts.
        run = subprocess.run([os.path.join(BUILD_DIR, "meterd"), "--config", path],
                             capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("METERD_IT_UNSET_BROKERS is not set", run.stderr)

        # Set, and the other errors fixed, the same file checks clean.
        agent.config["windows"]["size"] = "1m"
        del agent.config["listeners"]["http"]
        env["METERD_IT_UNSET_BROKERS"] = self.broker.bootstrap
        _, result = self.check_config(agent.config, env)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_json_log_format_writes_one_json_object_a_line(self):
        work = Workload(seed=8, subjects=5)
        agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap,
                       log={"format": "json", "level": "debug"})
        with agent:
            agent.start()
            send_paced(agent, work.datagrams(100))
            agent.send('not "json" \\ \x01 \xff')  # a dead letter, its reason maybe logged
            agent.wait_buffered_events(100)
            self.assertEqual(agent.stop(), 0, "\n".join(agent.log))
        self.assertGreater(len(agent.log), 2)
        messages = [self.assert_json_log_line(line)["message"] for line in agent.log]
        self.assertIn("meterd ready", messages)
        self.assertTrue(any(m.startswith("meterd stopped") for m in messages), messages)

    def test_command_line_log_level_overrides_the_config(self):
        agent = Meterd(BUILD_DIR, self.tmp.name, self.broker.bootstrap,
                       log={"format": "json", "level": "error"})
        self.addCleanup(agent.__exit__)  # only its config is used: this test runs the binary
        with open(agent.config_path, "w") as f:
            json.dump(agent.config, f)
        # log.level error alone would hide "meterd ready" (info); --log-level info shows it.
        proc = subprocess.Popen([agent.binary, "--config", agent.config_path, "--log-level", "info"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines, ready = [], threading.Event()

        def read():
            for line in proc.stderr:
                lines.append(line.rstrip("\n"))
                if "meterd ready" in line:
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            self.assertTrue(ready.wait(READY_TIMEOUT_S), "\n".join(lines))
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(60), 0, "\n".join(lines))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(5)
        proc.stderr.close()
        entries = [self.assert_json_log_line(line) for line in lines]
        self.assertIn("info", {e["level"] for e in entries})
        self.assertNotIn("debug", {e["level"] for e in entries})
        # A --log-level that is not a level is refused before anything starts.
        bad = subprocess.run([agent.binary, "--config", agent.config_path, "--log-level", "loud"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("loud", bad.stderr)


if __name__ == "__main__":
    run_tests(globals())
