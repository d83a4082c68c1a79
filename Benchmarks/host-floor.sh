#!/usr/bin/env bash
# The host's floor under issue 19's longest-put bound (make bench-host-floor).
#
# Benchmarks/HostFloor/probe.c reads the clock in a loop pinned to the first CPU and reports the
# longest gap between two reads: time that thread did not run. It runs three ways, ROUNDS times:
#   idle     the other CPUs idle
#   yes      `yes` busy on the last CPU (no I/O, no shared memory with the probe)
#   engine   `augur-load run -w fillrandom --threads 1 --durability none`, pinned to the last CPU
# A longest gap beside `yes` well over the idle one is the host taking the virtual CPU away when
# its sibling is busy: no engine whose writer shares the machine with its own background work
# can promise a longest put below it there.
#
# Environment: ROUNDS (2), PROBE_SECONDS (45 per probe), THRESHOLD_MS (4), CC (cc, else clang).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

ROUNDS=${ROUNDS:-2}
SECONDS_PER=${PROBE_SECONDS:-45}
THRESHOLD_MS=${THRESHOLD_MS:-4}
cpus=$(nproc)
if [ "$cpus" -lt 2 ]; then
  echo "bench-host-floor: needs at least 2 CPUs (have $cpus): the probe and the load run on different ones" >&2
  exit 1
fi
last=$((cpus - 1))

cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || cc=clang
work=$(mktemp -d "${TMPDIR:-/tmp}/augur-host-floor.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$cc" -O2 -o "$work/probe" "$here/HostFloor/probe.c"

cd "$root"
swift build -c release --product augur-load >/dev/null
load="$(swift build -c release --show-bin-path)/augur-load"

probe() { taskset -c 0 "$work/probe" "$SECONDS_PER" "$THRESHOLD_MS"; }

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round ($(date -u +%T))"
  echo "  idle:   $(probe)"
  taskset -c "$last" timeout $((SECONDS_PER + 2)) yes >/dev/null &
  sleep 1
  echo "  yes:    $(probe)"
  wait || true
  rm -rf "$work/store"
  taskset -c "$last" "$load" run -w fillrandom --threads 1 --duration $((SECONDS_PER + 3)) --warmup 1 \
    --durability none --dir "$work/store" --progress none >"$work/load.txt" 2>&1 &
  sleep 2
  echo "  engine: $(probe)"
  wait
  grep -E "throughput|host CPU stolen" "$work/load.txt" | sed 's/^ */          augur-load: /'
done
