#!/usr/bin/env bash
# Installs every Debian 12 package meterd needs to build, test and run its demo.
# Idempotent: packages already present are left alone. Run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev libsqlite3-dev sqlite3
  libboost-dev libmsgpack-cxx-dev libspdlog-dev libfmt-dev catch2
  libsimdjson-dev libyaml-cpp-dev libxxhash-dev libsystemd-dev libcli11-dev prometheus-cpp-dev
  clickhouse-server clickhouse-client
  prometheus tmux
  python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
