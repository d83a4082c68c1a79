#!/usr/bin/env bash
# Range-copy benchmark: RangeCopier's three backends against fio's sequential write.
#
#   Benchmarks/range-copy-bench.sh [--size-mib N] [--rounds N] [--queue-depth N] [--chunk-kib N]
#                                  [-- extra RangeCopyBench arguments]
#
# 1. installs fio with apt-get if it is missing (we are root on the dev machines);
# 2. builds RangeCopyBench in release mode (-j 1: the machine's 2 cores are shared);
# 3. runs it: SIZE (default 1 GiB) copied one file → one file and 16 files → one file, with
#    io_uring (the default path: chunks in the page cache copied out of it, the others read
#    direct; direct writes of each range's aligned middle), io_uring with buffered writes
#    (RangeCopier's directWrites off), copy_file_range and pread/pwrite, fdatasync (+ directory
#    fsync) at the end, ROUNDS rounds in rotating order, each round twice: with cold sources
#    (page cache dropped before every copy: the device reads and writes) and with warm ones
#    (dropped, then the sources read back in: a reshard's usual case, variants *-warm);
# 4. runs fio ROUNDS times: sequential buffered write of SIZE with the same block size (the
#    copier's chunk size), fsync at the end (end_fsync=1: fio has no end-of-job fdatasync, its
#    --fdatasync=N syncs every N writes instead; on a new file fsync and fdatasync both have to
#    commit the allocation), page cache dropped first, interleaved with the copy rounds so that
#    both see the same machine;
#    then, as the device's ceiling for a cold copy, the same fio write while a second fio job
#    reads SIZE from the single-file source (O_DIRECT, io_uring, same depth and block size);
# 5. prints a table of medians in MiB/s and the ratios io_uring / best alternative and
#    io_uring / fio.
# Data lives in tmp/range-copy-bench under the package root and is deleted on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZE_MIB=1024
ROUNDS=3
DEPTH=16
CHUNK_KIB=1024
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mib) SIZE_MIB=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --queue-depth) DEPTH=$2; shift 2 ;;
        --chunk-kib) CHUNK_KIB=$2; shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

DATA="$ROOT/tmp/range-copy-bench"
cleanup() { rm -rf "$DATA"; }
trap cleanup EXIT
mkdir -p "$DATA"

if ! command -v fio > /dev/null 2>&1; then
    echo "== installing fio"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio > /dev/null
fi

echo "== building RangeCopyBench (release)"
swift build -c release -j 1 --product range-copy-bench
BIN="$(swift build -c release -j 1 --show-bin-path)/range-copy-bench"

