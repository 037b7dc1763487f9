"""A throwaway clickhouse-server for end-to-end tests (stdlib only).

ClickHouse(workdir) renders packaging/clickhouse/server-config.xml (and the sibling users
template) into a folder under `workdir`, starts the server on free loopback ports, and waits
until it answers. Everything the server writes (data, logs, preprocessed configs) stays in that
folder; stop() ends the server and deletes nothing, so the caller's temporary directory stays the
single thing to clean up and the logs survive for a failing test to show.

Works with Debian 12's clickhouse-server 18.16 (/usr/sbin/clickhouse-server) and with the single
`clickhouse` binary of current releases (`clickhouse server`); both take --config-file.
"""

import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGING_DIR = REPO_ROOT / "packaging" / "clickhouse"
SCHEMA_SQL = PACKAGING_DIR / "schema.sql"

_STARTUP_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 20


class ClickHouseError(RuntimeError):
    """A query failed; the message is ClickHouse's own error text."""


def find_server_command():
    """The argv prefix that starts a server: 18.16's clickhouse-server or `clickhouse server`."""
    for candidate in (shutil.which("clickhouse-server"), "/usr/sbin/clickhouse-server",
                      "/usr/bin/clickhouse-server"):
        if candidate and os.access(candidate, os.X_OK):
            return [candidate]
    combined = shutil.which("clickhouse")
    if combined:
        return [combined, "server"]
    raise FileNotFoundError("no clickhouse-server or clickhouse binary found")


def split_sql(text):
    """Splits a SQL script into statements on ';', ignoring ';' inside quotes and comments.

    Comments are dropped: the HTTP interface takes one statement per request, and a statement made
    only of comments would be an error."""
    statements, current = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            # Copy a quoted literal or identifier whole; backslash escapes the next character.
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            current.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def render(template, values):
    """Replaces {{NAME}} placeholders; every placeholder must get a value."""
    for name, value in values.items():
        template = template.replace("{{%s}}" % name, str(value))
    left = re.findall(r"\{\{[A-Z_]+\}\}", template)
    if left:
        raise ValueError("unfilled placeholders: %s" % ", ".join(sorted(set(left))))
    return template


def _free_port():
    # The port is free when we look; the server binds it a moment later. A collision in between
    # makes the server exit at once, and start() then retries with new ports.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Runs in the child before exec: if the test process is killed (ctest timeout, kill -9), the
    # kernel sends the server SIGKILL instead of leaving it running with no one to stop it.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class ClickHouse:
    """A clickhouse-server owned by the test; a context manager that always stops it."""

    def __init__(self, workdir):
        self.dir = Path(workdir).resolve() / "clickhouse"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "config.xml"
        self.log_dir = self.dir / "log"
        self.tcp_port = None
        self.http_port = None
        self._proc = None
        self._console = None
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def _start(self):
        command = find_server_command()
        last_error = None
        for _attempt in range(3):
            self.tcp_port, self.http_port = _free_port(), _free_port()
            while self.http_port == self.tcp_port:
                self.http_port = _free_port()
            self._write_config()
            self._console = open(self.dir / "console.txt", "ab")
            self._proc = subprocess.Popen(
                command + ["--config-file=%s" % self.config_path],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self._console,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
            try:
                self._wait_until_ready()
                return
            except RuntimeError as e:
                last_error = e
                self.stop()
                if "Address already in use" not in str(e):
                    break
        raise last_error

    def _write_config(self):
        config = render((PACKAGING_DIR / "server-config.xml").read_text(), {
            "DATA_DIR": xml_escape(str(self.dir)),
            "TCP_PORT": self.tcp_port,
            "HTTP_PORT": self.http_port,
        })
        self.config_path.write_text(config)
        # server-config.xml names "users.xml" relative to itself.
        shutil.copyfile(PACKAGING_DIR / "server-users.xml", self.dir / "users.xml")

    def _wait_until_ready(self):
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("clickhouse-server exited with %s during start-up:\n%s"
                                   % (self._proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.http_port,
                                            timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.2)
        raise RuntimeError("clickhouse-server did not answer within %d s:\n%s"
                           % (_STARTUP_TIMEOUT_S, self.log_tail()))

    def stop(self):
        """Stops the server (SIGTERM, then SIGKILL for the whole process group). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            # The group may hold helpers even after the server itself exited.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        if self._console is not None:
            self._console.close()
            self._console = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_tail(self, lines=40):
        """The end of the server's error log and console output, for failure messages."""
        out = []
        for path in (self.log_dir / "clickhouse-server.err.log", self.dir / "console.txt"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append("--- %s\n%s" % (path, "\n".join(text)))
        return "\n".join(out) or "(no server log)"

    # -- queries ---------------------------------------------------------------------------

    def query(self, sql, timeout_s=60):
        """Runs one statement over HTTP; returns the response text (TabSeparated for SELECTs)."""
        if self._proc is None:
            raise ClickHouseError("server is not running")
        request = urllib.request.Request("http://127.0.0.1:%d/" % self.http_port,
                                         data=sql.encode("utf-8"), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            message = e.read().decode("utf-8", errors="replace").strip()
            raise ClickHouseError("%s\nin query: %s" % (message, sql.strip())) from None

    def query_file(self, path):
        """Runs the single statement in a .sql file (such as packaging/clickhouse/usage_*.sql)."""
        statements = split_sql(Path(path).read_text())
        if len(statements) != 1:
            raise ValueError("%s holds %d statements, expected 1" % (path, len(statements)))
        return self.query(statements[0])

    def apply_schema(self, brokers, topic, group, schema_path=SCHEMA_SQL,
                     dead_letter_topic="meter-dead-letters"):
        """Renders the meterd DDL for this broker/topics/group and runs it statement by statement."""
        values = {"BROKERS": brokers, "TOPIC": topic, "GROUP": group,
                  "DEAD_LETTER_TOPIC": dead_letter_topic}
        for name, value in values.items():
            # They end up inside SQL string literals.
            if not value or re.search(r"['\\\s]", value):
                raise ValueError("bad %s for the schema: %r" % (name, value))
        for statement in split_sql(render(Path(schema_path).read_text(), values)):
            self.query(statement)

    def wait_for_rows(self, expected_keys, timeout_s):
        """Polls until meterd.windows holds at least `expected_keys` distinct idempotency keys.

        Returns the count reached; raises TimeoutError with the last count and the server's error
        log (where a stalled Kafka consumer reports why)."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while True:
            count = int(self.query(
                "SELECT count(DISTINCT idempotency_key) FROM meterd.windows").strip())
            if count >= expected_keys:
                return count
            if time.monotonic() >= deadline:
                raise TimeoutError("meterd.windows holds %d of %d keys after %s s\n%s"
                                   % (count, expected_keys, timeout_s, self.log_tail()))
            time.sleep(0.25)
