#!/usr/bin/env python3
"""The benchmark runner: starts the test broker and a meterd build, runs every scenario and
prints ONE table (Markdown) whose rows were all measured in this run, beside the targets.
The rates that swing most on a shared machine (single events, capacity, the acknowledged
stream, and their floors) are measured three times, alternately, and the median run is shown
with the range beside it.

    python3 tests/bench/run.py --build-dir build-release [--size full|small|tiny]

`ninja -C build-release bench` runs it at full size; ctest runs `--size tiny` as a smoke test.
Figures are never asserted: the table says which targets were met. Ratios against the
recvmmsg baseline are what to compare across machines, since absolute figures move with load.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_procs import (Agent, baseline, cpu_seconds, disk_write_bytes, loadgen,  # noqa: E402
                         rss_bytes, thread_cpu_seconds, thread_split, tool, wait_idle)
from broker import MockBroker  # noqa: E402  (bench_procs put tests/harness on the path)

SIZES = {
    # single-event datagrams, 20-per-datagram events, stream, HTTP, backlog rows, series steps
    # (repeat: runs of each noisy measurement, the median shown)
    "full": dict(single=2_000_000, packed=6_000_000, stream=2_000_000, http=1_000_000,
                 backlog=1_000_000, series=(10_000, 100_000, 1_000_000), commits=40, idle_s=10,
                 repeat=3, align_minute=True),
    "small": dict(single=300_000, packed=1_000_000, stream=300_000, http=200_000,
                  backlog=100_000, series=(10_000, 100_000), commits=20, idle_s=5, repeat=3,
                  align_minute=True),
    "tiny": dict(single=5_000, packed=20_000, stream=5_000, http=5_000, backlog=2_000,
                 series=(1_000, 5_000), commits=2, idle_s=1, repeat=1, align_minute=False),
}


class Table:
    def __init__(self):
        self.rows = []

    def add(self, what, result, detail="", target="", met=None):
        mark = "" if met is None else ("yes" if met else "**no**")
        self.rows.append((what, result, detail, target, mark))

    def print(self):
        head = ("measurement", "result", "detail", "target", "met")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


# meterd's UDP loop pauses 1 ms after each drain (agent/listeners/coalescing_receive_loop.h); its Unix
# datagram listener waits for readiness after each drain. The baseline receives the same way.
BASELINE_RECEIVER = {"udp": ("--pause-us", "1000"), "unix-datagram": ()}


def median_run(runs, key, unit):
    """The run whose `key` is the median of `runs` (an odd number of them), and a note of the
    range: '; median of 3 runs (1.92–2.10 µs)', or nothing for a single run."""
    ordered = sorted(runs, key=key)
    note = "" if len(runs) == 1 else (f"; median of {len(runs)} runs "
                                      f"({unit(key(ordered[0]))}–{unit(key(ordered[-1]))})")
    return ordered[len(ordered) // 2], note


def single_baseline(args, transport, work, size):
    base = baseline(args.build_dir, transport, work, size["single"],
                    receiver=BASELINE_RECEIVER[transport])
    base["rate"] = base["sent"]["events"] / base["sent"]["seconds"]
    base["us"] = 1e6 * base["cpu_seconds"] / max(base["datagrams"], 1)
    return base


def single_meterd(args, broker, work, size, transport, name):
    agent = Agent(args.build_dir, work, broker, name).start()
    cpu0, began = cpu_seconds(agent.pid), time.monotonic()
    threads0 = thread_cpu_seconds(agent.pid)
    sent = loadgen(args.build_dir, transport, agent.target(transport), size["single"])
    # Busy time: while the sender ran, or longer if meterd still worked through its queue.
    busy_s = max(sent["seconds"], wait_idle(agent.pid) - began)
    cpu = cpu_seconds(agent.pid) - cpu0
    threads = thread_cpu_seconds(agent.pid)
    counters = agent.stop()
    committed = counters["accepted"]
    return dict(sent=sent, committed=committed, lost=sent["events"] - committed,
                drops=counters.get(transport.replace("-", "_"), (0, 0))[1],
                cores=cpu / busy_s, us=1e6 * cpu / max(committed, 1),
                split=thread_split(threads0, threads, committed))


def single_event_rows(args, broker, work, size, table):
    """Baseline and meterd at the sender's full speed, one event per datagram."""
    for transport in ("udp", "unix-datagram"):
        bases, runs = [], []
        for i in range(size["repeat"]):  # alternately, so both see the same conditions
            bases.append(single_baseline(args, transport, work, size))
            runs.append(single_meterd(args, broker, work, size, transport,
                                      f"single-{transport}-{i}"))
        base, base_note = median_run(bases, lambda b: b["us"], lambda v: f"{v:.2f} µs")
        table.add(f"baseline recvmmsg discard, {transport}, 1 event/datagram",
                  f"{base['us']:.2f} µs CPU/datagram",
                  f"{base['datagrams']:,} of {base['sent']['events']:,} received at "
                  f"{base['rate']:,.0f}/s, {base['kernel_drops']:,} kernel drops{base_note}")
        run, note = median_run(runs, lambda r: r["cores"], lambda v: f"{v:.2f} cores")
        table.add(f"meterd, {transport}, 1 event/datagram, sender full speed",
                  f"{run['committed']:,} received, {run['lost']:,} lost, "
                  f"{run['us']:.2f} µs CPU/event",
                  f"sent {run['sent']['events'] / run['sent']['seconds']:,.0f}/s; "
                  f"{run['drops']:,} kernel drops; {run['cores']:.2f} cores; "
                  f"{run['us'] / base['us']:.1f}× baseline CPU; per event: {run['split']}; "
                  f"lost over all runs: {sum(r['lost'] for r in runs):,}{note}",
                  "0 lost, ≤ 0.5 core",
                  all(r["lost"] == 0 for r in runs) and run["cores"] <= 0.5)
    commit_row(args, work, size, table)


