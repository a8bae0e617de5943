#!/usr/bin/env python3
"""heapkit benchmark runner: every workload under every allocator, side by side.

Runs each workload under glibc (no preload) and, through LD_PRELOAD, jemalloc, mimalloc,
tcmalloc, tbbmalloc and the heapkit libraries (and variants) that are built, alternating
allocators run by run.  Measures wall time and peak RSS (ru_maxrss from wait4, taken by this
runner) per run, and throughput where a workload reports it; runs the heapkit-only workloads
(programs linked with libheapkit comparing ways of using it, e.g. malloc/free against hk_heap_*)
in each of their modes; and writes a Markdown report and an SVG chart to bench/results/.  Options come from the command line or from the
environment (BENCH_RUNS, BENCH_THREADS, BENCH_ONLY, BENCH_ALLOCATORS, BENCH_TIMEOUT, BENCH_SCALE,
BENCH_NO_CALLGRIND).
Every child runs under a timeout; redis listens on 127.0.0.1 only and is always stopped.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chart  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORKLOADS = [  # name, what it models (the C sources say more in their header comments)
    ("small_churn", "many small short-lived objects: linked-node churn, 16-256 B"),
    ("pool_xthread", "server pool: producer/consumer queues, cross-thread free"),
    ("false_sharing", "threads write their own small objects in tight loops"),
    ("realloc_grow", "realloc growth of 256 interleaved buffers up to 257 KiB"),
    ("large_blocks", "64 KiB-32 MiB blocks allocated, touched, freed (mmap churn)"),
    ("fragmentation", "mixed sizes, free 95 %, RSS left behind (long-running service)"),
    ("thread_churn", "waves of short-lived threads allocating a little"),
    ("big_zeroed", "20 live 5-25 MiB buffers replaced at random, zeroed with memset"),
    ("thread_leave_one", "waves of short-lived threads, each leaving one 128 B object behind"),
    ("larson", "Larson server: threads hand their 8-1000 B blocks to successors (throughput)"),
    ("prod_cons", "one thread mallocs 16-512 B, another frees, via a ring (throughput)"),
    ("mstress", "mixed sizes up to 4 MiB, long-lived sets, objects moved between threads"),
    ("espresso_like", "single-threaded small-object program: logic-minimiser cubes in waves"),
]
# Workloads whose figure is throughput (`result: ops_per_s`) over a fixed amount of work rather
# than wall time: their "time" ratio is glibc's ops/s divided by the allocator's, so that lower
# is better as for time, and that ratio enters the geometric mean.
THROUGHPUT = {"larson", "prod_cons"}
PROGRAMS = [
    ("python3", "python3 running bench/programs/alloc_heavy.py (dict/list/str/object churn)"),
    ("sqlite3", "sqlite3 building, indexing and querying a generated database"),
    ("redis", "redis-server under the allocator, driven by redis-benchmark over loopback"),
]
# heapkit-only workloads: programs linked with libheapkit (never preloaded, so every mode runs on
# heapkit) that compare ways of using it. Each mode is one command-line argument; the program
# prints its figure (`result: <figure>=…`, higher is better) and how many units of work it did
# (`result: <count>=…`), from which the report gets CPU time per unit. Selected with --only like
# the other workloads; they run at least HEAPKIT_ONLY_MIN_RUNS times (a run takes a second).
HEAPKIT_ONLY = [
    {"name": "request_arena", "exe": "heapapi/request_arena",
     "title": "Heaps of one's own: request-scoped heap vs malloc/free",
     "modes": [("malloc", "malloc/free"), ("heap", "hk_heap_*, reset per request")],
     "figure": "requests_per_s", "unit": "requests/s", "count": "requests", "per": "request",
     "models": "request-scoped data (600 objects of 16 B-4 KiB and a reply string grown by "
               "realloc per request, all dropped when it ends): each object freed with free() vs "
               "allocated from the thread's own heap (hk_heap_malloc, hk_heap_realloc) and "
               "dropped with one hk_heap_reset per request"},
]
HEAPKIT_ONLY_MIN_RUNS = 5
PEERS = [("jemalloc", "libjemalloc.so.2"), ("mimalloc", "libmimalloc.so.2"),
         ("tcmalloc", "libtcmalloc_minimal.so.4"), ("tbbmalloc", "libtbbmalloc_proxy.so.2")]
# heapkit's libraries in build/lib: (name, library, extra environment, optional). A missing
# required library is reported as MISSING; an optional one is skipped with a note. An entry with
# extra environment is a variant of its library, run only when the library names every one of
# those variables (an option the library does not read would measure the plain library twice).
HEAPKIT = [("heapkit", "libheapkit.so", {}, False),
           ("heapkit-buddy", "libheapkit-buddy.so", {}, False),
           ("heapkit-buddy-chunks", "libheapkit-buddy.so", {"HEAPKIT_BUDDY_CHUNKS": "1"}, True),
           ("heapkit-secure", "libheapkit-secure.so", {}, True)]
# Variants measured only when named in --allocators (BENCH_ALLOCATORS), so that a plain
# `make bench` does not grow by a column nobody asked for. "{work}" in a value is the run's
# temporary directory (removed at the end): the heap profiler's exit dumps go there.
ON_REQUEST = [("heapkit-prof", "libheapkit.so",
               {"HEAPKIT_PROF": "1", "HEAPKIT_PROF_FILE": "{work}/heapkit.%p.heap"}, True)]
CALLGRIND_SIZES = [16, 256, 4096]

_live_children = set()   # process-group ids still running; killed on any exit path


def kill_children():
    for pgid in list(_live_children):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
        _live_children.discard(pgid)


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- finding the allocators

def find_library(soname):
    """The path of a shared library: ldconfig's cache first, then the multiarch directories."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
        want_x86_64 = platform.machine() == "x86_64"
        for line in out.splitlines():
            parts = line.strip().split(" => ")
            if len(parts) != 2 or parts[0].split(" ")[0] != soname:
                continue
            if want_x86_64 and "x86-64" not in parts[0]:
                continue                          # a 32-bit or x32 copy of the library
            if os.path.exists(parts[1]):
                return parts[1]
    except (OSError, subprocess.SubprocessError):
        pass
    dirs = []
    try:
        arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        if arch:
            dirs += ["/usr/lib/" + arch, "/lib/" + arch]
    except (OSError, subprocess.SubprocessError):
        pass
    dirs += ["/usr/lib/%s-linux-gnu" % platform.machine(), "/usr/lib64", "/usr/lib",
             "/usr/local/lib"]
    for d in dirs:
        if os.path.exists(os.path.join(d, soname)):
            return os.path.join(d, soname)
    return None


