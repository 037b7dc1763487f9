#!/usr/bin/env bash
# The main job: installs dependencies, builds meterd and runs the whole-pipeline demo
# (meterd + test Kafka broker + ClickHouse; usage per subject printed from ClickHouse).
set -euo pipefail
cd "$(dirname "$0")/../.."
packaging/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2
/usr/bin/python3 packaging/scripts/demo.py --build-dir build
