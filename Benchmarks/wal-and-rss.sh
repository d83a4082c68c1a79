#!/usr/bin/env bash
# Runs one augur-load workload in a store directory of its own and samples, every second, the
# size of its WAL directory and the process's resident memory; prints the largest of each with
# the run's throughput, latency and write amplification (docs/PERFORMANCE.md, "A bounded log and
# a memory budget").
#   Benchmarks/wal-and-rss.sh BINARY [augur-load run options…]
# e.g. Benchmarks/wal-and-rss.sh .build/release/augur-load -w a --distribution moving-hotspot \
#        --records 200000 --partitions 16 --duration 30 --durability none --threads 2
set -euo pipefail
if [ $# -lt 1 ] || [ ! -x "$1" ]; then echo "usage: $0 AUGUR_LOAD_BINARY [run options…]" >&2; exit 2; fi
bin=$1; shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/augur-walrss.XXXXXX")
store="$dir/store"
trap 'rm -rf "$dir"' EXIT
"$bin" run --dir "$store" "$@" > "$dir/out" 2>&1 &
pid=$!
wal=0; rss=0
while kill -0 "$pid" 2>/dev/null; do
  w=$(du -sb "$store/wal" 2>/dev/null | cut -f1 || true); w=${w:-0}
  r=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true); r=${r:-0}
  [ "$w" -gt "$wal" ] && wal=$w
  [ "$r" -gt "$rss" ] && rss=$r
  sleep 1
done
wait "$pid" || { echo "augur-load failed:" >&2; cat "$dir/out" >&2; exit 1; }
echo "$(basename "$bin"): largest WAL $((wal / 1048576)) MiB, largest RSS $((rss / 1024)) MiB"
grep -E "throughput|^  all |amplification" "$dir/out"