def library_mentions(path, names):
    """Whether the library's bytes contain every one of names (the options it reads)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return all(n.encode() in data for n in names)


def allocator_names():
    """Every name --allocators accepts, and the subset measured only on request."""
    on_request = [name for name, _, _, _ in ON_REQUEST]
    return (["glibc"] + [name for name, _ in PEERS] + [name for name, _, _, _ in HEAPKIT] +
            on_request, set(on_request))


def find_allocators(build, wanted=()):
    """[(name, preload path or None, extra environment)], [(name, why missing)] for required
    allocators, and [(name, why)] for optional ones not measured. wanted: the names to measure
    besides glibc, the reference every ratio is taken to (empty: all but the ON_REQUEST ones)."""
    found, missing, absent = [("glibc", None, {})], [], []
    for name, soname in PEERS:
        if wanted and name not in wanted:
            continue
        path = find_library(soname)
        if path:
            found.append((name, path, {}))
        else:
            missing.append((name, "%s not found (ldconfig -p, multiarch dirs)" % soname))
    on_request = allocator_names()[1]
    for name, lib, extra, optional in HEAPKIT + ON_REQUEST:
        if (name not in wanted) if wanted else (name in on_request):
            continue
        path = os.path.abspath(os.path.join(build, "lib", lib))
        if not os.path.exists(path):
            (absent if optional else missing).append((name, "%s/lib/%s not built" % (build, lib)))
        elif extra and not library_mentions(path, extra):
            absent.append((name, "%s does not read %s" % (lib, ", ".join(sorted(extra)))))
        else:
            found.append((name, path, dict(extra)))
    return found, missing, absent


def describe(preload, extra):
    """How an allocator is chosen, for the log and the report."""
    text = preload or "no preload"
    if extra:
        text += " with " + " ".join("%s=%s" % kv for kv in sorted(extra.items()))
    return text


def env_for(preload, threads, scale, extra=None):
    """The environment of a run; LD_PRELOAD only when preload is given (the launcher sets it
    for measured runs, so that it reaches the program and not the launcher); extra: an
    allocator variant's options."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    for var in [v for v in env if v.startswith("HEAPKIT_")]:
        env.pop(var)        # a variant's options come from `extra`, never from the runner's
    if preload:
        env["LD_PRELOAD"] = preload
    env.update({k: v.replace("{work}", WORK_DIR or tempfile.gettempdir())
                for k, v in (extra or {}).items()})
    env["BENCH_THREADS"] = str(threads)
    env["BENCH_SCALE"] = str(scale)
    return env


# ---------------------------------------------------------------- running one child

LAUNCH = None     # build/bench/launch, set in main()
WORK_DIR = None   # the run's temporary directory, removed at the end whatever happens


def run_child(cmd, preload, env, timeout, stdin_path=None, cwd=None):
    """Runs cmd through the launcher under the allocator `preload` (None: glibc); returns
    (wall seconds, (ru_maxrss KiB, CPU seconds), exit status, stdout, stderr). The launcher
    forks cmd, takes its wait4 rusage and writes it to a file (see bench/launch.c for why)."""
    rfd, rfile = tempfile.mkstemp(prefix="rusage-", dir=WORK_DIR)
    os.close(rfd)
    cmd = [LAUNCH, rfile, preload or "-"] + list(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=out, stderr=err, cwd=cwd,
                                 start_new_session=True)
            _live_children.add(p.pid)
            fired = []
            timer = threading.Timer(timeout, lambda: (fired.append(1), _kill_group(p.pid)))
            timer.daemon = True                   # never keeps an interrupted runner alive
            timer.start()
            try:
                _, status, _ = os.wait4(p.pid, 0)
            finally:
                timer.cancel()
            wall = time.perf_counter() - t0
            _live_children.discard(p.pid)
            p.returncode = os.waitstatus_to_exitcode(status)
            timed_out = bool(fired)
        finally:
            if stdin_path:
                stdin.close()
        maxrss = _read_rusage(rfile)
        out.seek(0)
        err.seek(0)
        rc = "timeout" if timed_out else p.returncode
        return wall, maxrss, rc, out.read().decode(errors="replace"), \
            err.read().decode(errors="replace")


