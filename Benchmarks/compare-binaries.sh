#!/bin/bash
# Puts and point reads of two augur-load binaries (e.g. a base commit's release build and this
# one's), alternating, ROUNDS rounds, one run: the before/after check of a change that should
# not move the engine's speed (docs/PERFORMANCE.md).
#
#   Benchmarks/compare-binaries.sh BASE_AUGUR_LOAD HEAD_AUGUR_LOAD [ROUNDS]
#
# Prints one line per run: the workload, which binary, the round, and augur-load's summary row
# (operations, ops/s, p50, p99, p99.9, p99.99 and max in µs, errors).
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 BASE_AUGUR_LOAD HEAD_AUGUR_LOAD [ROUNDS]" >&2; exit 2; fi
BASE=$1 HEAD=$2 ROUNDS=${3:-3}
for b in "$BASE" "$HEAD"; do [ -x "$b" ] || { echo "$b: not an executable" >&2; exit 2; }; done
for r in $(seq 1 "$ROUNDS"); do
  for v in base head; do
    B=$BASE; [ $v = head ] && B=$HEAD
    echo "fillrandom $v r$r: $("$B" run -w fillrandom --threads 1 --records 2000000 --operations 2000000 --warmup 1 --durability none 2>&1 | grep -E '^\s+all\s' | head -1)"
  done
  for v in head base; do
    B=$BASE; [ $v = head ] && B=$HEAD
    echo "readrandom $v r$r: $("$B" run -w readrandom --threads 1 --records 1000000 --duration 10 --warmup 1 --durability none 2>&1 | grep -E '^\s+read\s' | head -1)"
  done
done
