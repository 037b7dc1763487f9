"""The randomized model test (issue 14): random histories of events, resends, lost answers,
SIGKILL and SIGTERM, buffer loss, broker stalls and slow confirmations, coarsening and window
size changes against a real meterd and the test broker, checked against a reference model of
what clients were told (tests/harness/model.py). leveldb's db/fault_injection_test.cc and
Jepsen's history checkers are the models.

The property: the topic's records collapsed by idempotency key (what ClickHouse's
ReplacingMergeTree FINAL keeps) hold, per meter, subject, groups and UTC hour of event time,
exactly the COUNT and SUM of the events whose first acknowledged send counted (refused events
count nothing for any meter, resends nothing more), and the datagram events within their
bounds. A key carrying two payloads, a record that is not valid JSON or holds a non-finite
number, or an answer that contradicts an event's fixed validity fails the test too. A failure
prints the seed, the command that replays it, a guess of the issue-14 item behind each kind of
difference, the differing buckets and the whole history.

One history per seed: SEEDS run under ctest; `--seed N` (repeatable) runs only those,
`--steps N` sets the length, `--ops a,b,c` runs exactly those operations (one scenario alone),
`--keep` keeps the work folder (meterd.log of every incarnation, broker.log, history.txt).
Every history holds each fault of MANDATORY at least once, at random places, and random
operations (WEIGHTS) up to `--steps`:

- `send`: a batch of new events over HTTP (POST /api/v1/events) or the Unix stream: valid ones
  timed now, 2 min to 4 h ago, 4-20 h ago (inside the 24 h dedup_window), 25-60 h ago (beyond
  dedup_window, inside the 7 d max_lateness), minutes ahead or at the top of the next hour
  (max_future is 2 h here); events the SUM meter refuses while the COUNT meter matches
  (`"12O"`, true, null, `""`, hex); events beyond max_lateness.
- `lost_ack`: a batch whose answer the client never reads (HTTP: read and ignored; stream:
  closed right after sending); `retry`: the client resends what it got no answer for (every
  history ends by settling all of it, as every client must); `resend`: earlier events again,
  same source, id, time and data; `resend_old`: 25-60 h old events answered 204, then resent;
  `fix_resend`: refused events resent with the value fixed under the same id (they count once,
  with the fix); `concurrent`: the same new events over HTTP and the stream at once;
  `whale`: values 2^1022 and 2^1023 in one window, whose sum leaves the double's range
  (powers of two: any finite sum of them is exact in any order, so sums compare exactly).
- `datagrams`: UDP events, fire-and-forget, to subjects of their own, never resent. One counts
  as certain only if the meterd that received it ran on for 2 s after it was sent (20 commit
  intervals: committed, so durable across a SIGKILL); otherwise as maybe, and the topic must
  lie between the certain and the certain + maybe counts. That is the honest bound for
  fire-and-forget: a datagram still in the socket, or received and not committed, when meterd
  is killed may be lost, never doubled. (Graceful stops need no special case: a datagram sent
  2 s before a SIGTERM was committed well before it.)
- Faults: `kill` (SIGKILL at a random moment, restart), `term` (SIGTERM: exit code 0, restart),
  `kill_during_send` (SIGKILL 0-300 ms into a client thread's sends: some answers seen, the
  others lost and retried later), `outage` (broker down for some steps while traffic goes on:
  the outbox passes `buffer.coarsen_at` = 50 rows and is coarsened into hours), `slow` (1-3 s
  round trips for some steps: the broker stores records at once and confirms them late),
  `slow_kill` (a burst of late events under slow confirmations, SIGKILL with the records
  stored and unconfirmed, a restart handing over as many or fewer records at a time
  (`kafka.max_in_flight` 200 or 10: a new config), and more late rows for the same hours, so the
  restart's outbox passes coarsen_at with those records in it), `buffer_loss` (pending sends
  settled, SIGTERM, outbox drained, buffer and -wal/-shm deleted, restart with the same
  agent_id; events into the same current and future windows before and after), `resize`
  (restart with another `windows.size`: 1m, 5m or 1h; events into the next hour's first
  window before and after), `pause`.

Left out on purpose: resends across a buffer loss (the dedup memory lives in the buffer; the
test settles every send and forgets its resend pool before deleting the buffer, so what the
lost buffer takes with it, its unsent rows and its dedup keys, is empty or never used again);
datagram exactness across SIGKILL (bounds instead); clock steps (issue 14 item 6: needs the
clock seam, so it is tested at the store level) and dedup keys filling `buffer.max_size`
(item 7: a matter of volume, not of interleavings); ClickHouse (the topic collapsed by key is
the reference; the fault suite checks ClickHouse's FINAL against the same totals).

Usage: /usr/bin/python3 tests/fault/test_model.py --build-dir BUILD [--seed N] [--steps N]
       [--ops a,b,c] [--keep]
"""

