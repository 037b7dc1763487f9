"""Test-side control of a real meterd process, and the reference model the tests compare with.

A test writes a config (JSON is valid YAML), starts BUILD/meterd, waits for its "meterd ready"
log line, sends events, and stops it with SIGTERM (a graceful drain) or SIGKILL (a crash). The
buffer file can be inspected read-only with the sqlite3 module. Python 3.11 standard library only.
"""

import collections
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timezone

READY_TIMEOUT_S = 30

# Meters used by most pipeline tests: a SUM with two groups and a COUNT with none.
DEFAULT_METERS = [
    {
        "slug": "tokens_total",
        "eventType": "prompt",
        "aggregation": "SUM",
        "valueProperty": "$.tokens",
        "groupBy": {"model": "$.model", "region": "$.region"},
    },
    {"slug": "prompts", "eventType": "prompt", "aggregation": "COUNT"},
]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Meterd:
    """One meterd process on a buffer in `workdir`; start() may be called again after a stop.

    env: variables added to the process's environment (for ${VAR} references in the config)."""

    def __init__(self, build_dir, workdir, brokers, meters=None, env=None, **overrides):
        self.binary = os.path.join(build_dir, "meterd")
        self.workdir = workdir
        self.udp_port = free_udp_port()
        self.buffer_path = os.path.join(workdir, "buffer", "buffer.db")
        self.config = {
            "agent_id": "test-agent",
            "listeners": {"udp": f"127.0.0.1:{self.udp_port}"},
            "buffer": {"path": self.buffer_path, "commit_interval": "100ms"},
            "windows": {"size": "1m", "grace": "1s"},
            "kafka": {
                "brokers": brokers,
                "topic": "meter-windows",
                # The mock broker's clients otherwise wait up to 10 s to reconnect after an outage.
                "properties": {"reconnect.backoff.max.ms": "1000"},
            },
            "shutdown_timeout": "30s",
            "meters": meters or DEFAULT_METERS,
        }
        for key, value in overrides.items():
            self.config[key] = value
        self.config_path = os.path.join(workdir, "meterd.yaml")
        self.env = dict(env or {})
        self.proc = None
        self.log = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def start(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        self.log = []
        ready = threading.Event()
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config_path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.env},
        )

        def read_log(proc, log):
            for line in proc.stderr:
                log.append(line.rstrip("\n"))
                if "meterd ready" in line:
                    ready.set()

        self._reader = threading.Thread(target=read_log, args=(self.proc, self.log), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("meterd did not become ready:\n" + "\n".join(self.log))
        return self

    def send(self, payload):
        """Sends one datagram (str or bytes)."""
        if isinstance(payload, str):
            payload = payload.encode()
        self._socket.sendto(payload, ("127.0.0.1", self.udp_port))

    def stop(self, timeout_s=60):
        """SIGTERM and wait: returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("meterd did not stop after SIGTERM:\n" + "\n".join(self.log))
        self._close_log()
        return code

    def kill(self):
        """SIGKILL: a crash, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self._close_log()

    def _close_log(self):
        self._reader.join(5)
        self.proc.stderr.close()
        self.proc = None

    def buffered(self):
        """(events in open windows, events in the outbox, outbox rows) read from the buffer file."""
        db = sqlite3.connect(f"file:{self.buffer_path}?mode=ro", uri=True, timeout=10)
        try:
            open_events = db.execute("SELECT coalesce(sum(event_count),0) FROM open_windows").fetchone()[0]
            outbox_events, outbox_rows = db.execute(
                "SELECT coalesce(sum(event_count),0), count(*) FROM outbox").fetchone()
            return open_events, outbox_events, outbox_rows
        finally:
            db.close()

    def wait_buffered_events(self, count_per_meter, timeout_s=30):
        """Waits until the buffer holds `count_per_meter` events of every meter in total."""
        deadline = time.monotonic() + timeout_s
        meters = len(self.config["meters"])
        while time.monotonic() < deadline:
            open_events, outbox_events, _ = self.buffered()
            if open_events + outbox_events >= count_per_meter * meters:
                return
            time.sleep(0.05)
        raise AssertionError(f"buffer holds {self.buffered()}, expected {count_per_meter} per meter")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self._socket.close()


def rfc3339(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{ms % 1000:03d}Z"


class Workload:
    """Random prompt events and their exact expected totals (the reference model)."""

    def __init__(self, seed, subjects, models=("gpt-4", "gpt-3.5", "claude"),
                 regions=("eu", "us"), start_ms=None, span_ms=180_000):
        self.rng = random.Random(seed)
        self.subjects = [f"customer-{i}" for i in range(subjects)]
        self.models = models
        self.regions = regions
        # Event times in the past few minutes: their windows close one grace period after they
        # arrive, so tests need not wait for the wall clock to pass a minute boundary.
        now = int(time.time() * 1000)
        self.start_ms = start_ms if start_ms is not None else now - span_ms - 60_000
        self.span_ms = span_ms
        self.sent = 0
        # (meter, subject, ((k, v), ...)) -> [events, sum]
        self.totals = collections.defaultdict(lambda: [0, 0])
        # (meter, subject, groups, window_start) -> [count, sum, min, max]
        self.windows = {}

    def event(self):
        return json.dumps(self.event_object(), separators=(",", ":"))

    def event_object(self):
        self.sent += 1
        subject = self.rng.choice(self.subjects)
        model = self.rng.choice(self.models)
        region = self.rng.choice(self.regions)
        tokens = self.rng.randint(1, 5000)
        time_ms = self.start_ms + self.rng.randrange(self.span_ms)
        groups = (("model", model), ("region", region))
        for meter, value, meter_groups in (("tokens_total", tokens, groups), ("prompts", 1, ())):
            total = self.totals[(meter, subject, meter_groups)]
            total[0] += 1
            total[1] += value
            window = (meter, subject, meter_groups, time_ms // 60_000 * 60)
            w = self.windows.setdefault(window, [0, 0, value, value])
            w[0] += 1
            w[1] += value
            w[2] = min(w[2], value)
            w[3] = max(w[3], value)
        return {
            "specversion": "1.0", "id": f"evt-{self.sent}", "source": "test", "type": "prompt",
            "subject": subject, "time": rfc3339(time_ms),
            "data": {"tokens": tokens, "model": model, "region": region},
        }

    def datagrams(self, events, per_datagram=1, style="lines"):
        """Yields datagrams holding `events` events in total, `per_datagram` at a time."""
        while events > 0:
            n = min(per_datagram, events)
            events -= n
            batch = [self.event() for _ in range(n)]
            yield ("[" + ",".join(batch) + "]") if style == "array" else "\n".join(batch)


def unique_records(dump):
    """Collapses a topic dump by idempotency key; raises if one key carries two payloads."""
    by_key = {}
    for record in dump:
        value = record["value"]
        key = record["key"]
        if key != value["idempotency_key"]:
            raise AssertionError(f"message key {key} differs from its record's key")
        if key in by_key and by_key[key] != value:
            raise AssertionError(f"key {key} sent with two payloads: {by_key[key]} / {value}")
        by_key[key] = value
    return list(by_key.values())


def totals_of(records):
    """(meter, subject, groups) -> [events, sum] over window records."""
    totals = collections.defaultdict(lambda: [0, 0])
    for r in records:
        groups = tuple(zip(r["group_keys"], r["group_values"]))
        t = totals[(r["meter"], r["subject"], groups)]
        t[0] += r["event_count"]
        t[1] += r["value_sum"]
    return {k: v for k, v in totals.items()}


def send_paced(meterd, datagrams, per_second=20_000):
    """Sends datagrams at a bounded rate so the loopback socket buffer never overflows."""
    start = time.monotonic()
    for i, datagram in enumerate(datagrams):
        meterd.send(datagram)
        if i % 200 == 199:
            ahead = (i + 1) / per_second - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def totals_of_lines(lines, meters=DEFAULT_METERS):
    """The reference totals of the given event lines (JSON text) under DEFAULT_METERS."""
    assert meters is DEFAULT_METERS
    totals = collections.defaultdict(lambda: [0, 0])
    for line in lines:
        event = json.loads(line)
        data = event["data"]
        groups = (("model", data["model"]), ("region", data["region"]))
        t = totals[("tokens_total", event["subject"], groups)]
        t[0] += 1
        t[1] += data["tokens"]
        t = totals[("prompts", event["subject"], ())]
        t[0] += 1
        t[1] += 1
    return dict(totals)


def clickhouse_totals(clickhouse, usage_sql):
    """usage_per_subject.sql rows → (meter, subject, groups) -> [events, usage]."""
    out = {}
    for line in clickhouse.query_file(usage_sql).splitlines():
        meter, subject, groups, events, usage = line.split("\t")
        pairs = tuple(tuple(g.split("=", 1)) for g in groups.split(",")) if groups else ()
        out[(meter, subject, pairs)] = [int(events), float(usage)]
    return out