def tool_report(args, name, *options):
    """Runs an in-process bench tool (ingest_cpu, commit_cpu); returns its JSON line."""
    out = subprocess.run([tool(args.build_dir, name), *map(str, options)],
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout)


def commit_row(args, work, size, table):
    """The store's commit alone with the bench's ~9,000 series all active: its share of a core."""
    alone = tool_report(args, "commit_cpu", "--buffer-dir", os.path.join(work, "commit-cpu"),
                        "--commits", size["commits"])
    table.add(f"store commit alone, {alone['series']:,} active series",
              f"{alone['ms_per_commit']:.1f} ms CPU/commit",
              f"{alone['us_per_series']:.2f} µs per series merged; "
              f"{alone['ms_per_commit'] / 200:.2f} core at the default 200 ms commit interval "
              f"(commit_cpu)")


def packed_rows(args, broker, work, size, table):
    """Capacity with 20 events per datagram, and the Kafka records the run produced."""
    # The ingest thread alone, fed in-process: what the capacity rows cost outside the kernel.
    alones = [tool_report(args, "ingest_cpu", "--events", size["packed"])
              for _ in range(size["repeat"])]
    alone, note = median_run(alones, lambda a: a["ns_per_event"], lambda v: f"{v:.0f} ns")
    table.add("ingest thread alone (no sockets), 20 events/payload",
              f"{1e9 / alone['ns_per_event']:,.0f} events/CPU-s",
              f"{alone['ns_per_event']:.0f} ns/event: decode, meters, delta table "
              f"(ingest_cpu, {alone['events']:,} events){note}")
    floors = {"unix-datagram": [], "udp": []}
    runs = {"unix-datagram": [], "udp": []}
    for i in range(size["repeat"]):  # alternately, so all see the same conditions
        for transport in runs:
            # The floor of any agent that parses with simdjson: receive as meterd does, parse,
            # discard.
            floor = baseline(args.build_dir, transport, work, size["packed"], per_payload=20,
                             receiver=BASELINE_RECEIVER[transport] + ("--parse",))
            floor["per_cpu_s"] = floor["events"] / max(floor["cpu_seconds"], 1e-9)
            floors[transport].append(floor)
            runs[transport].append(capacity_run(args, broker, work, size, transport, i))
    for transport, transport_floors in floors.items():
        floor, note = median_run(transport_floors, lambda f: f["per_cpu_s"],
                                 lambda v: f"{v / 1e6:.2f} M")
        table.add(f"baseline recvmmsg + simdjson parse, {transport}, 20 events/datagram",
                  f"{floor['per_cpu_s']:,.0f} events/CPU-s",
                  f"{floor['events']:,} of {floor['sent']['events']:,} events parsed, then "
                  f"discarded (recv_baseline --parse){note}")
    for transport, transport_runs in runs.items():
        run, note = median_run(transport_runs, lambda r: r["per_cpu_s"],
                               lambda v: f"{v / 1e6:.2f} M")
        table.add(f"meterd capacity, {transport}, 20 events/datagram",
                  f"{run['per_cpu_s']:,.0f} events/CPU-s",
                  f"{run['committed']:,} of {run['sent']['events']:,} events "
                  f"({run['sent']['bytes'] // run['sent']['payloads']} B/datagram) in "
                  f"{run['cpu']:.2f} CPU-s; per event: {run['split']}{note}", "≥ 2,000,000",
                  run["per_cpu_s"] >= 2_000_000)
    first = runs["unix-datagram"][0]  # every event arrived: the Kafka records of exactly those
    kafka_row(args, broker, first["agent"], first["sent"], table)


