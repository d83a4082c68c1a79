#!/usr/bin/env bash
# Compare Augur with LMDB and RocksDB on the same workloads (make bench-peers).
#
# Installs liblmdb-dev and librocksdb-dev when missing (apt-get), builds the peers package in
# Benchmarks/Peers (release, -j 1), then runs `augur-load-peers compare` for fillrandom,
# readrandom and YCSB-A. Each engine gets a fresh temporary store; durability is `none` for all
# three (no fsync on the write path) unless DURABILITY says otherwise.
#
# Two views of each peer (issue 19): `lmdb` and `rocksdb` as a naive caller uses them (a read
# transaction per get; default options), `lmdb-best` and `rocksdb-best` as their best users do
# (reused read transactions; the tuning guide's bloom filter, block cache and compaction options).
#
# Environment: THREADS (2), RECORDS (200000), DURATION (20 s measured), WARMUP (3 s),
# DURABILITY (none), WORKLOADS ("fillrandom readrandom a"),
# ENGINES ("augur,lmdb,lmdb-best,rocksdb,rocksdb-best"), OUT (Benchmarks/Peers/.build/results).
# Extra arguments are passed to every compare run (e.g. --value-size 1000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing=""
for p in liblmdb-dev librocksdb-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bench-peers: installing:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

cd "$here/Peers"
# SwiftPM keeps the main package's file list (a path dependency) from the last build here: a
# source file added to it since was left out ("cannot find 'SharedRunOrder' in scope", 2026-12-06).
# Dropping the cached build description makes it list them again; nothing compiled is lost.
rm -f .build/*/release/description.json .build/release.yaml
swift build -c release -j 1 --product augur-load-peers
bin="$(swift build -c release --show-bin-path)/augur-load-peers"

THREADS=${THREADS:-2}
RECORDS=${RECORDS:-200000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
DURABILITY=${DURABILITY:-none}
WORKLOADS=${WORKLOADS:-"fillrandom readrandom a"}
ENGINES=${ENGINES:-augur,lmdb,lmdb-best,rocksdb,rocksdb-best}
OUT=${OUT:-$here/Peers/.build/results}
mkdir -p "$OUT"

for w in $WORKLOADS; do
  echo
  echo "=== $w: $THREADS threads, $RECORDS records, ${DURATION}s measured after ${WARMUP}s warm-up, durability $DURABILITY ==="
  "$bin" compare --engines "$ENGINES" -w "$w" --threads "$THREADS" --records "$RECORDS" \
    --duration "$DURATION" --warmup "$WARMUP" --durability "$DURABILITY" --progress plain --progress-interval 10 \
    --json "$OUT/compare-$w.json" "$@" | tee "$OUT/compare-$w.txt"
done
echo
echo "bench-peers: results in $OUT"
