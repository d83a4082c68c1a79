#!/usr/bin/env bash
# The host's floor under issue 19's longest-put bound (make bench-host-floor).
#
# Benchmarks/HostFloor/probe.c reads the clock in a loop pinned to the first CPU this process
# may use and reports the longest gap between two reads: time that thread did not run. It runs
# three ways, ROUNDS times, with the last CPU this process may use:
#   idle     idle
#   yes      busy with `yes` (no I/O, no shared memory with the probe)
#   engine   running `augur-load run -w fillrandom --threads 1 --durability none`
# A longest gap beside `yes` well over the idle one is the host taking the virtual CPU away when
# its sibling is busy: no engine whose writer shares the machine with its own background work
# can promise a longest put below it there.
#
# Environment: ROUNDS (2), PROBE_SECONDS (45 per probe), THRESHOLD_MS (4), CC (cc, else clang).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

ROUNDS=${ROUNDS:-2}
SECONDS_PER=${PROBE_SECONDS:-45}   # not SECONDS: bash counts its own run time in that one
THRESHOLD_MS=${THRESHOLD_MS:-4}
# The CPUs this process may run on (under taskset they need not start at 0 or be contiguous).
read -r -a cpus <<<"$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')"
if [ "${#cpus[@]}" -lt 2 ]; then
  echo "bench-host-floor: needs at least 2 CPUs (may use ${cpus[*]}): the probe and the load run on different ones" >&2
  exit 1
fi
first=${cpus[0]}
last=${cpus[${#cpus[@]}-1]}

cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || cc=clang
work=$(mktemp -d "${TMPDIR:-/tmp}/augur-host-floor.XXXXXX")
# On any exit: stop what runs in the background, then remove the scratch directory.
trap 'jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$cc" -O2 -o "$work/probe" "$here/HostFloor/probe.c"

cd "$root"
swift build -c release --product augur-load >/dev/null
load="$(swift build -c release --show-bin-path)/augur-load"

# Assigned, not echoed inside "$(...)": a failing probe then stops the script (set -e).
probe() { taskset -c "$first" "$work/probe" "$SECONDS_PER" "$THRESHOLD_MS"; }

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round ($(date -u +%T)), probe on CPU $first, load on CPU $last"
  r=$(probe); echo "  idle:   $r"
  taskset -c "$last" timeout $((SECONDS_PER + 2)) yes >/dev/null &
  busy=$!
  sleep 1
  r=$(probe); echo "  yes:    $r"
  wait "$busy" || true   # timeout ends yes with status 124
  rm -rf "$work/store"
  taskset -c "$last" "$load" run -w fillrandom --threads 1 --duration $((SECONDS_PER + 3)) --warmup 1 \
    --durability none --dir "$work/store" --progress none >"$work/load.txt" 2>&1 &
  engine=$!
  sleep 2
  r=$(probe); echo "  engine: $r"
  if ! wait "$engine"; then
    echo "bench-host-floor: augur-load failed:" >&2
    cat "$work/load.txt" >&2
    exit 1
  fi
  grep -E "throughput|host CPU stolen" "$work/load.txt" | sed 's/^ */          augur-load: /'
done