def capacity_run(args, broker, work, size, transport, i):
    agent = Agent(args.build_dir, work, broker, f"packed-{transport}-{i}").start()
    cpu0, threads0 = cpu_seconds(agent.pid), thread_cpu_seconds(agent.pid)
    sent = loadgen(args.build_dir, transport, agent.target(transport), size["packed"],
                   per_payload=20)
    wait_idle(agent.pid)
    cpu, threads = cpu_seconds(agent.pid) - cpu0, thread_cpu_seconds(agent.pid)
    committed = agent.stop()["accepted"]
    return dict(agent=agent, sent=sent, committed=committed, cpu=cpu,
                per_cpu_s=committed / max(cpu, 1e-9),
                split=thread_split(threads0, threads, committed))


def kafka_row(args, broker, agent, sent, table):
    dump = subprocess.run([os.path.join(args.build_dir, "tests", "tools", "topic_dump"),
                           "--brokers", broker.bootstrap, "--topic", agent.topic],
                          capture_output=True, timeout=300)
    lines = dump.stdout.splitlines()
    record_bytes = sum(len(line.split(b"\t", 3)[3]) + 32 for line in lines if line.count(b"\t") >= 3)
    scale = 1_000_000 / sent["events"]
    table.add("Kafka per 1,000,000 events (1,000 subjects × 4 models)",
              f"{len(lines) * scale:,.0f} messages, {record_bytes * scale / 1e6:,.2f} MB",
              f"vs {sent['bytes'] * scale / 1e6:,.0f} MB of events received "
              f"({sent['bytes'] / max(record_bytes, 1):,.0f}× less)")


def acknowledged_rows(args, broker, work, size, table):
    streams = []
    for i in range(size["repeat"]):  # a fresh agent each time: its dedup keys would pile up
        agent = Agent(args.build_dir, work, broker, f"acknowledged-{i}").start()
        stream = loadgen(args.build_dir, "unix-stream", agent.unix_stream, size["stream"],
                         window=1_000_000)
        stream["rate"] = stream["acknowledged"] / stream["seconds"]
        streams.append(stream)
        if i < size["repeat"] - 1:
            agent.stop()  # the last one takes the HTTP batches below
    stream, note = median_run(streams, lambda r: r["rate"], lambda v: f"{v / 1e3:,.0f}k/s")
    table.add("Unix stream, 1 event/line, acknowledged", f"{stream['rate']:,.0f} events/s",
              f"{stream['acknowledged']:,} of {stream['events']:,} acknowledged in "
              f"{stream['seconds']:.2f} s{note}", "≥ 300,000/s", stream["rate"] >= 300_000)
    # Each answer waits for a commit (200 ms), so a connection carries one batch per commit at
    # best: enough connections and large batches keep the store, not the clients, the limit.
    http = loadgen(args.build_dir, "http", agent.http, size["http"], per_payload=5000,
                   connections=16)
    rate = http["acknowledged"] / http["seconds"]
    table.add("HTTP batches of 5,000, 16 connections", f"{rate:,.0f} events/s",
              f"{http['acknowledged']:,} of {http['events']:,} acknowledged (204) in "
              f"{http['seconds']:.2f} s")
    agent.stop()


def backlog_rows(args, broker, work, size, table):
    agent = Agent(args.build_dir, work, broker, "backlog")
    os.makedirs(os.path.dirname(agent.meterd.buffer_path), exist_ok=True)
    rows = size["backlog"]
    subprocess.run([tool(args.build_dir, "make_backlog"), "--buffer", agent.meterd.buffer_path,
                    "--rows", str(rows), "--agent-id", "test-agent"],
                   check=True, capture_output=True, timeout=900)
    agent.start()
    started = time.monotonic()
    while not agent.outbox_empty():
        time.sleep(0.05)
    drain_s = time.monotonic() - started
    agent.stop()
    table.add(f"restart to ready, {rows:,}-record backlog", f"{agent.ready_s:.2f} s",
              "process start to `meterd ready`", "≤ 1 s", agent.ready_s <= 1.0)
    table.add(f"outbox drain to the broker, {rows:,} records", f"{rows / drain_s:,.0f} records/s",
              f"{drain_s:.2f} s from ready to an empty outbox", "≥ 100,000/s",
              rows / drain_s >= 100_000)