def _read_rusage(path):
    """(ru_maxrss KiB, user+system CPU s) written by the launcher ((0, 0) when it was killed
    before writing)."""
    try:
        with open(path) as f:
            fields = f.read().split()
            return int(fields[0]), float(fields[2])
    except (OSError, ValueError, IndexError):
        return 0, 0.0
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def parse_results(text):
    """Lines 'result: key=value' printed by the workloads become extra figures."""
    extras = {}
    for m in re.finditer(r"^result: (\w+)=([-\d.]+)$", text, re.M):
        extras[m.group(1)] = float(m.group(2))
    return extras


# ---------------------------------------------------------------- the real programs

SQL_TEMPLATE = """PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-65536;
CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, price REAL, note TEXT);
CREATE TABLE tag(item_id INTEGER, tag TEXT);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
INSERT INTO item SELECT i, i % 97, 'item-' || hex(randomblob(6)), (i * 7919 % 10007) / 3.0,
       substr(hex(randomblob(40)), 1, 10 + i % 70) FROM n;
INSERT INTO tag SELECT id, 't' || (id % 13) FROM item WHERE id % 3 = 0;
COMMIT;
CREATE INDEX item_grp ON item(grp, price);
CREATE INDEX item_name ON item(name);
CREATE INDEX tag_item ON tag(item_id);
SELECT grp, count(*), round(avg(price), 2), max(length(note)) FROM item GROUP BY grp
 ORDER BY 2 DESC LIMIT 5;
SELECT count(*) FROM item JOIN tag ON tag.item_id = item.id WHERE tag.tag IN ('t1', 't5');
SELECT name FROM item ORDER BY note LIMIT 3;
SELECT group_concat(name, ',') IS NOT NULL FROM (SELECT name FROM item WHERE price < 50);
UPDATE item SET note = note || upper(note) WHERE grp < 30;
DELETE FROM item WHERE id % 5 = 0;
SELECT count(DISTINCT substr(note, 1, 4)) FROM item;
"""


def run_sqlite(preload, env, timeout, tmp, scale):
    sqlite = shutil.which("sqlite3")
    script = os.path.join(tmp, "bench.sql")
    with open(script, "w") as f:
        f.write(SQL_TEMPLATE.format(rows=int(100000 * scale)))
    db = os.path.join(tmp, "bench.db")
    if os.path.exists(db):
        os.unlink(db)
    wall, rss, rc, out, err = run_child([sqlite, db], preload, env, timeout, stdin_path=script)
    os.unlink(db)
    return wall, rss, rc, {}, err


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_redis(preload, env, timeout, tmp, scale):
    """redis-server (under the allocator) on loopback; redis-benchmark (plain) drives it.
    Time = the benchmark's wall time; RSS = the server's peak; extras = requests/s."""
    port = free_port()
    rfd, rfile = tempfile.mkstemp(prefix="rusage-", dir=WORK_DIR)
    os.close(rfd)
    server_cmd = [LAUNCH, rfile, preload or "-", shutil.which("redis-server"),
                  "--port", str(port), "--bind", "127.0.0.1",
                  "--protected-mode", "yes", "--save", "", "--appendonly", "no",
                  "--daemonize", "no", "--dir", tmp, "--logfile", ""]
    log_path = os.path.join(tmp, "redis.log")
    logf = open(log_path, "wb")
    server = subprocess.Popen(server_cmd, env=env, stdout=logf, stderr=logf,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    _live_children.add(server.pid)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start (see %s)" % log_path)
                time.sleep(0.05)
        plain = env_for(None, 1, 1)
        n = max(1000, int(20000 * scale))
        wall, _, rc, out, err = run_child(
            [shutil.which("redis-benchmark"), "-h", "127.0.0.1", "-p", str(port), "-n", str(n),
             "-q", "-t", "set,get,lpush,lpop"], None, plain, timeout)
        extras = {}
        for m in re.finditer(r"([A-Z]+)[^:\r\n]*: ([\d.]+) requests per second", out):
            extras["rps_" + m.group(1).lower()] = float(m.group(2))
        subprocess.run([shutil.which("redis-cli") or "redis-cli", "-h", "127.0.0.1", "-p",
                        str(port), "shutdown", "nosave"], capture_output=True, timeout=10,
                       env=plain)
        status = _wait_or_kill(server.pid, 10)
        server.returncode = status
        rss = _read_rusage(rfile)
        if rc == 0 and status != 0:
            rc = "server exit %s" % status
        return wall, rss, rc, extras, err
    finally:
        logf.close()
        if server.returncode is None:
            _kill_group(server.pid)
            try:
                os.wait4(server.pid, 0)
            except ChildProcessError:
                pass
            server.returncode = -9
        _live_children.discard(server.pid)


def _wait_or_kill(pid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            _kill_group(pid)
            os.wait4(pid, 0)
            return "killed"
        time.sleep(0.02)


# ---------------------------------------------------------------- callgrind micro-measure

def callgrind_ir(prog, n, size, preload, extra, tmp):
    """Total instructions (Ir) of `fastpath N SIZE` under callgrind."""
    out = os.path.join(tmp, "cg.out")
    env = env_for(preload, 1, 1, extra)
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, prog, str(n),
                    str(size)], env=env, capture_output=True, timeout=300, check=True)
    total = None
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    os.unlink(out)
    return total


