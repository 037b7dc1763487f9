#!/usr/bin/env bash
# Installs dependencies, builds meterd and its tests, and runs the whole suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/../.."
packaging/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2
