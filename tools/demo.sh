#!/usr/bin/env bash
# The main job: builds heapkit, runs real programs on its fast malloc beside a glibc run
# (wall time, peak RSS, heapkit's statistics), then the example programs of the spec allocators.
set -eu
cd "$(dirname "$0")/.."
bash tools/deps.sh demo
make -j"$(nproc)" all >/dev/null
heapkit=build/bin/heapkit
# Debian's python3 when present (a version manager's shim would add shell processes to the run)
python=/usr/bin/python3
[ -x "$python" ] || python=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure NAME ENGINE COMMAND...: runs COMMAND on glibc (ENGINE=glibc) or under heapkit, prints
# one line with wall time and peak RSS, and keeps the figures for the ratio line.
measure() {
    local label=$1 engine=$2
    shift 2
    local out="$tmp/$engine.time"
    if [ "$engine" = glibc ]; then
        /usr/bin/time -f '%e %M' -o "$out" "$@" >"$tmp/$engine.out"
    else
        /usr/bin/time -f '%e %M' -o "$out" \
            "$heapkit" run --engine "$engine" --stats-file "$tmp/stats.txt" -- "$@" >"$tmp/$engine.out"
    fi
    read -r secs kib <"$out"
    printf '  %-14s %-8s %8.2f s  %8d KiB peak RSS\n' "$label" "$engine" "$secs" "$kib"
    eval "time_$engine=$secs rss_$engine=$kib"
}

ratio_line() {
    awk -v tg="$time_glibc" -v th="$time_fast" -v rg="$rss_glibc" -v rh="$rss_fast" \
        'BEGIN { printf "  heapkit/glibc: time %.2fx, peak RSS %.2fx\n", th / tg, rh / rg }'
}

# heapkit's statistics, as each process of the run printed them at exit
show_stats() {
    cat "$tmp/stats.txt"
    rm -f "$tmp/stats.txt"
}

echo "== heapkit main job: real programs on heapkit's fast malloc, beside glibc =="
echo
echo "-- python3: an allocation-heavy script (objects, dicts, strings)"
measure python3 glibc "$python" tests/data/alloc_churn.py
measure python3 fast "$python" tests/data/alloc_churn.py
cmp -s "$tmp/glibc.out" "$tmp/fast.out" && echo "  output identical: $(cat "$tmp/fast.out")"
ratio_line
show_stats
echo
echo "-- sqlite3: build a 200,000-row database with an index, then query it"
{
    echo 'CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, x INTEGER);'
    echo 'BEGIN;'
    seq 1 200000 | awk '{printf "INSERT INTO t(name, x) VALUES (\x27name%d\x27, %d);\n", $1 * 7 % 5000, $1 * 13 % 99991}'
    echo 'COMMIT;'
    echo 'CREATE INDEX tx ON t(x);'
    echo 'SELECT count(*), sum(x), count(DISTINCT name) FROM t;'
    echo 'SELECT name, count(*) FROM t GROUP BY name ORDER BY 2 DESC, 1 LIMIT 3;'
} >"$tmp/load.sql"
measure sqlite3 glibc sh -c "sqlite3 '$tmp/g.db' < '$tmp/load.sql'"
measure sqlite3 fast sh -c "sqlite3 '$tmp/h.db' < '$tmp/load.sql'"
cmp -s "$tmp/glibc.out" "$tmp/fast.out" && echo "  output identical: $(tr '\n' ' ' <"$tmp/fast.out")"
ratio_line
show_stats
echo
echo "== the spec allocators' example programs =="
for demo in build/examples/*; do
    [ -x "$demo" ] || continue
    echo
    echo "-- $demo"
    "$demo"
done
