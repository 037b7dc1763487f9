"""Every OpenMeter aggregation over random events, and the reference model that recomputes them.

AggregationWorkload makes random `call` events for seven meters (one per aggregation type, with
nested, quoted and grouped paths), some of them invalid for the value meters, some too old, with
event times on a coarse grid so LATEST meets ties. The reference applies OpenMeter's rules
straightforwardly, event by event in the order the test sends them (a UDP datagram sent twice is
counted twice: UDP has no retry identity, by design). Records from meterd are combined per window
(`combine_records`) and ClickHouse results per period (`reference_periods`) are compared with it.

Values are integers or quarters, so every sum is exact in any order and equality is exact.
Python 3.11 standard library only.
"""

import collections
import json
import random
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from meterd import rfc3339

METERS = [
    {"slug": "v_sum", "eventType": "call", "aggregation": "SUM",
     "valueProperty": "$.usage.input", "groupBy": {"region": "$.region"}},
    {"slug": "v_count", "eventType": "call", "aggregation": "COUNT",
     "groupBy": {"region": "$.region"}},
    {"slug": "v_avg", "eventType": "call", "aggregation": "AVG", "valueProperty": "$.usage.input"},
    {"slug": "v_min", "eventType": "call", "aggregation": "MIN",
     "valueProperty": "$['usage']['input']", "groupBy": {"region": "$.region"}},
    {"slug": "v_max", "eventType": "call", "aggregation": "MAX", "valueProperty": "$.peaks[0]"},
    {"slug": "v_latest", "eventType": "call", "aggregation": "LATEST",
     "valueProperty": "$.usage.input", "groupBy": {"region": "$.region"}},
    {"slug": "v_users", "eventType": "call", "aggregation": "UNIQUE_COUNT",
     "valueProperty": "$.user", "groupBy": {"region": "$.region"}},
]
AGGREGATION = {m["slug"]: m["aggregation"] for m in METERS}
GROUPED = {m["slug"]: bool(m.get("groupBy")) for m in METERS}


