"""The main job: a demo of the whole meterd pipeline on the default configuration.

It starts the test Kafka broker, a ClickHouse server with the shipped schema, and meterd with
packaging/meterd.yaml (only the broker address, buffer folder and UDP port changed to local,
temporary ones), sends sample usage events over UDP, stops meterd (which drains its buffer to
Kafka), waits for ClickHouse, prints usage per subject from ClickHouse, and stops everything.

Usage: /usr/bin/python3 packaging/scripts/demo.py --build-dir BUILD
"""

import argparse
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "harness"))

from broker import MockBroker  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402
from meterd import free_tcp_port, free_udp_port, rfc3339  # noqa: E402

TOPIC = "meter-windows"
CUSTOMERS = ["acme", "globex", "initech", "umbrella", "wayne"]
MODELS = ["gpt-4", "gpt-4o-mini", "claude"]
EVENTS = 5000


def demo_config(buffer_dir, brokers, udp_port, admin_port):
    """packaging/meterd.yaml with local addresses and a one-second grace for a quick demo."""
    text = (REPO_ROOT / "packaging" / "meterd.yaml").read_text()
    text = re.sub(r"udp: \S+", f"udp: 127.0.0.1:{udp_port}", text, count=1)
    text = re.sub(r"admin: \S+", f"admin: 127.0.0.1:{admin_port}", text, count=1)
    text = re.sub(r"path: \S+", f"path: {buffer_dir}/buffer.db", text, count=1)
    text = re.sub(r"brokers: \S+", f"brokers: {brokers}", text, count=1)
    text = re.sub(r"grace: \S+", "grace: 1s", text, count=1)
    return text


def send_sample_events(udp_port):
    """Sends EVENTS prompt events from the last two minutes; returns the totals sent."""
    rng = random.Random(42)
    sent = {}
    now_ms = int(time.time() * 1000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(EVENTS):
            customer, model = rng.choice(CUSTOMERS), rng.choice(MODELS)
            tokens = rng.randint(10, 2000)
            event = {"specversion": "1.0", "id": f"demo-{i}", "source": "demo-app",
                     "type": "prompt", "subject": customer,
                     "time": rfc3339(now_ms - rng.randrange(120_000)),
                     "data": {"tokens": tokens, "model": model}}
            sock.sendto(json.dumps(event).encode(), ("127.0.0.1", udp_port))
            total = sent.setdefault((customer, model), [0, 0])
            total[0] += 1
            total[1] += tokens
            if i % 500 == 499:
                time.sleep(0.01)
    return sent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    build_dir = str(Path(parser.parse_args().build_dir).resolve())

    with tempfile.TemporaryDirectory(prefix="meterd-demo-") as tmp, \
            MockBroker(build_dir, brokers=3, topics={TOPIC: 3}) as broker, \
            ClickHouse(tmp) as clickhouse:
        print(f"Kafka test broker: {broker.bootstrap}")
        clickhouse.apply_schema(broker.bootstrap, TOPIC, "meterd-demo")
        print("ClickHouse: schema applied (packaging/clickhouse/schema.sql)")

        udp_port, admin_port = free_udp_port(), free_tcp_port()
        config_path = Path(tmp) / "meterd.yaml"
        config_path.write_text(demo_config(tmp, broker.bootstrap, udp_port, admin_port))
        agent = subprocess.Popen([f"{build_dir}/meterd", "--config", str(config_path)])
        try:
            time.sleep(0.5)
            sent = send_sample_events(udp_port)
            print(f"sent {EVENTS} events over UDP to 127.0.0.1:{udp_port}")
            time.sleep(1)
            print(f"\nmeterctl status --admin 127.0.0.1:{admin_port}:")
            subprocess.run([f"{build_dir}/meterctl", "status", "--admin",
                            f"127.0.0.1:{admin_port}"])
            agent.terminate()  # SIGTERM: final commit, windows closed, outbox drained
            code = agent.wait(60)
        finally:
            if agent.poll() is None:
                agent.kill()
        if code != 0:
            sys.exit(f"meterd exited with {code}")

        deadline = time.monotonic() + 120
        query = "SELECT sum(event_count) FROM meterd.windows FINAL WHERE meter = 'prompts'"
        while int(clickhouse.query(query).strip() or 0) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.5)

        usage = clickhouse.query_file(REPO_ROOT / "packaging" / "clickhouse" /
                                      "usage_per_subject.sql")
        print("\nUsage per subject from ClickHouse (packaging/clickhouse/usage_per_subject.sql):")
        print(f"{'meter':<14}{'subject':<10}{'groups':<20}{'events':>8}{'usage':>12}")
        exact = True
        for line in usage.splitlines():
            meter, subject, groups, events, total = line.split("\t")
            print(f"{meter:<14}{subject:<10}{groups:<20}{events:>8}{float(total):>12.0f}")
            if meter == "tokens_total":
                expected = sent.get((subject, groups.split("=", 1)[1]), [0, 0])
                exact &= [int(events), float(total)] == [expected[0], float(expected[1])]
        print("\ntotals equal the events sent: " + ("yes" if exact else "NO"))
        if not exact:
            sys.exit(1)


if __name__ == "__main__":
    main()
