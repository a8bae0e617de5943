#!/usr/bin/env bash
# Installs the Debian packages heapkit needs for a purpose, when some are missing.
#   tools/deps.sh build   compiler, make, pkg-config
#   tools/deps.sh demo    + the programs the main job runs (python3, sqlite3, GNU time)
#   tools/deps.sh test    + Criterion, the real programs the tests run (python3, sqlite3, git),
#                         what the packaging tests use (cmake, binutils, groff, man-db,
#                         dpkg-dev; lintian is used when present, never installed),
#                         chromium, which opens the command's HTML report headless,
#                         google-pprof (google-perftools), which reads the heap profiles, and
#                         clang with its sanitizer and libFuzzer runtimes for the fuzz tests
#   tools/deps.sh bench   + the peer allocators and the benchmark programs
# As root it runs apt-get; otherwise it names what is missing and how to install it.
set -eu
want=(gcc make libc6-dev pkg-config)
case "${1:-build}" in
build) ;;
demo) want+=(python3 sqlite3 time) ;;
test) want+=(libcriterion-dev python3 sqlite3 git valgrind strace cmake binutils
               groff-base man-db dpkg-dev chromium google-perftools clang libclang-rt-14-dev) ;;
bench) want+=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 libtbbmalloc2 python3 sqlite3
              redis-server redis-tools valgrind time) ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "heapkit: missing packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
fi
echo "heapkit: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
