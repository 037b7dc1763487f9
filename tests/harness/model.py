"""The reference model of the randomized model test (tests/fault/test_model.py): what clients were
told, and what the deduplicated topic must therefore hold. Python 3.11 standard library only.

A Jepsen-style history checker: the test drives a real meterd through random operations and
faults, and tells this module every attempt to send an event together with what the client saw
(an acknowledgement, a refusal, or nothing at all). The model knows nothing of meterd's
internals; it only applies the rules meterd promises to clients:

- an event's identity is `(source, id, time)`; the first send of an identity that was
  acknowledged (HTTP 204, an event of a 400 body not listed in `invalid_events`, a stream line
  covered by an `ack` without an `error`) counts once, with the data of that send;
- a refused send (listed as invalid, or an `error` line) counts nothing, for any meter;
- a resend of an acknowledged identity counts nothing more (dedup);
- a send whose answer was never seen ("lost": meterd killed mid-request, or the test pretending
  the answer got lost) is *unknown*, and the client must retry it until it sees an answer;
  503 (buffer full) and `error … buffer full` are "retry later", never acceptance;
- datagram events are fire-and-forget: certain only if the meterd that received them ran on for
  DATAGRAM_SETTLE_S after they were sent (20 commit intervals: committed, hence durable);
  otherwise maybe, and the downstream count must lie between the certain and certain + maybe.

Totals are compared per bucket (meter, subject, groups, UTC hour of the event time): windows are
at most an hour and aligned, coarsened rows are hourly, so every record lies in one bucket.
"""

import collections
import dataclasses
import json
import math
import subprocess
import time
from datetime import datetime, timezone

from broker import _tool
from meterd import rfc3339, unique_records

DATAGRAM_SETTLE_S = 2.0
HOUR_MS = 3_600_000

# Event kinds. Their validity is fixed by the data, except WHALE's: a value near the double's
# limit whose window may or may not overflow (issue 14 item 5), so no answer is expected of it.
VALID_KINDS = ("now", "recent", "hours", "days", "future", "fixed")
REFUSED_KINDS = ("half_invalid", "too_old")
WHALE = "whale"
DATAGRAM = "datagram"


@dataclasses.dataclass
class Event:
    source: str
    id: str
    time_ms: int
    subject: str
    model: str
    region: str
    tokens: object  # a number, or something the SUM meter refuses ("12O", true, null)
    kind: str

    @property
    def identity(self):
        return (self.source, self.id, self.time_ms)

    def json(self):
        return json.dumps({
            "specversion": "1.0", "id": self.id, "source": self.source, "type": "prompt",
            "subject": self.subject, "time": rfc3339(self.time_ms),
            "data": {"tokens": self.tokens, "model": self.model, "region": self.region},
        }, separators=(",", ":"))

    def fixed(self, tokens):
        """The client's correction of a refused event: same identity, a valid value."""
        return dataclasses.replace(self, tokens=tokens, kind="fixed")

    def contributions(self):
        """[(bucket, count, sum)] of this event if accepted, under harness DEFAULT_METERS."""
        hour = self.time_ms // HOUR_MS
        return [
            (("tokens_total", self.subject, (("model", self.model), ("region", self.region)),
              hour), 1, self.tokens),
            (("prompts", self.subject, (), hour), 1, 1),
        ]


class _Identity:
    def __init__(self, first_epoch):
        self.accepted = None      # the Event whose send was acknowledged first
        self.unknown = {}         # JSON text -> Event: sends whose fate is not known yet
        self.answers = collections.defaultdict(set)  # JSON text -> {"accepted", "refused"}
        self.first_epoch = first_epoch
        self.last_sent = None
        self.attempts = 0
        self.log = []  # "op/transport:outcome" of every send, for the failure report