def settled_rss(pid, steady_s=1.0, timeout_s=10.0):
    """VmRSS once it has stopped falling for `steady_s`: meterd hands a burst's freed delta
    tables back to the system at the commit after the load fell, and reading before that would
    measure the burst, not the series."""
    rss = lowest = rss_bytes(pid)
    since, deadline = time.monotonic(), time.monotonic() + timeout_s
    while time.monotonic() - since < steady_s and time.monotonic() < deadline:
        time.sleep(0.25)
        rss = rss_bytes(pid)
        if rss < lowest:
            lowest, since = rss, time.monotonic()
    return rss  # the last reading, not the lowest: no credit for a dip


def start_early_in_a_minute(latest_s=20):
    """Waits, if need be, for the next minute to begin: the memory steps (~20 s) then send every
    series into one one-minute window, still open when measured. A step across a minute boundary
    holds two windows' rows of each series; one across the window's end plus grace also holds
    the closed windows' records on their way to Kafka (a full run once measured 733 B a series
    at 100,000 that way; 277 alone)."""
    second = time.time() % 60
    if second > latest_s:
        time.sleep(60 - second + 0.5)


def memory_rows(args, broker, work, size, table):
    agent = Agent(args.build_dir, work, broker, "memory")
    # The default bound (100,000 series per meter and window) would refuse most of the largest
    # step, and the row would count series meterd never held.
    agent.meterd.config["windows"]["max_series_per_meter"] = 2 * max(size["series"])
    agent.start()
    time.sleep(1)
    idle = rss_bytes(agent.pid)
    # What an idle sidecar costs besides memory: CPU and disk writes over a few quiet seconds.
    cpu0, written0, began = cpu_seconds(agent.pid), disk_write_bytes(agent.pid), time.monotonic()
    time.sleep(size["idle_s"])
    quiet_s = time.monotonic() - began
    idle_cpu = (cpu_seconds(agent.pid) - cpu0) / quiet_s
    idle_written = (disk_write_bytes(agent.pid) - written0) / quiet_s
    table.add("resident memory, idle", f"{idle / 2**20:.1f} MiB",
              f"VmRSS after start; idle for {quiet_s:.0f} s: {100 * idle_cpu:.2f}% of a core, "
              f"{idle_written / 1024:.1f} KiB/s written", "≤ 25 MiB", idle <= 25 * 2**20)
    totals = os.path.join(work, "memory-totals.json")
    if size["align_minute"]:  # the smoke test's steps take a second: not worth a wait
        start_early_in_a_minute()
    for series in size["series"]:
        # One event per subject feeds two series (the SUM with groups and the COUNT).
        loadgen(args.build_dir, "unix-datagram", agent.unix_datagram, series // 2, totals,
                per_payload=20, subjects=series // 2, groups=1)
        wait_idle(agent.pid)
        rss = settled_rss(agent.pid)
        with open(totals) as f:
            active = json.load(f)["series"]
        refused = agent.query("SELECT count(*) FROM dead_letters")  # over all steps so far
        per = (rss - idle) / max(active, 1)
        table.add(f"resident memory, {series:,} active series", f"{rss / 2**20:.1f} MiB",
                  f"{active:,} series; {per:,.0f} B per series above idle; "
                  f"{refused:,} events refused", "≤ 300 B/series", per <= 300 and refused == 0)
    agent.stop()


SCENARIOS = {"single": single_event_rows, "packed": packed_rows, "acknowledged": acknowledged_rows,
             "backlog": backlog_rows, "memory": memory_rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS),
                        help="run only these scenarios (repeatable), for profiling one part")
    args = parser.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    size = SIZES[args.size]
    work = tempfile.mkdtemp(prefix="meterd-bench-")
    table = Table()
    began = time.monotonic()
    try:
        with MockBroker(args.build_dir, brokers=1, topics={}, stderr=subprocess.DEVNULL) as broker:
            for name, rows in SCENARIOS.items():
                if not args.only or name in args.only:
                    rows(args, broker, work, size, table)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nmeterd benchmark, size {args.size}, {os.cpu_count()} CPUs, "
          f"{time.monotonic() - began:.0f} s\n")
    table.print()


if __name__ == "__main__":
    main()
