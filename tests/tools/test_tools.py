"""Checks the test tools themselves: the mock broker, topic_produce and topic_dump.

Every other process-level suite trusts these tools to tell the truth about what reached Kafka, so
they get their own test: records written come back intact, the broker obeys its commands, and a
producer survives an outage of one broker or of all of them.

Usage: /usr/bin/python3 tests/tools/test_tools.py --build-dir BUILD [unittest options]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness.broker import BrokerError, MockBroker, dump_topic, produce  # noqa: E402

BUILD_DIR = None  # set from --build-dir before unittest runs
TOPIC = "meter-windows"
PRODUCE_ERR = 0  # Kafka API key of Produce
NOT_LEADER_FOR_PARTITION = 6  # a retriable Kafka error code


def make_records(prefix, count):
    """Keyed records shaped like the agent's: hex keys, one-line JSON values."""
    return [
        (f"{prefix}{i:030x}", json.dumps({"meter": "tokens_total", "seq": i, "prefix": prefix}))
        for i in range(count)
    ]


def as_set(records):
    return {(key, json.dumps(json.loads(value), sort_keys=True)) for key, value in records}


def dumped_set(dumped):
    return {(r["key"], json.dumps(r["value"], sort_keys=True)) for r in dumped}


class ToolsTest(unittest.TestCase):
    def setUp(self):
        self.broker = MockBroker(BUILD_DIR, brokers=3, topics={TOPIC: 3})
        self.addCleanup(self.broker.stop)

    def produce(self, records, timeout_s=60):
        produce(BUILD_DIR, self.broker.bootstrap, TOPIC, records, timeout_s=timeout_s)

    def dump(self):
        return dump_topic(BUILD_DIR, self.broker.bootstrap, TOPIC, timeout_s=30)

    def produce_in_background(self, records):
        """Starts production in a thread; returns a join function that re-raises its failure."""
        outcome = {}

        def run():
            try:
                self.produce(records)
            except BaseException as e:  # handed to the test thread below
                outcome["error"] = e

        thread = threading.Thread(target=run)
        thread.start()

        def join():
            thread.join(timeout=120)
            self.assertFalse(thread.is_alive(), "producer did not finish")
            if "error" in outcome:
                raise outcome["error"]

        return join

    def test_bootstrap_lists_one_loopback_address_per_broker(self):
        addresses = self.broker.bootstrap.split(",")
        self.assertEqual(len(addresses), 3)
        for address in addresses:
            self.assertTrue(address.startswith("127.0.0.1:"), address)

    def test_produced_records_come_back(self):
        records = make_records("a", 20)
        self.produce(records)
        dumped = self.dump()
        self.assertEqual(len(dumped), len(records))
        self.assertEqual(dumped_set(dumped), as_set(records))
        self.assertTrue(all(0 <= r["partition"] < 3 for r in dumped))
        # Offsets count from 0 in each partition without gaps.
        for partition in range(3):
            offsets = sorted(r["offset"] for r in dumped if r["partition"] == partition)
            self.assertEqual(offsets, list(range(len(offsets))))

    def test_same_key_goes_to_same_partition(self):
        self.produce([("00ff", '{"n":1}'), ("00ff", '{"n":2}')])
        dumped = self.dump()
        self.assertEqual(len({r["partition"] for r in dumped}), 1)

    def test_empty_topic_dumps_nothing(self):
        self.assertEqual(self.dump(), [])

    def test_dump_of_missing_topic_fails(self):
        with self.assertRaises(RuntimeError):
            dump_topic(BUILD_DIR, self.broker.bootstrap, "no-such-topic", timeout_s=5)

    def test_production_completes_after_one_broker_outage(self):
        self.broker.down(2)
        join = self.produce_in_background(make_records("b", 10))
        time.sleep(2)
        self.broker.up(2)
        join()
        self.assertTrue(as_set(make_records("b", 10)) <= dumped_set(self.dump()))

    def test_new_producer_completes_after_full_outage(self):
        self.broker.down()
        join = self.produce_in_background(make_records("c", 10))
        time.sleep(2)
        self.broker.up()
        join()
        self.assertEqual(dumped_set(self.dump()), as_set(make_records("c", 10)))

    def test_connected_producer_reconnects_after_full_outage(self):
        # One long-lived producer: its first records go out before the outage, so its connections
        # exist when the brokers drop them, and the later records need it to reconnect.
        tool = os.path.join(BUILD_DIR, "tests", "tools", "topic_produce")
        log = tempfile.TemporaryFile()  # the outage makes librdkafka noisy; shown only on failure
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [tool, "--brokers", self.broker.bootstrap, "--topic", TOPIC, "--timeout-ms", "60000"],
            stdin=subprocess.PIPE,
            stderr=log,
        )
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def producer_log():
            log.seek(0)
            return log.read().decode(errors="replace")

        before, during = make_records("d", 5), make_records("e", 5)
        proc.stdin.write("".join(f"{k}\t{v}\n" for k, v in before).encode())
        proc.stdin.flush()
        self.assertTrue(self.wait_for_keys({k for k, _ in before}), "first records not delivered")
        self.broker.down()
        proc.stdin.write("".join(f"{k}\t{v}\n" for k, v in during).encode())
        proc.stdin.close()
        time.sleep(2)
        self.assertIsNone(proc.poll(), "producer finished while every broker was down")
        self.broker.up()
        self.assertEqual(proc.wait(timeout=120), 0, producer_log())
        self.assertEqual(dumped_set(self.dump()), as_set(before + during))

    def wait_for_keys(self, keys, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if keys <= {r["key"] for r in self.dump()}:
                return True
            time.sleep(0.2)
        return False

    def test_injected_produce_errors_are_retried(self):
        self.broker.inject_errors(PRODUCE_ERR, NOT_LEADER_FOR_PARTITION, 3)
        self.produce(make_records("e", 5))
        self.assertEqual(dumped_set(self.dump()), as_set(make_records("e", 5)))

    def test_bad_commands_are_refused(self):
        for bad in ("down 9", "up 0", "rtt 1 -5", "topic x 0", "frobnicate"):
            with self.assertRaises(BrokerError, msg=bad):
                self.broker.command(bad)
        self.broker.set_rtt(1, 5)  # and the broker still answers afterwards
        self.broker.create_topic("other", 2)

    def test_stop_ends_the_process(self):
        proc = self.broker._proc
        self.broker.stop()
        self.assertIsNotNone(proc.poll())
        self.assertEqual(proc.returncode, 0)
        self.broker.stop()  # a second stop is harmless


def main():
    global BUILD_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--build-dir", required=True)
    args, rest = parser.parse_known_args()
    BUILD_DIR = os.path.abspath(args.build_dir)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