def run_callgrind(allocs, build, tmp, steps):
    """Instructions per malloc+free pair, the project's fast-path measure: (Ir(2N) - Ir(N)) / N
    for bench/micro/fastpath.c, per allocator and size."""
    prog = os.path.join(build, "bench", "micro", "fastpath")
    if not shutil.which("valgrind") or not os.path.exists(prog):
        log("callgrind: skipped (valgrind or %s missing)" % prog)
        return None
    res = {}
    for name, preload, extra in allocs:
        for size in CALLGRIND_SIZES:
            try:
                once = callgrind_ir(prog, steps, size, preload, extra, tmp)
                twice = callgrind_ir(prog, 2 * steps, size, preload, extra, tmp)
                res[(name, size)] = (twice - once) / steps
            except (subprocess.SubprocessError, OSError, TypeError) as e:
                log("callgrind: %s %d B failed: %s" % (name, size, e))
                res[(name, size)] = None
        log("callgrind: %-20s %s" % (name, "  ".join(
            "%d B: %s" % (s, "%.1f" % res[(name, s)] if res[(name, s)] is not None else "fail")
            for s in CALLGRIND_SIZES)))
    return res


# ---------------------------------------------------------------- trace replay (spec engines)

def run_replay(build, tmp, timeout):
    rdir = os.path.join(build, "bench", "replay")
    gen = os.path.join(rdir, "gen_trace")
    engines = [("libosmem (os_malloc/os_free)", "replay_osmem"),
               ("libmemalloc (custom_malloc/custom_free)", "replay_memalloc"),
               ("libmm (xcalloc/xfree)", "replay_mm")]
    rows, missing = [], []
    if not os.path.exists(gen):
        return rows, [name for name, _ in engines]
    trace = os.path.join(tmp, "trace.bin")
    subprocess.run([gen, trace], check=True, timeout=timeout, capture_output=True)
    for name, exe in engines:
        path = os.path.join(rdir, exe)
        if not os.path.exists(path):
            missing.append(name)
            continue
        wall, rss, rc, out, err = run_child([path, trace], None, env_for(None, 1, 1), timeout)
        extras = parse_results(out)
        rows.append((name, rc, extras, wall))
        log("replay: %s rc=%s %s" % (name, rc, extras))
    return rows, missing


# ---------------------------------------------------------------- heapkit-only workloads

def run_heapkit_only(build, runs, threads, scale, timeout, only):
    """Each HEAPKIT_ONLY workload in each of its modes, alternating the modes run by run (the
    first mode rotates), at least HEAPKIT_ONLY_MIN_RUNS runs. Returns ({name: {mode: summary
    or None}}, [skip notes])."""
    results, skipped = {}, []
    runs = max(runs, HEAPKIT_ONLY_MIN_RUNS)
    for w in HEAPKIT_ONLY:
        if only and w["name"] not in only:
            continue
        path = os.path.join(build, "bench", w["exe"])
        if not os.path.exists(path):
            skipped.append("%s (not built: run make bench)" % w["name"])
            log("skip: %s — %s not built" % (w["name"], path))
            continue
        modes = [m for m, _ in w["modes"]]
        samples = {m: [] for m in modes}
        for r in range(runs):
            for mode in modes[r % len(modes):] + modes[:r % len(modes)]:
                wall, (rss, cpu), rc, out, err = run_child(
                    [path, mode], None, env_for(None, threads, scale), timeout)
                extras = parse_results(out)
                if rc == 0 and not (w["figure"] in extras and extras.get(w["count"])):
                    rc = "no %s or %s line" % (w["figure"], w["count"])
                samples[mode].append({"wall": wall, "rss": rss, "cpu": cpu, "rc": rc,
                                      "extras": extras})
                log("%-16s run %d  %-20s %7.3f s  %8.1f MiB%s%s" % (
                    w["name"], r + 1, mode, wall, rss / 1024,
                    "  %.0f %s" % (extras[w["figure"]], w["unit"]) if rc == 0 else "",
                    "" if rc == 0 else "  FAILED (%s) %s" % (rc, err.strip()[-200:])))
        results[w["name"]] = {}
        for m in modes:
            summary = summarise(samples[m])
            if summary:
                figures = [x["extras"][w["figure"]] for x in samples[m]]
                per_unit = [x["cpu"] / x["extras"][w["count"]] for x in samples[m]]
                summary.update(figure=statistics.median(figures), figure_min=min(figures),
                               figure_max=max(figures), cpu_per=statistics.median(per_unit),
                               cpu_per_min=min(per_unit), cpu_per_max=max(per_unit),
                               runs=len(figures))
            results[w["name"]][m] = summary
    return results, skipped


# ---------------------------------------------------------------- the report

