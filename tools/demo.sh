#!/usr/bin/env bash
# The main job: builds heapkit and runs its example programs, printing statistics.
set -eu
cd "$(dirname "$0")/.."
bash tools/deps.sh build
make -j"$(nproc)" all >/dev/null
for demo in build/examples/*; do
    [ -x "$demo" ] || continue
    echo "== $demo"
    "$demo"
done
