"""Process-level helpers of the bench runner: CPU time and resident memory read from /proc, the
load generator, the recvmmsg baseline, and a meterd started with every listener on a fresh buffer.

CPU time is utime + stime of /proc/PID/stat (every thread of the process, in clock ticks), so
what meterd spends on its store and uplink threads is counted along with ingest.
"""

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from meterd import Meterd, free_tcp_port, free_udp_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, task=None):
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of stat(5)


def thread_cpu_seconds(pid, names=("ingest", "store", "uplink")):
    """CPU seconds of meterd's named threads (pthread_setname_np in agent/ and uplink/)."""
    seconds = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                name = f.read().strip()
            if name in names:
                seconds[name] = seconds.get(name, 0) + cpu_seconds(pid, task)
        except OSError:
            pass  # the thread ended
    return seconds


def thread_split(before, after, events):
    """'ingest thread 1.23 µs, store thread 0.20 µs' per event, between two thread_cpu_seconds."""
    def per_event(name):
        return 1e6 * (after[name] - before.get(name, 0)) / max(events, 1)
    return ", ".join(f"{name} thread {per_event(name):.2f} µs" for name in sorted(after))


def disk_write_bytes(pid):
    """Bytes the process caused to be written to storage (write_bytes of /proc/PID/io)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_idle(pid, quiet_s=0.6, timeout_s=120):
    """Waits until the process used under 5% of a core over `quiet_s` (its backlog is done);
    returns the monotonic time its work ended (the start of that quiet period)."""
    deadline = time.monotonic() + timeout_s
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = cpu_seconds(pid)
        if now - last < 0.05 * quiet_s + 1.0 / TICKS:
            return since
        last, since = now, time.monotonic()
    return since


def tool(build_dir, name):
    return os.path.join(build_dir, "tests", "bench", name)


# Event ids need only be unique within one bench process: every agent it starts has a fresh
# buffer. A short prefix keeps the events near the ~170 bytes the targets name (~185 bytes; a
# nanosecond timestamp made them ~199).
_RUN_IDS = itertools.count(1)


def loadgen(build_dir, transport, target, events, totals=None, **options):
    """Runs the load generator to the end; returns its JSON report."""
    args = [tool(build_dir, "loadgen"), "--transport", transport, "--target", target,
            "--events", str(events), "--run-id", f"r{next(_RUN_IDS)}"]
    for key, value in options.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    if totals:
        args += ["--totals", totals]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if not out.stdout.strip():
        raise RuntimeError(f"loadgen failed: {out.stderr}")
    return json.loads(out.stdout)


def baseline(build_dir, transport, workdir, events, receiver=(), **options):
    """The discard loop's figures for `events` events sent at full speed (`options` go to the
    load generator, `receiver` to recv_baseline: --pause-us, --parse)."""
    listen = "127.0.0.1:0" if transport == "udp" else os.path.join(workdir, "baseline.sock")
    proc = subprocess.Popen([tool(build_dir, "recv_baseline"), "--transport", transport,
                             "--listen", listen, *receiver], stdout=subprocess.PIPE, text=True)
    try:
        bound = proc.stdout.readline().split()[1]
        target = f"127.0.0.1:{bound}" if transport == "udp" else bound
        sent = loadgen(build_dir, transport, target, events, **options)
        wait_idle(proc.pid, quiet_s=0.3)
        proc.terminate()
        result = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    result["sent"] = sent
    return result


class Agent:
    """meterd with every transport on, a fresh buffer, its own Kafka topic, and a log to parse."""

    def __init__(self, build_dir, workdir, broker, name, **overrides):
        os.makedirs(os.path.join(workdir, name), exist_ok=True)
        self.topic = f"bench-{name}"
        broker.create_topic(self.topic, 3)
        self.udp = f"127.0.0.1:{free_udp_port()}"
        self.unix_datagram = os.path.join(workdir, name, "events.sock")
        self.unix_stream = os.path.join(workdir, name, "events.stream.sock")
        self.http = f"127.0.0.1:{free_tcp_port()}"
        self.meterd = Meterd(build_dir, os.path.join(workdir, name), broker.bootstrap, **overrides)
        self.meterd.config["listeners"] = {
            "udp": self.udp, "unix_datagram": self.unix_datagram,
            "unix_stream": self.unix_stream, "http": self.http}
        self.meterd.config["buffer"]["commit_interval"] = "200ms"  # the default
        self.meterd.config["kafka"]["topic"] = self.topic

    def start(self):
        started = time.monotonic()
        self.meterd.start()
        self.ready_s = time.monotonic() - started
        self.pid = self.meterd.proc.pid
        self.perf = None
        # METERD_BENCH_PERF=<folder>: record a profile of every scenario's meterd (perf report -i).
        if os.environ.get("METERD_BENCH_PERF"):
            out = os.path.join(os.environ["METERD_BENCH_PERF"], f"{self.topic}.perf.data")
            self.perf = subprocess.Popen(["perf", "record", "-q", "-g", "-o", out, "-p",
                                          str(self.pid)], stderr=subprocess.DEVNULL)
        return self

    def target(self, transport):
        return {"udp": self.udp, "unix-datagram": self.unix_datagram,
                "unix-stream": self.unix_stream, "http": self.http}[transport]

    def query(self, sql):
        """One value read from the buffer (read-only, beside the running meterd)."""
        db = sqlite3.connect(f"file:{self.meterd.buffer_path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()

    def outbox_empty(self):
        return self.query("SELECT min(seq) FROM outbox") is None

    def stop(self):
        """SIGTERM; returns the log's counters: {listener: (datagrams, kernel drops),
        "accepted": events accepted}. (Counting the buffer would miss the windows that closed
        and were sent during the run.)"""
        if self.perf:
            self.perf.send_signal(signal.SIGINT)
            self.perf.wait(timeout=60)
        self.meterd.stop(timeout_s=120)
        counters = {}
        for line in self.meterd.log:
            for name in ("udp", "unix_datagram"):
                marker = f"] {name}: "
                if marker in line:
                    words = line.split(marker, 1)[1].split()
                    counters[name] = (int(words[0]), int(words[3]))
            if "meterd stopped: " in line:
                counters["accepted"] = int(line.split("meterd stopped: ", 1)[1].split()[0])
        return counters