def heapkit_only_section(results, meta):
    """The report's lines for the HEAPKIT_ONLY workloads that ran: per mode the median figure
    and CPU time per unit of work, each with its ratio to the first mode's, and peak RSS."""
    L = []
    for w in HEAPKIT_ONLY:
        res = results.get(w["name"])
        if res is None:
            continue
        first = res.get(w["modes"][0][0])
        runs = max([s["runs"] for s in res.values() if s] or [0])
        L += ["", "## %s (heapkit only)" % w["title"], "",
              "`%s %s`, linked with libheapkit (not preloaded: every mode runs on heapkit); "
              "%d runs per mode, modes alternating, %d thread%s; medians (min–max). %s are "
              "timed inside the program (higher is better); CPU time (user + system, from wait4, "
              "start-up included) per %s is steadier on a busy machine (lower is better)." % (
                  w["exe"], "|".join(m for m, _ in w["modes"]), runs, meta["threads"],
                  "" if meta["threads"] == 1 else "s",
                  w["unit"][0].upper() + w["unit"][1:], w["per"]), "",
              "| mode | %s | ratio | CPU µs per %s | ratio | peak RSS MiB |" % (
                  w["unit"], w["per"]), "|---|---:|---:|---:|---:|---:|"]
        for mode, label in w["modes"]:
            s = res.get(mode)
            if not s:
                L.append("| %s | failed | | | | |" % label)
                continue
            L.append("| %s | %.0f (%.0f–%.0f) | %s | %.2f (%.2f–%.2f) | %s | %.1f (%.1f–%.1f) |"
                     % (label, s["figure"], s["figure_min"], s["figure_max"],
                        "%.2f×" % (s["figure"] / first["figure"]) if first else "—",
                        s["cpu_per"] * 1e6, s["cpu_per_min"] * 1e6, s["cpu_per_max"] * 1e6,
                        "%.2f×" % (s["cpu_per"] / first["cpu_per"]) if first else "—",
                        s["rss"] / 1024, s["rss_min"] / 1024, s["rss_max"] / 1024))
        L += ["", "Ratios are to the first mode (%s)." % w["modes"][0][1]]
    return L


def fmt_ratio(v):
    return "—" if v is None else "%.2f" % v


def summarise(samples):
    ok = [s for s in samples if s["rc"] == 0]
    if not ok or len(ok) < len(samples):
        return None
    walls = [s["wall"] for s in ok]
    cpus = [s["cpu"] for s in ok]
    rsss = [s["rss"] for s in ok]
    extras = {}
    for key in ok[0]["extras"]:
        vals = [s["extras"][key] for s in ok if key in s["extras"]]
        extras[key] = statistics.median(vals)
    return {"wall": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls),
            "cpu": statistics.median(cpus), "cpu_min": min(cpus), "cpu_max": max(cpus),
            "rss": statistics.median(rsss), "rss_min": min(rsss), "rss_max": max(rsss),
            "extras": extras}


def throughput(stats, w, a):
    """Median ops/s of a throughput workload under an allocator, or None."""
    s = stats.get((w, a))
    v = s["extras"].get("ops_per_s") if s else None
    return v if v and v > 0 else None


