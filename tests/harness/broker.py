"""Test-side control of the Kafka mock broker and the topic tools (tests/tools/).

Integration, fault and end-to-end tests use this module to start a Kafka-protocol broker in a
subprocess, switch its brokers down and up, inject request errors, and read or write a topic
without the agent. Python 3.11 standard library only.

The broker speaks a line protocol on its stdin/stdout (see tests/tools/kafka_mock_broker.cc). The
broker also exits when its stdin closes, so even a test process killed outright does not leave it
running; MockBroker.stop() is the orderly way and escalates to SIGTERM and SIGKILL if needed.
"""

import json
import os
import select
import subprocess
import time

# How long a command to the broker may take before the harness gives up on it. Commands act on the
# in-process cluster and answer in microseconds; seconds mean the broker is wedged.
COMMAND_TIMEOUT_S = 10.0


class BrokerError(RuntimeError):
    """The mock broker refused a command, failed to start, or stopped answering."""


def _tool(build_dir, name):
    path = os.path.join(build_dir, "tests", "tools", name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{path} is not built")
    return path


class MockBroker:
    """A running kafka_mock_broker; use as a context manager so it is always stopped.

    brokers: number of mock brokers (ids 1..brokers). topics: name -> partition count, created at
    start with replication factor min(3, brokers). stderr: where the broker's log goes (None
    inherits the test's stderr).
    """

    def __init__(self, build_dir, brokers=3, topics=None, stderr=None):
        if topics is None:
            topics = {"meter-windows": 3}
        args = [_tool(build_dir, "kafka_mock_broker"), "--brokers", str(brokers)]
        for name, partitions in topics.items():
            args += ["--topic", f"{name}:{partitions}"]
        self.brokers = brokers
        self._pending = b""
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            first = self._read_line()
            if not first.startswith("BOOTSTRAP "):
                raise BrokerError(f"unexpected first line from broker: {first!r}")
            self.bootstrap = first.split(" ", 1)[1]
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __del__(self):
        # A last resort for a test that forgot stop(); never relied on.
        if getattr(self, "_proc", None) is not None:
            self.stop()

    # Commands. Each waits for the broker's "ok" and raises BrokerError on anything else.

    def down(self, broker_id=None):
        """Disconnect one broker (or all) and refuse new connections until up()."""
        self.command("down" if broker_id is None else f"down {broker_id}")

    def up(self, broker_id=None):
        self.command("up" if broker_id is None else f"up {broker_id}")

    def inject_errors(self, api_key, error_code, count):
        """Fail the next `count` requests of `api_key` (Produce=0) with Kafka `error_code`."""
        self.command(f"error {int(api_key)} {int(error_code)} {int(count)}")

    def set_rtt(self, broker_id, rtt_ms):
        self.command(f"rtt {int(broker_id)} {int(rtt_ms)}")

    def create_topic(self, name, partitions):
        self.command(f"topic {name} {int(partitions)}")

    def command(self, line):
        if self._proc is None or self._proc.poll() is not None:
            raise BrokerError("mock broker is not running")
        try:
            self._proc.stdin.write(line.encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError as e:
            raise BrokerError("mock broker went away") from e
        reply = self._read_line()
        if reply != "ok":
            raise BrokerError(f"{line!r}: {reply}")

    def stop(self):
        """Stop the broker; safe to call more than once. Never leaves the process behind."""
        proc, self._proc = getattr(self, "_proc", None), None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                try:
                    proc.stdin.close()  # EOF is the broker's signal to quit
                except OSError:
                    pass
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        finally:
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def _read_line(self):
        """Reads one reply line from the broker's stdout within COMMAND_TIMEOUT_S."""
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerError("mock broker did not answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise BrokerError(f"mock broker exited (status {self._proc.wait()})")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()


def dump_topic(build_dir, bootstrap, topic, timeout_s=60):
    """Reads the whole topic; returns [{"partition", "offset", "key", "value" (parsed JSON)}].

    Raises RuntimeError if topic_dump fails or times out, ValueError if a record is not one line of
    valid JSON (a consumer must never be sent such a record).
    """
    args = [
        _tool(build_dir, "topic_dump"),
        "--brokers", bootstrap,
        "--topic", topic,
        "--timeout-ms", str(int(timeout_s * 1000)),
    ]
    # The tool enforces its own deadline; the extra margin only catches a hung process.
    result = subprocess.run(args, capture_output=True, timeout=timeout_s + 30)
    if result.returncode != 0:
        raise RuntimeError(
            f"topic_dump exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        )
    records = []
    for line in result.stdout.decode().splitlines():
        fields = line.split("\t", 3)
        if len(fields) != 4:
            raise ValueError(f"malformed topic_dump line: {line!r}")
        partition, offset, key, value = fields
        records.append(
            {
                "partition": int(partition),
                "offset": int(offset),
                "key": key,
                "value": json.loads(value),
            }
        )
    return records


def produce(build_dir, bootstrap, topic, records, timeout_s=60):
    """Produces (key, value_str) pairs with an idempotent producer; raises unless all delivered."""
    lines = []
    for key, value in records:
        if "\t" in key or "\n" in key or "\n" in value:
            raise ValueError(f"key or value not fit for one line: {key!r}, {value!r}")
        lines.append(f"{key}\t{value}\n")
    args = [
        _tool(build_dir, "topic_produce"),
        "--brokers", bootstrap,
        "--topic", topic,
        "--timeout-ms", str(int(timeout_s * 1000)),
    ]
    # Failure reports for records whose leader is down come up to ~30 s after the record
    # timeout (see topic_produce.cc), hence the wide margin before the process is called hung.
    result = subprocess.run(
        args, input="".join(lines).encode(), capture_output=True, timeout=timeout_s + 60
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"topic_produce exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        )
