"""The shared entry point of the process-level test scripts: `--build-dir BUILD` sets the module's
BUILD_DIR, every other argument goes to unittest."""

import argparse
import sys
import unittest
from pathlib import Path


def run_tests(module_globals):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--build-dir", required=True)
    args, rest = parser.parse_known_args()
    module_globals["BUILD_DIR"] = str(Path(args.build_dir).resolve())
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