class Model:
    def __init__(self):
        self.identities = {}
        self.epoch = 0  # buffer generation: bumped when the test deletes the buffer
        self.datagrams = []  # [incarnation, sent_monotonic, Event, certain or None]
        self.problems = []   # answers that contradict an event's fixed validity
        self.tags = collections.defaultdict(set)  # bucket -> how events touched it (hints)

    # Acknowledged transports.

    def sent(self, event, outcome, detail="", note=""):
        """One attempt and what the client saw: accepted, refused, lost or retry (503)."""
        state = self.identities.get(event.identity)
        if state is None:
            state = self.identities[event.identity] = _Identity(self.epoch)
        if state.first_epoch != self.epoch:  # the test's own rule (lose_buffer), checked
            raise AssertionError(f"{event.identity} resent across a buffer loss")
        text = event.json()
        state.last_sent = event
        state.attempts += 1
        state.log.append(f"{note}:{outcome}" + ("(other data)" if state.accepted is not None
                                                 and state.accepted.json() != text else ""))
        if state.attempts > 1:  # a resend, whatever its answer (hints only)
            for bucket, _, _ in (state.accepted or event).contributions():
                self.tags[bucket].add(f"resent-{(state.accepted or event).kind}")
        if outcome in ("lost", "retry"):
            if state.accepted is None:  # still owed an answer: the client retries it
                state.unknown[text] = event
            return
        state.unknown.pop(text, None)
        state.answers[text].add(outcome)
        if outcome == "accepted":
            if event.kind in REFUSED_KINDS:
                self.problems.append(f"{event.kind} event {event.identity} was acknowledged")
            if state.accepted is None:
                state.accepted = event
                for bucket, _, _ in event.contributions():
                    self.tags[bucket].add(event.kind)
        else:
            if event.kind in VALID_KINDS:
                self.problems.append(f"{event.kind} event {event.identity} was refused: {detail}")
            for bucket, _, _ in event.contributions():
                self.tags[bucket].add(f"refused-{event.kind}")
            if state.accepted is not None and state.accepted.json() == text \
                    and event.kind != WHALE:
                self.problems.append(f"event {event.identity} was acknowledged, then refused")
        # Once acknowledged, an identity is settled: its other unknown sends are resends.
        if state.accepted is not None:
            state.unknown.clear()

    def pending(self):
        """Sends still owed an answer (their clients must retry them), oldest identity first."""
        return [e for s in self.identities.values() if s.accepted is None
                for e in s.unknown.values()]

    def state(self, identity):
        return self.identities.get(identity)

    def events_in(self, bucket, limit=4):
        """The acknowledged-transport identities behind a bucket, with their sends."""
        out = []
        for (source, id_, time_ms), state in self.identities.items():
            event = state.accepted or state.last_sent
            if any(b == bucket for b, _, _ in event.contributions()):
                out.append(f"{id_}@{rfc3339(time_ms)}: " + " ".join(state.log))
        more = f" (+{len(out) - limit} more)" if len(out) > limit else ""
        return out[:limit], more

    def lose_buffer(self):
        """The buffer is deleted (after a drained stop): its dedup memory goes with it."""
        assert not self.pending(), "settle every send before the buffer is lost"
        self.epoch += 1

    # Datagrams.

    def datagram_sent(self, incarnation, event):
        self.datagrams.append([incarnation, time.monotonic(), event, None])

    def incarnation_ended(self, incarnation):
        """meterd `incarnation` stopped (SIGTERM or SIGKILL) now."""
        now = time.monotonic()
        for d in self.datagrams:
            if d[0] == incarnation and d[3] is None:
                d[3] = now - d[1] >= DATAGRAM_SETTLE_S

    # What the topic must hold.

    def expected(self):
        """bucket -> [certain count, certain sum, maybe count, maybe sum]."""
        out = collections.defaultdict(lambda: [0, 0, 0, 0])
        for state in self.identities.values():
            if state.accepted is not None:
                for bucket, count, value in state.accepted.contributions():
                    out[bucket][0] += count
                    out[bucket][1] += value
        for _, _, event, certain in self.datagrams:
            assert certain is not None, "every incarnation must have ended"
            for bucket, count, value in event.contributions():
                out[bucket][0 if certain else 2] += count
                out[bucket][1 if certain else 3] += value
                self.tags[bucket].add("datagram" if certain else "datagram-maybe")
        return out

    def summary(self):
        accepted = sum(1 for s in self.identities.values() if s.accepted is not None)
        certain = sum(1 for d in self.datagrams if d[3])
        return (f"{len(self.identities)} acknowledged-transport identities ({accepted} accepted), "
                f"{len(self.datagrams)} datagram events ({certain} certain)")