import collections
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from testmain import run_tests  # noqa: E402

from broker import MockBroker  # noqa: E402
from clients import StreamClient, http_post  # noqa: E402
from meterd import Meterd, free_tcp_port  # noqa: E402
from model import (DATAGRAM, WHALE, Event, History, Model, classify, collapse,  # noqa: E402
                   compare, conflict_buckets, dump_topic_lenient, hints, record_text,
                   totals_by_series)

BUILD_DIR = None
TOPIC = "meter-windows"
BATCH = "application/cloudevents-batch+json"
SEEDS = [1401, 1402, 1403]
STEPS = 100
BROKERS = 3
SLOW_RTT_MS = (1000, 3000)
# kafka.max_in_flight of a restart: a few records in flight, or many (slow_kill).
FEW_IN_FLIGHT, MANY_IN_FLIGHT = 10, 200

# Every history holds each of these once at least, at random places.
MANDATORY = ["kill", "term", "kill_during_send", "kill_during_send", "buffer_loss", "outage",
             "slow", "slow_kill", "slow_kill", "lost_ack", "retry", "resend", "resend_old", "fix_resend",
             "whale", "datagrams", "resize", "concurrent"]
# The rest of the steps, drawn with these weights.
WEIGHTS = {"send": 8, "lost_ack": 3, "retry": 3, "resend": 3, "resend_old": 1, "fix_resend": 1,
           "whale": 1, "datagrams": 3, "kill": 2, "term": 1, "kill_during_send": 2,
           "outage": 1, "slow": 1, "slow_kill": 1, "buffer_loss": 1, "resize": 1, "concurrent": 2,
           "pause": 2}
# Kinds of new events in an ordinary batch.
KIND_WEIGHTS = {"now": 10, "recent": 8, "hours": 3, "days": 3, "future": 3, "half_invalid": 3,
                "too_old": 1}
INVALID_VALUES = ["12O", True, None, "", "0x1A"]


def own_arguments():
    """Takes this script's options out of sys.argv (the rest goes to testmain and unittest):
    --seed N (repeatable), --steps N, --ops a,b,c (exactly these operations, in this order,
    instead of a random plan: to replay one scenario) and --keep (keep the work folder, with
    meterd's and the broker's logs)."""
    options = {"seeds": [], "steps": STEPS, "ops": None, "keep": False}
    rest = [sys.argv[0]]
    args = iter(sys.argv[1:])
    for arg in args:
        name, _, value = arg.partition("=")
        if name in ("--seed", "--steps", "--ops") and not value:
            value = next(args)
        if name == "--seed":
            options["seeds"].append(int(value))
        elif name == "--steps":
            options["steps"] = int(value)
        elif name == "--ops":
            options["ops"] = value.split(",")
        elif name == "--keep":
            options["keep"] = True
        else:
            rest.append(arg)
    sys.argv[:] = rest
    options["seeds"] = options["seeds"] or SEEDS
    return options