drop_caches() {
    sync
    if ! (echo 3 > /proc/sys/vm/drop_caches) 2> /dev/null; then
        echo "WARNING: cannot drop the page cache (not root, or /proc/sys read-only)" >&2
        return 1
    fi
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
echo "== ${SIZE_MIB} MiB, depth ${DEPTH}, chunk ${CHUNK_KIB} KiB, ${ROUNDS} rounds; each round: every copy, then fio"
echo "== fio: sequential write, ${SIZE_MIB} MiB, bs ${CHUNK_KIB} KiB, psync, end_fsync=1, new file"
: > "$DATA/bench.log"
for r in $(seq "$ROUNDS"); do
    keep=--keep
    [ "$r" -gt 1 ] && keep=--reuse
    "$BIN" --dir "$DATA/bench" --size-mib "$SIZE_MIB" --rounds 1 --round-offset $((r - 1)) $keep \
        --queue-depth "$DEPTH" --chunk-kib "$CHUNK_KIB" ${EXTRA[@]+"${EXTRA[@]}"} | tee -a "$DATA/bench.log"
    "$BIN" --dir "$DATA/bench" --size-mib "$SIZE_MIB" --rounds 1 --round-offset $((r - 1)) --reuse --warm-sources \
        --queue-depth "$DEPTH" --chunk-kib "$CHUNK_KIB" ${EXTRA[@]+"${EXTRA[@]}"} | tee -a "$DATA/bench.log"
    rm -f "$DATA/fio.dat"
    drop_caches || true
    fio --name=seqwrite --filename="$DATA/fio.dat" --rw=write --bs="${CHUNK_KIB}k" --size="${SIZE_MIB}m" \
        --ioengine=psync --end_fsync=1 --fallocate=none --output-format=json > "$DATA/fio-$r.json"
    rm -f "$DATA/fio.dat"
    python3 -c "
import json, sys
j = json.load(open('$DATA/fio-$r.json'))['jobs'][0]['write']
print('fio round $r: %.1f MiB/s (%d ms)' % (j['bw'] / 1024, j['runtime']))"
    # The device's own ceiling for a cold copy: the same write while a second job reads SIZE
    # (direct, io_uring, depth DEPTH) from the single-file source; the pair's wall time.
    if [ -f "$DATA/bench/source-single" ]; then
        drop_caches || true
        fio --name=coldread --filename="$DATA/bench/source-single" --rw=read --bs="${CHUNK_KIB}k" --size="${SIZE_MIB}m" \
            --ioengine=io_uring --iodepth="$DEPTH" --direct=1 \
            --name=seqwrite --filename="$DATA/fio.dat" --rw=write --bs="${CHUNK_KIB}k" --size="${SIZE_MIB}m" \
            --ioengine=psync --end_fsync=1 --fallocate=none --output-format=json --output="$DATA/fio-rw-$r.json" > /dev/null
        rm -f "$DATA/fio.dat"
        python3 -c "
import json
jobs = json.load(open('$DATA/fio-rw-$r.json'))['jobs']
wall = max(jobs[0]['read']['runtime'], jobs[1]['write']['runtime'])
print('fio read+write round $r: read %.1f MiB/s, write %.1f MiB/s, both done in %d ms = %.1f MiB/s per side' % (
    jobs[0]['read']['bw'] / 1024, jobs[1]['write']['bw'] / 1024, wall, $SIZE_MIB * 1000.0 / wall))"
    fi
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$DATA" "$ROUNDS" "$SIZE_MIB" <<'PY'
import json, statistics, sys
data, rounds, size_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = {}
for line in open(f"{data}/bench.log"):
    if line.startswith("RESULT\t"):
        _, variant, backend, _round, mibs, copy_s, sync_s, ok = line.rstrip("\n").split("\t")
        results.setdefault((variant, backend), []).append(float(mibs))
fio = [json.load(open(f"{data}/fio-{r}.json"))["jobs"][0]["write"]["bw"] / 1024 for r in range(1, rounds + 1)]
fio_median = statistics.median(fio)
def pair_rate(r):
    try:
        jobs = json.load(open(f"{data}/fio-rw-{r}.json"))["jobs"]
    except OSError:
        return None
    wall = max(jobs[0]["read"]["runtime"], jobs[1]["write"]["runtime"])
    return size_mib * 1000.0 / wall
fio_pair = [pair_rate(r) for r in range(1, rounds + 1)]
per_round = {}
for line in open(f"{data}/bench.log"):
    if line.startswith("RESULT\t"):
        _, variant, backend, rnd, mibs, *_ = line.rstrip("\n").split("\t")
        per_round.setdefault((variant, int(rnd)), {})[backend] = float(mibs)
backends = ["io_uring", "io_uring-buffered", "copy_file_range", "pread/pwrite"]
order = ["single", "concat16", "single-warm", "concat16-warm"]
variants = sorted({v for v, _ in results}, key=lambda v: order.index(v) if v in order else len(order))
print()
print("| variant | io_uring | io_uring, buffered writes | copy_file_range | pread/pwrite | fio write | io_uring / best alt | io_uring / fio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for v in variants:
    med = {b: statistics.median(results[(v, b)]) for b in backends if (v, b) in results}
    alts = [med[b] for b in backends[2:] if b in med]
    u = med.get("io_uring")
    cells = [f"{med[b]:.0f}" if b in med else "-" for b in backends]
    best = f"{u / max(alts):.2f}" if u and alts else "-"
    ratio = f"{u / fio_median:.2f}" if u else "-"
    print(f"| {v} | " + " | ".join(cells) + f" | {fio_median:.0f} | {best} | {ratio} |")
print()
print(f"MiB/s, medians of {rounds} rounds; per-round figures above. fio rounds: " + ", ".join(f"{x:.0f}" for x in fio))
if all(x is not None for x in fio_pair):
    print("fio write while reading as much (the device's ceiling for a cold copy), per side: "
          + ", ".join(f"{x:.0f}" for x in fio_pair) + f" (median {statistics.median(fio_pair):.0f})")
print()
print("Per round (each ratio against the alternatives and the fio run of the same round):")
print("| variant | round | io_uring | best alternative | fio | io_uring / best alt | io_uring / fio | target met | fio read+write | io_uring / fio read+write |")
print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
met = {"cold": 0, "warm": 0}
total = {"cold": 0, "warm": 0}
for (v, rnd), d in sorted(per_round.items(), key=lambda x: (order.index(x[0][0]) if x[0][0] in order else len(order), x[0][1])):
    u = d.get("io_uring")
    alts = [d[b] for b in backends[2:] if b in d]
    if u is None or not alts:
        continue
    f = fio[rnd - 1]
    ok = u >= max(alts) and u >= 0.8 * f
    state = "warm" if v.endswith("-warm") else "cold"
    met[state] += ok
    total[state] += 1
    pair = fio_pair[rnd - 1]
    pair_cells = f"{pair:.0f} | {u / pair:.2f}" if pair else "- | -"
    print(f"| {v} | {rnd} | {u:.0f} | {max(alts):.0f} | {f:.0f} | {u / max(alts):.2f} | {u / f:.2f} | {'yes' if ok else 'no'} | {pair_cells} |")
print()
for state in ("cold", "warm"):
    if total[state]:
        print(f"target (io_uring >= best alternative and >= 0.8x fio), {state} sources: met in {met[state]} of {total[state]} comparisons")
PY