def write_report(path_md, path_svg, meta, allocs, missing, absent, names, stats, skipped,
                 callgrind, replay, heapkit_only):
    an = [a for a, _, _ in allocs]

    def ratio(key):
        def f(w, a):
            s, g = stats.get((w, a)), stats.get((w, "glibc"))
            if not s or not g or not g[key]:
                return None
            return s[key] / g[key]
        return f

    rr, wall_ratio = ratio("rss"), ratio("wall")

    def tr(w, a):
        """Time ratio; for a throughput workload glibc's ops/s over the allocator's."""
        if w not in THROUGHPUT:
            return wall_ratio(w, a)
        mine, base = throughput(stats, w, a), throughput(stats, w, "glibc")
        return base / mine if mine and base else None

    def label(w):
        return w + " ¹" if w in THROUGHPUT else w
    L = ["# heapkit benchmark — %s" % meta["date"], "",
         "Host `%s`, %s, %d cores, kernel %s. Runs per allocator: %d (round-robin), threads: "
         "%d, scale %s. Total runner time %.0f s. Load average (1 min) %.2f at the start, "
         "%.2f at the end: other work on the machine widens the spreads." % (
             meta["host"], meta["cpu"], meta["cores"], meta["kernel"], meta["runs"],
             meta["threads"], meta["scale"], meta["elapsed"], meta["load"][0], meta["load"][1]),
         "",
         "Allocators: " + ", ".join("%s (`%s`)" % (a, describe(p, x)) for a, p, x in allocs)
         + ".", ""]
    if missing:
        L += ["**Missing (not measured):** " + "; ".join("%s — %s" % m for m in missing) + ".",
              ""]
    if absent:
        L += ["Optional, not measured: " + "; ".join("%s — %s" % m for m in absent) + ".", ""]
    if skipped:
        L += ["**Skipped:** " + "; ".join(skipped) + ".", ""]
    preloaded_start = len(L)      # the sections of the workloads run under every allocator
    L += ["## Ratio to glibc (median wall time / median peak RSS; lower is better)", "",
          "| workload | " + " | ".join("%s time | %s RSS" % (a, a) for a in an[1:]) + " |",
          "|---|" + "---:|" * (2 * (len(an) - 1))]
    for w in names:
        L.append("| %s | " % label(w) + " | ".join(
            "%s | %s" % (fmt_ratio(tr(w, a)), fmt_ratio(rr(w, a))) for a in an[1:]) + " |")
    L.append("| **geometric mean** | " + " | ".join(
        "**%s** | **%s**" % (fmt_ratio(chart.geomean([tr(w, a) for w in names])),
                             fmt_ratio(chart.geomean([rr(w, a) for w in names])))
        for a in an[1:]) + " |")
    if THROUGHPUT & set(names):
        L += ["", "¹ Throughput workloads (a fixed amount of work, timed inside the program): "
              "their time column is glibc's operations per second divided by the allocator's, "
              "lower is better as for time, and the geometric mean takes it so; the operations "
              "per second are under Extra figures."]
    # A variant (extra environment) beside its plain library, both measured: its own ratios.
    variants = [(v, base) for v, vp, vx in allocs if vx
                for base, bp, bx in allocs if bp == vp and not bx]
    if variants:
        def vratio(w, v, base):
            if w in THROUGHPUT:
                mine, plain = throughput(stats, w, v), throughput(stats, w, base)
                return plain / mine if mine and plain else None
            sv, sb = stats.get((w, v)), stats.get((w, base))
            return sv["wall"] / sb["wall"] if sv and sb and sb["wall"] else None

        def vrss(w, v, base):
            sv, sb = stats.get((w, v)), stats.get((w, base))
            return sv["rss"] / sb["rss"] if sv and sb and sb["rss"] else None
        L += ["", "## Variants against their library (variant's median / library's; lower is "
              "better)", "",
              "The same library with extra environment, each ratio taken to the plain library "
              "measured in the same round-robin (for throughput workloads, the library's ops/s "
              "over the variant's).", "",
              "| workload | " + " | ".join("%s / %s time | RSS" % vb for vb in variants) + " |",
              "|---|" + "---:|" * (2 * len(variants))]
        for w in names:
            L.append("| %s | " % label(w) + " | ".join(
                "%s | %s" % (fmt_ratio(vratio(w, v, b)), fmt_ratio(vrss(w, v, b)))
                for v, b in variants) + " |")
        L.append("| **geometric mean** | " + " | ".join(
            "**%s** | **%s**" % (fmt_ratio(chart.geomean([vratio(w, v, b) for w in names])),
                                 fmt_ratio(chart.geomean([vrss(w, v, b) for w in names])))
            for v, b in variants) + " |")
    L += ["", "## Raw medians: wall time in seconds (min–max)", "",
          "| workload | " + " | ".join(an) + " |", "|---|" + "---:|" * len(an)]
    for w in names:
        cells = []
        for a in an:
            s = stats.get((w, a))
            cells.append("failed" if not s else "%.3f (%.3f–%.3f)" % (s["wall"], s["wall_min"],
                                                                    s["wall_max"]))
        L.append("| %s | %s |" % (w, " | ".join(cells)))
    L += ["", "## Raw medians: CPU time (user + system) in seconds (min–max)", "",
          "Less disturbed than wall time by other work on the machine; for redis, the server's.",
          "", "| workload | " + " | ".join(an) + " |", "|---|" + "---:|" * len(an)]
    for w in names:
        cells = []
        for a in an:
            s = stats.get((w, a))
            cells.append("failed" if not s else "%.3f (%.3f–%.3f)" % (s["cpu"], s["cpu_min"],
                                                                    s["cpu_max"]))
        L.append("| %s | %s |" % (w, " | ".join(cells)))
    L += ["", "## Raw medians: peak RSS in MiB (min–max), from wait4 ru_maxrss", "",
          "| workload | " + " | ".join(an) + " |", "|---|" + "---:|" * len(an)]
    for w in names:
        cells = []
        for a in an:
            s = stats.get((w, a))
            cells.append("failed" if not s else "%.1f (%.1f–%.1f)" % (
                s["rss"] / 1024, s["rss_min"] / 1024, s["rss_max"] / 1024))
        L.append("| %s | %s |" % (w, " | ".join(cells)))
    extra_rows = [("fragmentation", "rss_after_free_kib", "fragmentation: RSS after freeing 95 % "
                   "(MiB)", 1 / 1024), ("fragmentation", "rss_end_kib",
                                        "fragmentation: RSS after freeing all (MiB)", 1 / 1024)]
    for key in ("rps_set", "rps_get", "rps_lpush", "rps_lpop"):
        extra_rows.append(("redis", key, "redis %s requests/s" % key[4:].upper(), 1))
    L += ["", "## Extra figures (medians)", ""]
    tput = [w for w in names if w in THROUGHPUT]
    if tput:
        L += ["Throughput: millions of operations (mallocs + frees) per second, and in brackets "
              "the ratio to glibc's; higher is better.", "",
              "| workload | " + " | ".join(an) + " |", "|---|" + "---:|" * len(an)]
        for w in tput:
            base, cells = throughput(stats, w, "glibc"), []
            for a in an:
                v = throughput(stats, w, a)
                cells.append("—" if v is None else "%.1f (%s)" % (
                    v / 1e6, "%.2f×" % (v / base) if base else "—"))
            L.append("| %s ops/s | %s |" % (w, " | ".join(cells)))
        L.append("")
    extra_rows = [row for row in extra_rows if row[0] in names]
    if not tput and not extra_rows:
        L.append("None for the workloads run.")
    if extra_rows:
        L += ["| figure | " + " | ".join(an) + " |", "|---|" + "---:|" * len(an)]
    for w, key, label, mul in extra_rows:
        cells = []
        for a in an:
            s = stats.get((w, a))
            v = s["extras"].get(key) if s else None
            cells.append("—" if v is None else ("%.1f" % (v * mul) if mul != 1 else "%.0f" % v))
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    if not names:                 # --only named heapkit-only workloads: no empty tables
        del L[preloaded_start:]
        L += ["No workload ran under the allocators (`--only` named heapkit-only ones)."]
    if callgrind:
        L += ["", "## Fast path: instructions per malloc+free pair (callgrind)", "",
              "`fastpath N SIZE` (`micro/fastpath.c`, the project's measure): 64 blocks of the "
              "size stay live; each step mallocs one, writes its first byte and frees the one "
              "allocated 64 steps before. (Ir(2N) − Ir(N)) / N with N = %d: start-up and exit "
              "cancel out, the loop's own few instructions are included." % meta["pairs"], "",
              "| allocator | " + " | ".join("%d B" % s for s in CALLGRIND_SIZES) + " |",
              "|---|" + "---:|" * len(CALLGRIND_SIZES)]
        for a in an:
            cells = []
            for s in CALLGRIND_SIZES:
                v = callgrind.get((a, s))
                cells.append("failed" if v is None else "%.2f" % v)
            L.append("| %s | %s |" % (a, " | ".join(cells)))
    rows, rmissing = replay
    L += ["", "## Trace replay through the spec engines", ""]
    if rows:
        L += ["| engine | ops | ops/s | peak live KiB | peak heap KiB | utilisation |",
              "|---|---:|---:|---:|---:|---:|"]
        for name, rc, e, wall in rows:
            if rc != 0:
                L.append("| %s | failed (%s) | | | | |" % (name, rc))
                continue
            L.append("| %s | %.0f | %.0f | %.0f | %.0f | %.2f |" % (
                name, e.get("ops", 0), e.get("ops_per_s", 0), e.get("peak_live_bytes", 0) / 1024,
                e.get("peak_heap_bytes", 0) / 1024, e.get("utilisation", 0)))
    if rmissing:
        L += ([""] if rows else []) + [
            "Not built (library or header absent): " + ", ".join(rmissing) + "."]
    L += heapkit_only_section(heapkit_only, meta)
    L += ["", "## Workloads", ""]
    for w, desc in WORKLOADS + PROGRAMS:
        if w in names:
            L.append("- `%s` — %s" % (w, desc))
    for w in HEAPKIT_ONLY:
        if w["name"] in heapkit_only:
            L.append("- `%s` (heapkit only) — %s" % (w["name"], w["models"]))
    if "redis" in names:
        L += ["", "Note: redis-server is linked with jemalloc, so its `glibc` column is redis's "
              "own jemalloc; LD_PRELOAD replaces malloc/free/realloc/calloc but not jemalloc's "
              "`mallctl`, which redis only calls for statistics."]
    L.append("")
    with open(path_md, "w") as f:
        f.write("\n".join(L))
    chart.write_svg(path_svg, names, an[1:], tr, rr,
                    "%s, %s, %d runs each, %d threads; dashed line = glibc%s%s" % (
                        meta["date"], meta["host"], meta["runs"], meta["threads"],
                        "; time of %s: glibc's ops/s / the allocator's" % " and ".join(
                            sorted(THROUGHPUT & set(names))) if THROUGHPUT & set(names) else "",
                        "; not measured: " + ", ".join(n for n, _ in missing) if missing else ""))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    env = os.environ.get
    ap.add_argument("--build", default=env("BUILD") or "build")
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS") or 3))
    ap.add_argument("--threads", type=int, default=int(env("BENCH_THREADS") or 0) or
                    len(os.sched_getaffinity(0)))
    ap.add_argument("--only", default=env("BENCH_ONLY") or "",
                    help="comma-separated workloads (default: all)")
    ap.add_argument("--allocators", default=env("BENCH_ALLOCATORS") or "",
                    help="comma-separated allocators besides glibc (default: all but the "
                    "variants measured on request: %s)" % ", ".join(
                        sorted(allocator_names()[1])))
    ap.add_argument("--timeout", type=float, default=float(env("BENCH_TIMEOUT") or 60))
    ap.add_argument("--scale", type=float, default=float(env("BENCH_SCALE") or 1.0))
    ap.add_argument("--pairs", type=int, default=200000,
                    help="N of the callgrind fast-path measure: (Ir(2N) - Ir(N)) / N")
    ap.add_argument("--no-callgrind", action="store_true",
                    default=(env("BENCH_NO_CALLGRIND") or "0") not in ("", "0"))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    start = time.monotonic()
    load_start = os.getloadavg()[0]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    global LAUNCH
    LAUNCH = os.path.join(a.build, "bench", "launch")
    if not os.path.exists(LAUNCH):
        ap.error("%s is missing: build with `make bench` (or make bench-build)" % LAUNCH)
    wanted = [x.strip() for x in a.allocators.split(",") if x.strip()]
    for x in wanted:
        if x not in allocator_names()[0]:
            ap.error("unknown allocator %r (known: %s)" % (x, ", ".join(allocator_names()[0])))
    allocs, missing, absent = find_allocators(a.build, wanted)
    log("allocators: " + ", ".join("%s=%s" % (n, describe(p, x)) for n, p, x in allocs))
    for name, why in missing:
        log("MISSING: %s — %s" % (name, why))
    for name, why in absent:
        log("skip: %s — %s (optional)" % (name, why))
    bdir = os.path.join(a.build, "bench", "workloads")
    names, skipped = [], []
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    known = [w for w, _ in WORKLOADS + PROGRAMS] + [w["name"] for w in HEAPKIT_ONLY]
    for x in only:
        if x not in known:
            ap.error("unknown workload %r (known: %s)" % (x, ", ".join(known)))
    for w, _ in WORKLOADS:
        if not only or w in only:
            if os.path.exists(os.path.join(bdir, w)):
                names.append(w)
            else:
                skipped.append("%s (not built: run make bench)" % w)
    needs = {"python3": [], "sqlite3": ["sqlite3"], "redis": ["redis-server", "redis-benchmark"]}
    for w, _ in PROGRAMS:
        if only and w not in only:
            continue
        absent = [p for p in needs[w] if not shutil.which(p)]
        if absent:
            skipped.append("%s (%s not installed)" % (w, ", ".join(absent)))
            log("skip: %s — %s not installed" % (w, ", ".join(absent)))
        else:
            names.append(w)

    stats, samples = {}, {}
    global WORK_DIR
    tmp = WORK_DIR = tempfile.mkdtemp(prefix="heapkit-bench-")
    try:
        for w in names:
            for r in range(a.runs):
                # rotate the starting allocator so no allocator always runs first
                order = allocs[r % len(allocs):] + allocs[:r % len(allocs)]
                for name, preload, extra in order:
                    e = env_for(None, a.threads, a.scale, extra)
                    extras, err = {}, ""
                    if w == "python3":
                        wall, rss, rc, out, err = run_child(
                            [sys.executable, os.path.join(HERE, "programs", "alloc_heavy.py"),
                             str(a.scale)], preload, e, a.timeout)
                        extras = parse_results(out)
                    elif w == "sqlite3":
                        wall, rss, rc, extras, err = run_sqlite(preload, e, a.timeout, tmp, a.scale)
                    elif w == "redis":
                        try:
                            wall, rss, rc, extras, err = run_redis(preload, e, a.timeout, tmp,
                                                                   a.scale)
                        except (RuntimeError, OSError, subprocess.SubprocessError) as ex:
                            wall, rss, rc, err = 0, (0, 0.0), str(ex), ""
                    else:
                        wall, rss, rc, out, err = run_child([os.path.join(bdir, w)], preload,
                                                            e, a.timeout)
                        extras = parse_results(out)
                    rss, cpu = rss
                    samples.setdefault((w, name), []).append(
                        {"wall": wall, "rss": rss, "cpu": cpu, "rc": rc, "extras": extras})
                    log("%-16s run %d  %-20s %7.3f s  %8.1f MiB%s%s" % (
                        w, r + 1, name, wall, rss / 1024,
                        "  %.1f M ops/s" % (extras["ops_per_s"] / 1e6)
                        if "ops_per_s" in extras else "",
                        "" if rc == 0 else "  FAILED (%s) %s" % (rc, err.strip()[-200:])))
        for key, s in samples.items():
            stats[key] = summarise(s)
        heapkit_only, hk_skipped = run_heapkit_only(a.build, a.runs, a.threads, a.scale,
                                                    a.timeout, only)
        skipped += hk_skipped
        cg = None if a.no_callgrind else run_callgrind(allocs, a.build, tmp, a.pairs)
        replay = run_replay(a.build, tmp, a.timeout)
    finally:
        kill_children()
        shutil.rmtree(tmp, ignore_errors=True)

    now = datetime.datetime.now()
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*: (.*)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    meta = {"date": now.strftime("%Y-%m-%d %H:%M"), "host": socket.gethostname(), "cpu": cpu,
            "cores": os.cpu_count() or 1, "kernel": platform.release(), "runs": a.runs,
            "threads": a.threads, "scale": a.scale, "elapsed": time.monotonic() - start,
            "pairs": a.pairs, "load": (load_start, os.getloadavg()[0])}
    os.makedirs(a.results, exist_ok=True)
    dated = os.path.join(a.results, "%s-%s.md" % (now.strftime("%Y-%m-%d"), meta["host"]))
    latest_md = os.path.join(a.results, "latest.md")
    write_report(dated, os.path.join(a.results, "latest.svg"), meta, allocs, missing, absent,
                 names, stats, skipped, cg, replay, heapkit_only)
    shutil.copyfile(dated, latest_md)
    log("")
    with open(latest_md) as f:
        log(f.read())
    log("written: %s, %s, %s" % (dated, latest_md, os.path.join(a.results, "latest.svg")))
    if missing:
        log("MISSING allocators (not measured): " + ", ".join(n for n, _ in missing))
    failed = [k for k, v in stats.items() if v is None]
    if failed:
        log("FAILED runs: " + ", ".join("%s/%s" % k for k in failed))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_children()