class Window:
    """The reference aggregate of one series in one window (all aggregations at once)."""

    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.min = None
        self.max = None
        self.latest = None  # (time_ms, value): the latest event time, ties to the later arrival
        self.distinct = set()

    def add(self, value, time_ms, distinct=None):
        self.count += 1
        if distinct is not None:
            self.distinct.add(distinct)
            return
        self.total += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        if self.latest is None or time_ms >= self.latest[0]:
            self.latest = (time_ms, value)

    def answer(self, aggregation):
        """What OpenMeter's query answers for this aggregation."""
        return {"SUM": self.total, "COUNT": self.count, "AVG": self.total / self.count,
                "MIN": self.min, "MAX": self.max, "LATEST": self.latest and self.latest[1],
                "UNIQUE_COUNT": len(self.distinct)}[aggregation]

    def merge(self, other):
        self.count += other.count
        self.total += other.total
        for name, pick in (("min", min), ("max", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs if mine is None else mine if theirs is None
                    else pick(mine, theirs))
        if other.latest is not None and (self.latest is None or other.latest[0] >= self.latest[0]):
            self.latest = other.latest
        self.distinct |= other.distinct


class AggregationWorkload:
    def __init__(self, seed, subjects=12, regions=("eu", "us", "ap"), max_lateness_ms=600_000):
        self.rng = random.Random(seed)
        self.subjects = [f"tenant-{i}" for i in range(subjects)]
        self.regions = regions
        self.max_lateness_ms = max_lateness_ms
        self.sent = 0
        # (meter, subject, groups, window_start) -> Window, in the order events are sent.
        self.windows = collections.defaultdict(Window)
        self.too_old = 0

    def make_event(self, now_ms, span_ms):
        """One random event with its time in [now - span, now], on a 500 ms grid (ties)."""
        self.sent += 1
        rng = self.rng
        if rng.random() < 0.02:
            time_ms = now_ms - self.max_lateness_ms - 60_000 - rng.randrange(60_000)
        else:
            time_ms = (now_ms - rng.randrange(span_ms)) // 500 * 500
        value = rng.randint(-50, 400) / rng.choice((1, 4))
        data = {"usage": {"input": value}, "peaks": [value * 2], "region": rng.choice(self.regions),
                "user": rng.choice((f"u{rng.randrange(40)}", rng.randrange(40)))}
        roll = rng.random()
        if roll < 0.05:
            data["usage"]["input"] = str(value)  # a numeric string counts as the number
        elif roll < 0.08:
            data["usage"]["input"] = rng.choice(("many", None, True, "NaN", "1e400"))
        elif roll < 0.10:
            del data["region"]  # a missing group is ""
        elif roll < 0.12:
            del data["user"]  # UNIQUE_COUNT refuses it, so no meter counts it
        return {"specversion": "1.0", "id": f"e{self.sent}", "source": "test", "type": "call",
                "subject": rng.choice(self.subjects), "time": rfc3339(time_ms), "data": data}

    def record_sent(self, event, received_ms):
        """Applies one sent event to the reference (call in send order, once per send)."""
        time_ms = int(datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
                      .timestamp() * 1000)
        if time_ms < received_ms - self.max_lateness_ms:
            self.too_old += 1
            return
        data = event["data"]
        window_start = time_ms // 60_000 * 60
        # An event counts for every meter it matches or for none: each meter's contribution is
        # worked out first, and one refusal drops them all.
        contributions = []
        for meter in METERS:
            slug = meter["slug"]
            groups = (("region", data.get("region", "")),) if GROUPED[slug] else ()
            key = (slug, event["subject"], groups, window_start)
            aggregation = AGGREGATION[slug]
            if aggregation == "COUNT":
                contributions.append((key, 1, None))
            elif aggregation == "UNIQUE_COUNT":
                if "user" not in data:
                    return
                contributions.append((key, 1, str(data["user"])))
            else:
                raw = data["peaks"][0] if slug == "v_max" else data["usage"]["input"]
                value = numeric(raw)
                if value is None:
                    return
                contributions.append((key, value, None))
        for key, value, distinct in contributions:
            self.windows[key].add(value, time_ms, distinct=distinct)

    def datagrams(self, events, now_ms, span_ms, duplicate_share=0.05):
        """Shuffled datagrams of 1–4 events; some sent twice. Returns [(datagram, [events])]."""
        batch = [self.make_event(now_ms, span_ms) for _ in range(events)]
        self.rng.shuffle(batch)
        out, i = [], 0
        while i < len(batch):
            n = self.rng.randint(1, 4)
            group = batch[i:i + n]
            i += n
            text = "\n".join(json.dumps(e, separators=(",", ":")) for e in group)
            out.append((text, group))
            if self.rng.random() < duplicate_share:
                out.append((text, group))
        return out


def numeric(raw):
    """A value meter's number for `raw`, or None when it is a dead letter."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def combine_records(records):
    """(meter, subject, groups, window_start) -> Window rebuilt from meterd's records, revisions
    combined in revision order (the later revision wins a LATEST tie)."""
    out = collections.defaultdict(Window)
    for r in sorted(records, key=lambda r: r["revision"]):
        key = (r["meter"], r["subject"], tuple(zip(r["group_keys"], r["group_values"])),
               r["window_start"])
        part = Window()
        part.count = r["event_count"]
        part.distinct = set(r["distinct_values"])
        if AGGREGATION[r["meter"]] not in ("COUNT", "UNIQUE_COUNT"):
            part.total, part.min, part.max = r["value_sum"], r["value_min"], r["value_max"]
            part.latest = (r["latest_time_ms"], r["latest_value"])
        out[key].merge(part)
    return out


def answers(windows):
    """(meter, subject, groups, window_start) -> (event count, the meter's answer)."""
    return {k: (w.count, w.answer(AGGREGATION[k[0]])) for k, w in windows.items()}


def reference_periods(windows, meter, period, zone):
    """(subject, groups string, period start unix) -> answer, as the shipped queries group."""
    tz = ZoneInfo(zone)
    out = collections.defaultdict(Window)
    for (slug, subject, groups, window_start), w in windows.items():
        if slug != meter:
            continue
        local = datetime.fromtimestamp(window_start, tz)
        local = local.replace(minute=0, second=0) if period == "hour" else \
            local.replace(hour=0, minute=0, second=0)
        start = int(local.timestamp())
        out[(subject, ",".join(f"{k}={v}" for k, v in groups), start)].merge(w)
    return {k: w.answer(AGGREGATION[meter]) for k, w in out.items()}


def now_ms():
    return int(time.time() * 1000)


def utc(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def wait_processed(agent, tag, timeout_s=30):
    """Sends a datagram that can only become a dead letter and waits until it is committed: UDP
    on loopback keeps order and one thread ingests, so everything sent before is committed too."""
    import sqlite3
    agent.send(tag)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        db = sqlite3.connect(f"file:{agent.buffer_path}?mode=ro", uri=True, timeout=10)
        try:
            found = db.execute("SELECT count(*) FROM dead_letters WHERE CAST(raw AS TEXT) = ?",
                               (tag,)).fetchone()[0]
        finally:
            db.close()
        if found:
            return
        time.sleep(0.05)
    raise AssertionError(f"meterd did not commit {tag!r} within {timeout_s} s")


def send_waves(agent, work, waves=2, events=2500, span_ms=240_000, gap_s=2.5):
    """Sends `waves` waves of shuffled events over the last `span_ms`; between waves the late
    partials of the first close (grace 1 s), so the next wave's events for the same windows open
    new revisions. Returns when meterd has committed everything sent."""
    from meterd import send_paced
    for wave in range(waves):
        if wave:
            time.sleep(gap_s)
        received_ms = now_ms()
        datagrams = work.datagrams(events, received_ms, span_ms)
        for _, group in datagrams:
            for event in group:
                work.record_sent(event, received_ms)
        send_paced(agent, (text for text, _ in datagrams), per_second=10_000)
        wait_processed(agent, f"wave-{wave}-sent")