def dump_topic_lenient(build_dir, bootstrap, topic, timeout_s=60):
    """Like broker.dump_topic, but a record that is not valid JSON, or whose numbers are not
    finite, is returned in `bad` instead of failing the whole read: (records, bad lines)."""
    args = [_tool(build_dir, "topic_dump"), "--brokers", bootstrap, "--topic", topic,
            "--timeout-ms", str(int(timeout_s * 1000))]
    result = subprocess.run(args, capture_output=True, timeout=timeout_s + 30)
    if result.returncode != 0:
        raise RuntimeError(f"topic_dump exited {result.returncode}: "
                           f"{result.stderr.decode(errors='replace')}")
    records, bad = [], []
    for line in result.stdout.decode(errors="replace").splitlines():
        fields = line.split("\t", 3)
        if len(fields) != 4:
            bad.append(line)
            continue
        try:
            value = json.loads(fields[3])
        except ValueError:
            bad.append(line)
            continue
        numbers = [value.get(k) for k in ("value_sum", "value_min", "value_max", "latest_value")]
        if any(isinstance(n, float) and not math.isfinite(n) for n in numbers):
            bad.append(line)
            continue
        records.append({"partition": int(fields[0]), "offset": int(fields[1]),
                        "key": fields[2], "value": value})
    return records, bad


def collapse(dump):
    """The records collapsed by idempotency key (harness unique_records), and the keys that
    carry two different payloads (kept: the first, as ClickHouse keeps one of them)."""
    try:
        return unique_records(dump), []
    except AssertionError:
        pass
    by_key, conflicts, seen = {}, [], set()
    for record in dump:
        value, key = record["value"], record["key"]
        if key in by_key and by_key[key] != value:
            if (key, json.dumps(value, sort_keys=True)) not in seen:
                seen.add((key, json.dumps(value, sort_keys=True)))
                conflicts.append((key, by_key[key], value))
            continue
        by_key.setdefault(key, value)
    return list(by_key.values()), conflicts


