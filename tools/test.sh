#!/usr/bin/env bash
# Builds everything and runs every test suite; installs what the tests need when missing.
# The last line is the total: "heapkit: N passed, M failed".
set -eu
cd "$(dirname "$0")/.."
bash tools/deps.sh test
make -j"$(nproc)" all
make test
