"""Test clients for meterd's transports: Unix datagram and stream sockets, HTTP, and a small
msgpack encoder (the standard library has none). Python 3.11 standard library only.
"""

import http.client
import socket
import struct


def msgpack(value):
    """Encodes dicts, lists, str, int, float, bool and None as msgpack."""
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if 0 <= value < 128:
            return bytes([value])
        if value >= 0:
            return b"\xcf" + struct.pack(">Q", value)
        return b"\xd3" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"\xcb" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode()
        if len(data) < 32:
            return bytes([0xA0 | len(data)]) + data
        return b"\xdb" + struct.pack(">I", len(data)) + data
    if isinstance(value, (list, tuple)):
        return b"\xdd" + struct.pack(">I", len(value)) + b"".join(msgpack(v) for v in value)
    if isinstance(value, dict):
        return b"\xdf" + struct.pack(">I", len(value)) + b"".join(
            msgpack(k) + msgpack(v) for k, v in value.items())
    raise TypeError(type(value))


def send_unix_datagram(path, payload):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(payload if isinstance(payload, bytes) else payload.encode(), path)


class StreamClient:
    """A Unix stream client of agent/PROTOCOL.md: sends lines, collects acks and error lines."""

    def __init__(self, path, timeout_s=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.pending = b""
        self.acked = 0
        self.errors = []  # (line, reason)

    def send_lines(self, lines):
        self.sock.sendall(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n"
                                   for l in lines))

    def read_until_acked(self, line):
        """Reads replies until an ack covers `line`; raises on EOF before that."""
        while self.acked < line:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed with {self.acked} of {line} lines acknowledged")
            self.pending += chunk
            while b"\n" in self.pending:
                reply, self.pending = self.pending.split(b"\n", 1)
                reply = reply.decode()
                if reply.startswith("ack "):
                    self.acked = int(reply[4:])
                elif reply.startswith("error "):
                    number, reason = reply[6:].split(" ", 1)
                    self.errors.append((int(number), reason))
                else:
                    raise AssertionError(f"unexpected reply {reply!r}")

    def close(self):
        self.sock.close()


def http_post(port, body, content_type, path="/api/v1/events", timeout_s=30):
    """POSTs `body`; returns (status, response body as text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class ResilientStreamSender:
    """A stream client that never gives up: sends `lines` in chunks and, whenever the connection
    breaks (meterd killed, restarted, or refusing a full buffer), reconnects and resends every
    line not yet acknowledged, as agent/PROTOCOL.md tells clients to. Runs in a thread."""

    def __init__(self, path, lines, chunk=500, pause_s=0.02, deadline_s=300):
        import threading
        self.path, self.lines, self.chunk, self.pause_s = path, lines, chunk, pause_s
        self.deadline_s = deadline_s
        self.acked = 0
        self.reconnects = 0
        self.refusals = 0
        self.failure = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout_s):
        self.thread.join(timeout_s)

    def _run(self):
        import time
        deadline = time.monotonic() + self.deadline_s
        try:
            while self.acked < len(self.lines) and time.monotonic() < deadline:
                try:
                    client = StreamClient(self.path, timeout_s=10)
                except OSError:
                    time.sleep(0.1)  # meterd is not listening (yet)
                    continue
                base = self.acked
                try:
                    for start in range(base, len(self.lines), self.chunk):
                        chunk = self.lines[start:start + self.chunk]
                        client.send_lines(chunk)
                        client.read_until_acked(start - base + len(chunk))
                        self.acked = base + client.acked
                        time.sleep(self.pause_s)
                except (OSError, ConnectionError):
                    self.acked = base + client.acked
                    self.reconnects += 1
                    if any("buffer full" in reason for _, reason in client.errors):
                        self.refusals += 1
                        time.sleep(0.5)
                finally:
                    client.close()
        except Exception as e:  # reported by the test
            self.failure = e