def actual(records):
    """bucket -> [count, sum, [window sizes of its records]] from collapsed records."""
    out = collections.defaultdict(lambda: [0, 0, []])
    for r in records:
        bucket = (r["meter"], r["subject"], tuple(zip(r["group_keys"], r["group_values"])),
                  r["window_start"] // 3600)
        out[bucket][0] += r["event_count"]
        out[bucket][1] += r["value_sum"]
        out[bucket][2].append(r["window_size_s"])
    return out


def hour_text(hour):
    return datetime.fromtimestamp(hour * 3600, tz=timezone.utc).strftime("%m-%dT%H")


def bucket_text(bucket):
    meter, subject, groups, hour = bucket
    g = ",".join(f"{k}={v}" for k, v in groups)
    return f"{meter}/{subject}" + (f"/{g}" if g else "") + f"@{hour_text(hour)}"


@dataclasses.dataclass
class Difference:
    bucket: tuple
    expected: list  # [certain count, certain sum, maybe count, maybe sum]
    count: int
    sum: float
    sizes: dict     # window size -> records of the bucket
    tags: set       # how the history touched the bucket (Model.tags)

    def over(self):
        return self.count > self.expected[0] + self.expected[2]

    def text(self, item=None):
        c, s, mc, ms = self.expected
        exp = f"{c}/{s:g}" if not mc else f"{c}..{c + mc}/{s:g}..{s + ms:g}"
        return (f"  {bucket_text(self.bucket)}: expected count/sum {exp}, topic "
                f"{self.count}/{self.sum:g} (records by window size {self.sizes}; tags "
                f"{sorted(self.tags)})" + (f" [item {item}?]" if item else ""))


def compare(model, records):
    """[Difference] between the model and the collapsed records, bucket by bucket."""
    expected = model.expected()
    got = actual(records)
    out = []
    for bucket in sorted(set(expected) | set(got)):
        c, s, mc, ms = expected.get(bucket, [0, 0, 0, 0])
        a = got.get(bucket, [0, 0, []])
        if not (c <= a[0] <= c + mc and s <= a[1] <= s + ms):
            out.append(Difference(bucket, [c, s, mc, ms], a[0], a[1],
                                  dict(collections.Counter(a[2])),
                                  set(model.tags.get(bucket, ()))))
    return out


ITEMS = {
    1: "an event older than dedup_window resent and counted again",
    2: "half-accepted events: a refused event counted by COUNT, or its fixed resend dropped as "
       "a duplicate",
    3: "keys that collide (same key, other contents) after a buffer loss or a window size "
       "change",
    4: "coarsening re-keyed rows already in Kafka",
    5: "non-finite accumulators: a window sum beyond the double range",
}


def classify(d, conflicted):
    """The issue-14 item a difference looks like, or None: a guide for the reader, not a
    verdict (a bucket can suffer from several). `conflicted`: buckets with a key conflict."""
    if d.bucket[1].startswith("whale"):
        return 5
    day_ago_hour = (int(time.time() * 1000) - 24 * HOUR_MS) // HOUR_MS
    if d.over() and d.bucket[3] < day_ago_hour and any(t.startswith("resent-") for t in d.tags):
        return 1
    if (d.over() and d.bucket[0] == "prompts" and "refused-half_invalid" in d.tags) or \
            (not d.over() and "fixed" in d.tags):
        return 2
    if d.over() and 3600 in d.sizes and "slow_kill" in d.tags:
        return 4
    if not d.over() and (d.bucket in conflicted or d.tags & {"buffer_loss", "resize"}):
        return 3
    if d.over() and 3600 in d.sizes:
        return 4
    return None


def hints(differences, conflicts, bad):
    """How many buckets look like each issue-14 item, as text lines."""
    conflicted = conflict_buckets(conflicts)
    out = collections.Counter(classify(d, conflicted) for d in differences)
    lines = [f"  item {item} ({ITEMS[item]}): {n} buckets" for item, n in sorted(
        ((i, n) for i, n in out.items() if i is not None))]
    if conflicts:
        lines.append(f"  item 3: {len(conflicts)} keys carry two payloads")
    if bad:
        lines.append(f"  item 5: {len(bad)} records are not valid JSON or not finite")
    if out.get(None):
        lines.append(f"  not classified: {out[None]} buckets")
    return lines


def conflict_buckets(conflicts):
    out = set()
    for _, first, second in conflicts:
        for r in (first, second):
            out.add((r["meter"], r["subject"], tuple(zip(r["group_keys"], r["group_values"])),
                     r["window_start"] // 3600))
    return out


def record_text(r):
    """The fields of a record that tell two payloads of one key apart."""
    return (f"{r['meter']}/{r['subject']} window {r['window_start']}+{r['window_size_s']}s "
            f"rev {r['revision']} count {r['event_count']} sum {r['value_sum']:g}")


def totals_by_series(model, records):
    """(meter, subject) -> (expected certain count, topic count): the summary of a mismatch."""
    exp = collections.defaultdict(lambda: [0, 0])
    for bucket, v in model.expected().items():
        exp[bucket[:2]][0] += v[0]
        exp[bucket[:2]][1] += v[0] + v[2]
    got = collections.Counter()
    for bucket, v in actual(records).items():
        got[bucket[:2]] += v[0]
    out = []
    for key in sorted(set(exp) | set(got)):
        lo, hi = exp.get(key, [0, 0])
        if not lo <= got[key] <= hi:
            out.append(f"  {key[0]}/{key[1]}: expected {lo if lo == hi else f'{lo}..{hi}'} "
                       f"events, topic {got[key]}")
    return out


class History:
    """The compact operation log printed with a failure."""

    def __init__(self):
        self.start = time.monotonic()
        self.ops = []

    def log(self, text):
        self.ops.append(f"{time.monotonic() - self.start:7.2f}s {text}")

    def text(self):
        return "\n".join(self.ops)
