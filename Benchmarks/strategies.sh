#!/usr/bin/env bash
# Partitioning strategies side by side (issue 18, part 1): each workload runs against a table
# of each strategy (augur-load --strategy), one after another in this run; then `augur advise`
# reads the workload the range run's store saved and its pick is compared with the measured
# best. Every table starts as 4 partitions (range: equal key ranges; hash: equal bucket ranges;
# composite: at the range table's cut keys), so the strategies differ in layout, not in count.
# Usage: Benchmarks/strategies.sh [seconds per run, default 15] [rounds, default 1]
# Prints a markdown table; the raw JSON of every run stays in $OUT (default .build/strategies).
set -euo pipefail
SECONDS_PER_RUN=${1:-15}
ROUNDS=${2:-1}
OUT=${OUT:-.build/strategies}
BIN=$(swift build -c release --show-bin-path)
swift build -c release --product augur-load >/dev/null
swift build -c release --product augur >/dev/null
mkdir -p "$OUT"
# workload name, augur-load arguments, composite prefix (bytes)
WORKLOADS=(
  "fillseq|-w fillseq --records 2000000|4"
  "timeseries|-w timeseries --records 2000000 --series 100|4"
  "ycsb-c|-w c --records 200000|4"
  "ycsb-e|-w e --records 200000|4"
)
echo "| workload | round | strategy | ops/s | p99 µs | advisor's pick (scores) |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  for entry in "${WORKLOADS[@]}"; do
    IFS='|' read -r name args prefix <<<"$entry"
    for strategy in range hash:16 "composite:${prefix}:16"; do
      dir="$OUT/$name-${strategy//:/_}"
      rm -rf "$dir"
      # shellcheck disable=SC2086
      "$BIN/augur-load" run $args --threads 2 --duration "$SECONDS_PER_RUN" --warmup 2 --durability none --partitions 4 \
          --strategy "$strategy" --dir "$dir" --json "$OUT/$name-${strategy//:/_}-$round.json" --progress none >/dev/null 2>&1
      read -r ops p99 < <(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["all"]; print(round(a["opsPerSecond"]), a["p99Microseconds"])' \
          "$OUT/$name-${strategy//:/_}-$round.json")
      pick=""
      if [ "$strategy" = range ]; then
        pick=$("$BIN/augur" advise --dir "$dir" | sed -n '1,2p' | tr '\n' ' ' | sed 's/table usertable: //')
      fi
      echo "| $name | $round | $strategy | $ops | $p99 | $pick |"
    done
  done
done