def wait_for(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Aborted(Exception):
    """meterd or the broker misbehaved so that the history cannot go on."""


class Run:
    """One seeded history against a fresh broker and meterd in `workdir`."""

    def __init__(self, seed, steps, workdir, ops=None):
        self.seed, self.steps, self.fixed_plan = seed, steps, ops
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.model = Model()
        self.history = History()
        self.failures = []
        with open(os.path.join(workdir, "broker.log"), "w") as broker_log:
            self.broker = MockBroker(BUILD_DIR, brokers=BROKERS, topics={TOPIC: 3},
                                     stderr=broker_log)
        self.http_port = free_tcp_port()
        self.stream_path = os.path.join(workdir, "stream.sock")
        self.agent = Meterd(BUILD_DIR, workdir, self.broker.bootstrap)
        c = self.agent.config
        c["listeners"].update({"unix_stream": self.stream_path,
                               "http": f"127.0.0.1:{self.http_port}"})
        c["buffer"].update({"coarsen_at": 50, "dedup_window": "24h"})
        c["windows"].update({"max_lateness": "7d", "max_future": "2h"})
        c["kafka"]["max_in_flight"] = FEW_IN_FLIGHT
        # Above SLOW_RTT_MS, so a slow broker stays connected: it stores records at once and
        # confirms them a round trip later.
        c["kafka"]["properties"]["socket.timeout.ms"] = "5000"
        c["shutdown_timeout"] = "3s"
        self.incarnation = 0
        self.next_id = 0
        self.pool = []  # identities that may be resent: sent since the last buffer loss
        self.pooled = set()
        self.outage_left = 0
        self.slow_left = 0
        self.ops = collections.Counter()

    def close(self):
        self.agent.__exit__()
        self.save_log()
        self.broker.stop()

    def save_log(self):
        """Appends the last incarnation's log to WORKDIR/meterd.log (kept with --keep)."""
        if self.agent.log:
            with open(os.path.join(self.workdir, "meterd.log"), "a") as f:
                f.write(f"--- incarnation {self.incarnation}\n" + "\n".join(self.agent.log) +
                        "\n")
            self.agent.log = []

    # meterd's life.

    def start(self):
        self.save_log()
        try:
            self.agent.start()
        except RuntimeError as e:
            raise Aborted(f"meterd did not start: {e}") from e
        self.incarnation += 1

    def kill(self):
        self.model.incarnation_ended(self.incarnation)
        self.agent.kill()

    def stop(self):
        self.model.incarnation_ended(self.incarnation)
        log = self.agent.log
        code = self.agent.stop(timeout_s=60)
        if code != 0:
            self.failures.append(f"SIGTERM: exit code {code}; log tail:\n" + "\n".join(log[-15:]))

    def stop_drained(self):
        """SIGTERM until a stop leaves nothing in the buffer (open windows or outbox)."""
        self.stop()
        for _ in range(6):
            if self.agent.buffered() == (0, 0, 0):
                return
            self.start()
            wait_for(lambda: self.agent.buffered()[2] == 0, 60)
            self.stop()
        raise Aborted(f"the outbox never drained: {self.agent.buffered()}")

    def end_stalls(self):
        if self.outage_left:
            self.broker.up()
            self.outage_left = 0
        if self.slow_left:
            self.set_rtt(0)
            self.slow_left = 0

    def set_rtt(self, ms):
        for broker_id in range(1, BROKERS + 1):
            self.broker.set_rtt(broker_id, ms)

    # Events.

    def new_event(self, kind, subject=None, time_ms=None):
        self.next_id += 1
        r = self.rng
        now = int(time.time() * 1000)
        if time_ms is None:
            time_ms = self.event_time(kind, now)
        tokens = r.randint(1, 5000)
        if kind == "half_invalid":
            tokens = r.choice(INVALID_VALUES)
        elif kind == WHALE:
            tokens = r.choice([2.0 ** 1022, 2.0 ** 1023])
        if subject is None:
            subject = {WHALE: "whale-0", DATAGRAM: f"udp-{r.randrange(2)}"}.get(
                kind, f"cust-{r.randrange(4)}")
        source = "udp-app" if kind == DATAGRAM else r.choice(["app-a", "app-b"])
        return Event(source, f"s{self.seed}-{self.next_id}", time_ms, subject,
                     r.choice(["gpt-4", "claude"]), r.choice(["eu", "us"]), tokens, kind)

    def event_time(self, kind, now):
        r = self.rng
        if kind == "half_invalid":
            kind = r.choice(["now", "recent", "days"])
        if kind in ("now", DATAGRAM):
            return now - r.randrange(0, 70_000)
        if kind == "recent":
            return now - r.randrange(120_000, 4 * 3_600_000)
        if kind == "hours":
            return now - r.randrange(4 * 3_600_000, 20 * 3_600_000)
        if kind == "days":
            return now - r.randrange(25 * 3_600_000, 60 * 3_600_000)
        if kind == "future":
            if r.random() < 0.5:
                return now + r.randrange(20_000, 240_000)
            return self.next_hour_ms(now) + r.randrange(0, 119_000)
        if kind == "too_old":
            return now - 8 * 86_400_000 - r.randrange(0, 3_600_000)
        raise ValueError(kind)

    @staticmethod
    def next_hour_ms(now):
        return (now // 3_600_000 + 1) * 3_600_000

    def new_batch(self, n, kinds=KIND_WEIGHTS):
        names = list(kinds)
        return [self.new_event(k) for k in self.rng.choices(names, [kinds[k] for k in names], k=n)]

    def resendable(self, identity):
        state = self.model.state(identity)
        return state.accepted or state.last_sent

    # Transports: each returns one outcome per event (accepted, refused, lost, retry) and a note.

    def send_http(self, events, observe=True):
        body = "[" + ",".join(e.json() for e in events) + "]"
        try:
            status, text = http_post(self.http_port, body, BATCH, timeout_s=30)
        except (OSError, http.client.HTTPException) as e:
            return ["lost"] * len(events), [""] * len(events), f"no answer ({type(e).__name__})"
        if not observe:
            return ["lost"] * len(events), [""] * len(events), f"{status}, ignored"
        details = [""] * len(events)
        if status == 204:
            return ["accepted"] * len(events), details, "204"
        if status == 400:
            invalid = {}
            for item in json.loads(text).get("invalid_events", []):
                invalid.setdefault(item["index"], item["reason"])
            if not invalid:
                self.failures.append(f"HTTP 400 without invalid_events: {text[:300]}")
            out = ["refused" if i in invalid else "accepted" for i in range(len(events))]
            return out, [invalid.get(i, "") for i in range(len(events))], f"400 ({len(invalid)})"
        if status != 503:
            self.failures.append(f"unexpected HTTP {status}: {text[:300]}")
        return ["retry"] * len(events), details, str(status)

    def send_stream(self, events, observe=True, chunk=None):
        n = len(events)
        outcomes, details = ["lost"] * n, [""] * n
        try:
            client = StreamClient(self.stream_path, timeout_s=30)
        except OSError as e:
            return outcomes, details, f"no connection ({type(e).__name__})"
        note = "acked"
        try:
            if not observe:
                client.send_lines([e.json() for e in events])
                return outcomes, details, "closed without reading"
            chunk = chunk or n
            for start in range(0, n, chunk):
                client.send_lines([e.json() for e in events[start:start + chunk]])
                client.read_until_acked(min(n, start + chunk))
        except (OSError, ConnectionError) as e:
            note = f"broken ({type(e).__name__}) after ack {client.acked}"
        finally:
            client.close()
        errors = dict(client.errors)
        for i in range(n):
            if i + 1 in errors:
                full = "buffer full" in errors[i + 1]
                outcomes[i] = "retry" if full else "refused"
                details[i] = errors[i + 1]
            elif i + 1 <= client.acked:
                outcomes[i] = "accepted"
        return outcomes, details, note

    def send(self, events, transport=None, observe=True, chunk=None):
        transport = transport or self.rng.choice(["http", "stream"])
        if transport == "http":
            result = self.send_http(events, observe)
        else:
            result = self.send_stream(events, observe, chunk)
        return transport, result

    def record(self, what, events, transport, result):
        outcomes, details, note = result
        for event, outcome, detail in zip(events, outcomes, details):
            self.model.sent(event, outcome, detail, f"{what}/{transport}")
            if event.kind != WHALE and event.identity not in self.pooled:
                self.pooled.add(event.identity)
                self.pool.append(event.identity)
        kinds = collections.Counter(e.kind for e in events)
        seen = collections.Counter(outcomes)
        self.history.log(f"{what}: {transport} {len(events)} ev "
                         f"[{' '.join(f'{k}x{v}' for k, v in sorted(kinds.items()))}] -> {note} "
                         f"[{' '.join(f'{k}x{v}' for k, v in sorted(seen.items()))}]")

    def send_and_record(self, what, events, transport=None, observe=True, chunk=None):
        transport, result = self.send(events, transport, observe, chunk)
        self.record(what, events, transport, result)
        return result[0]

    def settle(self):
        """Retries every send still owed an answer, as a client must, until none is left."""
        for _ in range(10):
            pending = self.model.pending()
            if not pending:
                return
            first = {}
            for event in pending:  # one send per identity in a request
                first.setdefault(event.identity, event)
            events = list(first.values())
            for i in range(0, len(events), 25):
                self.send_and_record("retry", events[i:i + 25])
        raise Aborted(f"{len(self.model.pending())} sends never got an answer")

    # Operations.

    def op_send(self):
        self.send_and_record("send", self.new_batch(self.rng.randint(1, 20)))

    def op_lost_ack(self):
        events = self.new_batch(self.rng.randint(1, 12))
        if self.pool:
            events += [self.resendable(i) for i in
                       self.rng.sample(self.pool, min(3, len(self.pool)))]
            events = list({e.identity: e for e in events}.values())
        self.send_and_record("lost_ack", events, observe=False)

    def op_retry(self):
        pending = self.model.pending()
        if not pending:
            self.history.log("retry: nothing pending")
            return
        first = {}
        for event in pending:
            first.setdefault(event.identity, event)
        events = list(first.values())[:25]
        self.send_and_record("retry", events)

    def op_resend(self):
        if not self.pool:
            return self.op_send()
        picked = self.rng.sample(self.pool, min(len(self.pool), self.rng.randint(1, 8)))
        self.send_and_record("resend", [self.resendable(i) for i in picked])

    def op_resend_old(self):
        old = [i for i in self.pool if self.model.state(i).accepted is not None
               and self.model.state(i).accepted.kind == "days"]
        if len(old) < 2:
            events = [self.new_event("days") for _ in range(3)]
            self.send_and_record("old", events, transport="http")
            old = [e.identity for e in events]
        picked = self.rng.sample(old, min(len(old), 4))
        self.send_and_record("resend_old", [self.resendable(i) for i in picked])

    def op_fix_resend(self):
        refused = [i for i in self.pool if self.model.state(i).accepted is None
                   and self.model.state(i).last_sent.kind == "half_invalid"
                   and not self.model.state(i).unknown]
        if not refused:
            events = [self.new_event("half_invalid") for _ in range(2)]
            self.send_and_record("invalid", events)
            refused = [e.identity for e in events]
        picked = self.rng.sample(refused, min(len(refused), 3))
        fixed = [self.model.state(i).last_sent.fixed(self.rng.randint(1, 5000)) for i in picked]
        self.send_and_record("fix_resend", fixed)

    def op_whale(self):
        base = int(time.time() * 1000) - self.rng.randrange(0, 50_000)
        events = [self.new_event(WHALE, time_ms=base - self.rng.randrange(0, 3000))
                  for _ in range(self.rng.randint(2, 4))]
        events[0].tokens = 2.0 ** 1023  # with two more, or one more of 2^1023: past 2^1024
        for e in events[1:]:  # one series, so one window
            e.model, e.region = events[0].model, events[0].region
        if self.rng.random() < 0.5:
            self.send_and_record("whale", events, transport="http")
        else:
            for event in events:
                self.send_and_record("whale", [event])

    def op_datagrams(self):
        events = [self.new_event(DATAGRAM) for _ in range(self.rng.randint(1, 12))]
        i = 0
        while i < len(events):
            n = self.rng.randint(1, 3)
            self.agent.send("\n".join(e.json() for e in events[i:i + n]))
            for e in events[i:i + n]:
                self.model.datagram_sent(self.incarnation, e)
            i += n
        self.history.log(f"datagrams: udp {len(events)} ev")
        time.sleep(self.rng.uniform(0, 2))

    def op_kill(self):
        time.sleep(self.rng.uniform(0, 0.5))
        self.kill()
        self.history.log("SIGKILL")
        self.start()

    def op_term(self):
        self.stop()
        self.history.log("SIGTERM")
        self.start()

    def op_kill_during_send(self):
        events = self.new_batch(self.rng.randint(5, 40))
        pending = {e.identity: e for e in self.model.pending()}
        events += list(pending.values())[:10]
        events = list({e.identity: e for e in events}.values())
        transport = self.rng.choice(["http", "stream"])
        chunk = self.rng.randint(1, 8)
        results = []

        def sender():
            if transport == "http":
                for i in range(0, len(events), chunk):
                    results.append((events[i:i + chunk], self.send_http(events[i:i + chunk])))
            else:
                results.append((events, self.send_stream(events, chunk=chunk)))

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        time.sleep(self.rng.uniform(0, 0.3))
        self.kill()
        thread.join(60)
        self.history.log(f"SIGKILL during {transport} sends of {chunk}")
        sent = set()
        for batch, result in results:
            self.record("killed", batch, transport, result)
            sent.update(e.identity for e in batch)
        unsent = [e for e in events if e.identity not in sent]
        if unsent:  # never tried: the client sends them after the restart
            self.record("killed", unsent, transport,
                        (["lost"] * len(unsent), [""] * len(unsent), "not sent"))
        time.sleep(self.rng.uniform(0, 0.5))
        self.start()

    def op_concurrent(self):
        """The same new events over HTTP and the stream at once (plus others): one commit may
        hold both copies of an identity; it counts once."""
        events = self.new_batch(self.rng.randint(3, 15))
        shared = events[:self.rng.randint(1, len(events))]
        other = shared + self.new_batch(self.rng.randint(0, 5))
        self.rng.shuffle(other)
        results = {}
        threads = [
            threading.Thread(target=lambda: results.__setitem__("http", self.send_http(events))),
            threading.Thread(target=lambda: results.__setitem__("stream",
                                                                self.send_stream(other))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.record("concurrent", events, "http", results["http"])
        self.record("concurrent", other, "stream", results["stream"])

    def op_outage(self):
        if self.outage_left:
            return self.op_send()
        self.broker.down()
        self.outage_left = self.rng.randint(2, 6)
        self.history.log(f"broker down for {self.outage_left} steps")

    def op_slow(self):
        ms = self.rng.randint(*SLOW_RTT_MS)
        self.set_rtt(ms)
        self.slow_left = self.rng.randint(2, 5)
        self.history.log(f"broker rtt {ms} ms for {self.slow_left} steps")

    def op_slow_kill(self):
        """Records handed to the producer and stored by the broker, unconfirmed at a SIGKILL;
        the restart (with as many or fewer records in flight: a new config) gets more late
        rows for the same hours, so its outbox passes coarsen_at with those records in it."""
        self.end_stalls()
        kafka = self.agent.config["kafka"]
        if kafka["max_in_flight"] != MANY_IN_FLIGHT:
            self.stop()
            kafka["max_in_flight"] = MANY_IN_FLIGHT
            self.start()
            self.history.log(f"SIGTERM, kafka.max_in_flight {MANY_IN_FLIGHT}")
        # A delivery at full speed first: the producer's connections to the partition leaders
        # are up, so once the round trips are slow the broker stores records at once (a new
        # connection's handshake would take several slow round trips: an outage, not this).
        self.send_and_record("warm-up", self.new_batch(10, {"recent": 1}), transport="http")
        time.sleep(1.3)  # their late partials close a grace (1 s) after they opened
        warm = wait_for(lambda: self.agent.buffered()[2] == 0, 10)
        ms = self.rng.randint(*SLOW_RTT_MS)
        self.set_rtt(ms)
        self.history.log(f"outbox {'empty' if warm else 'not empty'}; broker rtt {ms} ms")
        events = self.new_batch(self.rng.randint(60, 120), {"recent": 5, "now": 1})
        self.tag(events, "slow_kill")
        self.send_and_record("burst", events, transport="http")
        # Killed after the burst's partials closed (a grace) and went to the broker, before
        # their confirmations are back (a round trip later).
        time.sleep(1.3 + self.rng.uniform(0.2, 0.7) * ms / 1000)
        self.kill()
        kafka["max_in_flight"] = self.rng.choice([FEW_IN_FLIGHT] * 3 + [MANY_IN_FLIGHT])
        self.history.log(f"SIGKILL with confirmations outstanding; restart with "
                         f"kafka.max_in_flight {kafka['max_in_flight']}")
        self.start()
        events = self.new_batch(self.rng.randint(30, 80), {"recent": 5, "now": 1})
        self.tag(events, "slow_kill")
        self.send_and_record("burst", events)
        # Still slow while these close: the restart's outbox passes coarsen_at with the
        # stored records still waiting in it.
        time.sleep(1.5)
        if self.rng.random() < 0.5:
            self.set_rtt(0)
            self.history.log("broker rtt 0")
        else:
            self.slow_left = self.rng.randint(1, 3)

    def tag(self, events, tag):
        for e in events:
            for bucket, _, _ in e.contributions():
                self.model.tags[bucket].add(tag)

    def same_windows(self, times, note, tag):
        """New events for one subject and group into the windows holding `times`."""
        subject = "cust-0"
        events = []
        for t in times:
            e = self.new_event("future", subject=subject, time_ms=t + self.rng.randrange(0, 500))
            e.model, e.region = "gpt-4", "eu"
            events.append(e)
        self.tag(events, tag)
        self.send_and_record(note, events)

    def op_buffer_loss(self):
        self.end_stalls()
        self.settle()
        now = int(time.time() * 1000)
        times = [now + 120_000, self.next_hour_ms(now) + 1000]
        self.same_windows(times, "before loss", "buffer_loss")
        self.stop_drained()
        for suffix in ("", "-wal", "-shm"):
            path = self.agent.buffer_path + suffix
            if os.path.exists(path):
                os.remove(path)
        self.model.lose_buffer()
        self.pool.clear()
        self.pooled.clear()
        self.history.log("buffer deleted after a drained SIGTERM; same agent_id")
        self.start()
        self.same_windows(times, "after loss", "buffer_loss")

    def op_resize(self):
        sizes = ["1m", "5m", "1h"]
        current = self.agent.config["windows"]["size"]
        size = self.rng.choice([s for s in sizes if s != current])
        now = int(time.time() * 1000)
        times = [self.next_hour_ms(now) + 2000]
        self.same_windows(times, "before resize", "resize")
        graceful = self.rng.random() < 0.5
        if graceful:
            self.stop()
        else:
            self.kill()
        self.agent.config["windows"]["size"] = size
        self.history.log(f"{'SIGTERM' if graceful else 'SIGKILL'}, windows.size {current} -> "
                         f"{size}")
        self.start()
        self.same_windows(times, "after resize", "resize")

    def op_pause(self):
        s = self.rng.uniform(0.2, 1.5)
        self.history.log(f"pause {s:.1f}s")
        time.sleep(s)

    def tick(self):
        if self.outage_left:
            self.outage_left -= 1
            if not self.outage_left:
                self.broker.up()
                self.history.log("broker up")
        if self.slow_left:
            self.slow_left -= 1
            if not self.slow_left:
                self.set_rtt(0)
                self.history.log("broker rtt 0")

    def plan(self):
        if self.fixed_plan:
            return list(self.fixed_plan)
        plan = list(MANDATORY)
        names = list(WEIGHTS)
        plan += self.rng.choices(names, [WEIGHTS[n] for n in names],
                                 k=max(0, self.steps - len(plan)))
        self.rng.shuffle(plan)
        return plan

    # The whole history, then the check.

    def run(self):
        self.start()
        self.history.log(f"meterd started: {self.agent.config_path}")
        for op in self.plan():
            self.ops[op] += 1
            getattr(self, "op_" + op)()
            self.tick()
        self.end_stalls()
        self.history.log("final: broker up, rtt 0")
        self.settle()
        self.stop_drained()
        self.history.log("final: drained SIGTERM")
        return self.check()

    def check(self):
        dump, bad = dump_topic_lenient(BUILD_DIR, self.broker.bootstrap, TOPIC)
        records, conflicts = collapse(dump)
        diffs = compare(self.model, records)
        problems = list(self.failures) + list(self.model.problems)
        if bad:
            problems.append(f"{len(bad)} records are not valid JSON or carry a non-finite "
                            f"number (issue 14 item 5), e.g. {bad[0][:300]}")
        if conflicts:
            problems.append("keys carrying two payloads (ClickHouse keeps one of them):\n" +
                            "\n".join(f"  {key}: {record_text(first)} / {record_text(second)}"
                                      for key, first, second in conflicts[:10]) +
                            (f"\n  ... {len(conflicts)} in all" if len(conflicts) > 10 else ""))
        conflicted = conflict_buckets(conflicts)
        if diffs:
            problems.append("per-bucket differences (meter/subject/groups@UTC hour):\n" +
                            "\n".join(self.difference_text(d, conflicted) for d in diffs[:60]) +
                            (f"\n  ... {len(diffs)} buckets differ in all" if len(diffs) > 60
                             else ""))
            problems.append("per-series totals:\n" + "\n".join(totals_by_series(self.model,
                                                                               records)))
        if diffs or conflicts or bad:
            problems.insert(0, "what the differences look like (buckets per issue 14 item):\n"
                            + "\n".join(hints(diffs, conflicts, bad)))
        stats = (f"{self.model.summary()}; {len(dump)} messages, {len(records)} keys, "
                 f"{sum(1 for r in records if r['window_size_s'] == 3600)} hourly; ops "
                 f"{dict(sorted(self.ops.items()))}")
        return problems, stats


    def difference_text(self, d, conflicted):
        item = classify(d, conflicted)
        text = d.text(item)
        if item is None:  # what the model knows of the events behind it
            events, more = self.model.events_in(d.bucket)
            text += "".join(f"\n      {e}" for e in events) + more
        return text


class ModelTest(unittest.TestCase):
    pass


def add_seed_test(seed, options):
    steps = options["steps"]

    def test(self):
        print(f"\nfault_model: seed {seed}, {steps} steps", file=sys.stderr, flush=True)
        started = time.monotonic()
        tmp = tempfile.mkdtemp(prefix=f"meterd-model-{seed}-")
        try:
            run = Run(seed, steps, tmp, options["ops"])
            try:
                problems, stats = run.run()
            except Aborted as e:
                problems, stats = [f"aborted: {e}"], run.model.summary()
            finally:
                run.close()
        finally:
            if options["keep"]:
                with open(os.path.join(tmp, "history.txt"), "w") as f:
                    f.write(run.history.text() + "\n")
                print(f"fault_model: seed {seed}: work folder kept: {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        print(f"fault_model: seed {seed}: {stats} ({time.monotonic() - started:.0f} s)",
              file=sys.stderr, flush=True)
        if problems:
            self.fail(
                f"seed {seed} ({steps} steps): the deduplicated topic does not match the model\n"
                f"reproduce: /usr/bin/python3 tests/fault/test_model.py --build-dir BUILD "
                f"--seed {seed} --steps {steps}"
                + (f" --ops {','.join(options['ops'])}" if options["ops"] else "") + "\n\n"
                + "\n\n".join(problems) +
                f"\n\nhistory of seed {seed}:\n{run.history.text()}\n\nseed {seed}: {stats}")

    test.__name__ = f"test_seed_{seed}"
    setattr(ModelTest, test.__name__, test)


if __name__ == "__main__":
    chosen = own_arguments()
    for s in chosen["seeds"]:
        add_seed_test(s, chosen)
    run_tests(globals())
