#!/usr/bin/env python3
"""Independent reader of an Augur store, written from docs/FORMAT.md alone.

Usage: augur_format_reader.py STORE_DIR [--dump] [--json OUT]

Prints a summary, every anomaly ("NOTE"/"ERROR"), and optionally the logical
contents of each table (hex key -> hex value) as JSON. Exits 1 when it found an
ERROR (a store the format says is damaged or inconsistent), 0 otherwise.

Why it exists: outside checks read Augur's stores with readers built from
docs/FORMAT.md, so the document must be complete and true. This reader was
written by a reviewer who read only FORMAT.md, never the Swift sources, and
FormatReaderTests compares its view of real stores with the engine's. Keep it
that way: when the format changes, change FORMAT.md first, then this reader
from the document (not from the code).
"""
import os, sys, struct, json, re, bisect

# ---------------------------------------------------------------- CRC32C
try:
    import crc32c as _crcmod
    def crc32c(b, crc=0):
        return _crcmod.crc32c(b, crc) if crc else _crcmod.crc32c(b)
except ImportError:  # pure Python fallback
    _T = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        _T.append(c)
    def crc32c(b, crc=0):
        crc ^= 0xFFFFFFFF
        for x in b:
            crc = _T[(crc ^ x) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF

assert crc32c(b"123456789") == 0xE3069283

def masked(b):
    c = crc32c(b)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

ERRORS = []
NOTES = []
def err(msg):
    ERRORS.append(msg); print("ERROR:", msg)
def note(msg):
    NOTES.append(msg); print("NOTE:", msg)

class Malformed(Exception):
    pass

class Buf:
    def __init__(self, b, pos=0):
        self.b = b; self.p = pos
    def need(self, n):
        if self.p + n > len(self.b):
            raise Malformed("short read at %d (+%d of %d)" % (self.p, n, len(self.b)))
    def u8(self):
        self.need(1); v = self.b[self.p]; self.p += 1; return v
    def u32(self):
        self.need(4); v = struct.unpack_from("<I", self.b, self.p)[0]; self.p += 4; return v
    def u64(self):
        self.need(8); v = struct.unpack_from("<Q", self.b, self.p)[0]; self.p += 8; return v
    def raw(self, n):
        self.need(n); v = bytes(self.b[self.p:self.p + n]); self.p += n; return v
    def blob(self):
        return self.raw(self.u32())
    def string(self):
        return self.blob().decode("utf-8")
    def varint(self):
        v = 0
        for i in range(5):
            x = self.u8()
            if i == 4 and x > 0x0F:
                raise Malformed("varint fifth byte > 0x0F")
            v |= (x & 0x7F) << (7 * i)
            if not x & 0x80:
                return v
        raise Malformed("varint longer than 5 bytes")
    def done(self):
        return self.p == len(self.b)

# ---------------------------------------------------------------- manifest
def parse_runs(b, bounded):
    n = b.u32()
    runs = []
    for _ in range(n):
        name = b.string(); size = b.u64()
        lo = hi = None
        if bounded:
            flags = b.u8()
            if flags & ~3:
                raise Malformed("bounded run flags %#x" % flags)
            if flags & 1: lo = b.blob()
            if flags & 2: hi = b.blob()
            if lo is not None and hi is not None and not lo < hi:
                raise Malformed("bounded run lower >= upper")
        runs.append({"file": name, "size": size, "lo": lo, "hi": hi})
    return runs

class Manifest:
    def __init__(self):
        self.tables = {}      # id -> dict(name, kind, P, B)
        self.indexes = {}     # id -> dict(table, name)
        self.dropped_indexes = set()
        self.dropped_tables = set()
        self.parts = {}       # id -> dict
        self.counters = None
        self.wal_opened = None
        self.wal_closed = None  # (segment, frames end) of the last clean close, until an open
        self.name_checks_from = None  # files numbered at or above carry their name check
        self.reshards = {}
        self.tag_counts = {}
        self.records = 0

    def apply_edit(self, b):
        tag = b.u8()
        self.tag_counts[tag] = self.tag_counts.get(tag, 0) + 1
        if tag == 1:
            tid = b.u32(); name = b.string()
            self.tables[tid] = {"name": name, "kind": 0, "P": 0, "B": 1}
        elif tag == 2:
            tid = b.u32()
            self.tables.pop(tid, None); self.dropped_tables.add(tid)
            for pid in [p for p, v in self.parts.items() if v["table"] == tid]:
                del self.parts[pid]
            # every index of the table goes with it, as if dropped with tag 11
            for iid in [i for i, ix in self.indexes.items() if ix["table"] == tid]:
                del self.indexes[iid]; self.dropped_indexes.add(iid)
        elif tag in (3, 14):
            pid = b.u64(); tid = b.u32(); lo = b.blob(); has_up = b.u8()
            up = b.blob()          # always present; ignored when has-upper is 0
            if not has_up:
                up = None
            runs = parse_runs(b, tag == 14)
            fs = b.u64()
            self.parts[pid] = {"id": pid, "table": tid, "lo": lo, "hi": up, "runs": runs,
                               "flushed": fs, "index_runs": {}}
        elif tag == 4:
            pid = b.u64(); self.parts.pop(pid, None)
        elif tag in (5, 15):
            pid = b.u64(); runs = parse_runs(b, tag == 15); fs = b.u64()
            p = self.parts[pid]; p["runs"] = runs
            if fs < p["flushed"]:
                note("setRuns lowers flushedSeq of partition %d (%d -> %d)" % (pid, p["flushed"], fs))
            p["flushed"] = fs
        elif tag == 6:
            pid = b.u64(); fs = b.u64()
            p = self.parts[pid]
            if fs < p["flushed"]:
                note("setFlushed lowers flushedSeq of partition %d" % pid)
            p["flushed"] = max(fs, p["flushed"])
        elif tag == 7:
            self.counters = {"nextFile": b.u64(), "nextPartition": b.u64(),
                             "nextTable": b.u32(), "lastSeq": b.u64()}
        elif tag == 8:
            plan = b.u64(); tid = b.u32()
            srcs = [b.u64() for _ in range(b.u32())]
            tgts = [b.u64() for _ in range(b.u32())]
            files = [b.string() for _ in range(b.u32())]
            self.reshards[plan] = {"table": tid, "sources": srcs, "targets": tgts, "files": files}
        elif tag == 9:
            plan = b.u64(); committed = b.u8()
            self.reshards.pop(plan, None)
        elif tag == 10:
            iid = b.u32(); tid = b.u32(); name = b.string()
            self.indexes[iid] = {"table": tid, "name": name}
        elif tag == 11:
            iid = b.u32(); self.indexes.pop(iid, None); self.dropped_indexes.add(iid)
            for p in self.parts.values():
                p["index_runs"].pop(iid, None)
        elif tag == 12:
            pid = b.u64(); iid = b.u32(); runs = parse_runs(b, False); ready = b.u8()
            self.parts[pid]["index_runs"][iid] = {"runs": runs, "ready": ready}
        elif tag == 13:
            self.wal_opened = b.u64()
            self.wal_closed = None
        elif tag == 16:
            tid = b.u32(); name = b.string(); kind = b.u8(); P = b.u32(); B = b.u32()
            self.tables[tid] = {"name": name, "kind": kind, "P": P, "B": B}
        elif tag == 17:
            tid = b.u32(); kind = b.u8(); P = b.u32(); B = b.u32()
            t = self.tables[tid]; t.update(kind=kind, P=P, B=B)
        elif tag == 18:
            self.wal_closed = (b.u64(), b.u64())
        elif tag == 19:
            n = b.u64()
            self.name_checks_from = n if self.name_checks_from is None else min(n, self.name_checks_from)
        else:
            raise Malformed("unknown edit tag %d" % tag)

def read_manifest(path):
    data = open(path, "rb").read()
    m = Manifest()
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            note("manifest: torn tail (short header) at %d, %d bytes" % (pos, len(data) - pos)); break
        crc, n = struct.unpack_from("<II", data, pos)
        if pos + 8 + n > len(data):
            note("manifest: torn tail (length past end) at %d" % pos); break
        payload = data[pos + 8: pos + 8 + n]
        if masked(payload) != crc:
            note("manifest: bad CRC at %d (last record? %s)" % (pos, pos + 8 + n == len(data))); break
        try:
            b = Buf(payload)
            cnt = b.u32()
            for _ in range(cnt):
                m.apply_edit(b)
            if not b.done():
                raise Malformed("%d trailing bytes in record" % (len(payload) - b.p))
        except (Malformed, KeyError, UnicodeDecodeError) as e:
            err("manifest record at %d unparseable: %s" % (pos, e)); break
        m.records += 1
        pos += 8 + n
    return m

# ---------------------------------------------------------------- segment files
SEG_MAGIC = 0x5446474553475541
_seg_cache = {}

NAME_CHECKS_FROM = [None]   # the manifest's nameChecksFrom, set once it is read

def read_segment(path, expect_size):
    """Returns sorted list of (key, kind, value). Verifies everything FORMAT.md describes."""
    key = path
    if key in _seg_cache:
        return _seg_cache[key]
    data = open(path, "rb").read()
    name = os.path.basename(path)
    if len(data) != expect_size:
        err("%s: size %d != manifest size %d" % (name, len(data), expect_size))
    if data[:8] != b"AUGURSEG":
        err("%s: bad header magic %r" % (name, data[:8]))
    ver = struct.unpack_from("<I", data, 8)[0]
    if ver not in (1, 2): err("%s: header version %d" % (name, ver))
    if data[12:32] != bytes(20): err("%s: header padding not zero" % name)
    ft = data[-64:]
    (magic, doff, dlen, rcount, ioff, icount) = struct.unpack_from("<6Q", ft, 0)
    interval, icrc, name_check, fcrc = struct.unpack_from("<4I", ft, 48)
    if magic != SEG_MAGIC: err("%s: footer magic %#x" % (name, magic))
    if masked(ft[:60]) != fcrc: err("%s: footer CRC mismatch" % name)
    # FORMAT.md: the masked CRC32C of the file's own name (1 where that is 0); 0 checks nothing.
    expected = masked(name.encode()) or 1
    if name_check not in (0, expected):
        err("%s: footer name check %#x is not this name's %#x (another run's file)" % (name, name_check, expected))
    number = re.fullmatch(r"\d+-(\d+)\.seg", name)
    if name_check == 0 and NAME_CHECKS_FROM[0] is not None and number and int(number.group(1)) >= NAME_CHECKS_FROM[0]:
        err("%s: footer name check 0, but nameChecksFrom is %d (an older file in its place)" % (name, NAME_CHECKS_FROM[0]))
    if doff != 32: err("%s: data offset %d" % (name, doff))
    if ioff != doff + dlen: err("%s: index offset %d != %d" % (name, ioff, doff + dlen))
    if ioff + 8 * icount + 64 != len(data):
        err("%s: layout does not add up: index end %d + 64 != size %d" % (name, ioff + 8 * icount, len(data)))
    idx_bytes = data[ioff: ioff + 8 * icount]
    if masked(idx_bytes) != icrc: err("%s: index CRC mismatch" % name)
    index = list(struct.unpack_from("<%dQ" % icount, idx_bytes)) if icount else []
    exp_icount = -(-rcount // interval) if interval else None
    if exp_icount != icount: err("%s: index count %d != ceil(%d/%d)" % (name, icount, rcount, interval))
    recs = []
    p = doff; end = doff + dlen
    offsets = []
    prev = None
    region = memoryview(data)[:end]   # a varint must not read past the data region
    while p < end:
        if ver == 2:
            # u32 CRC | u8 kind | varint key length | varint value length
            if p + 7 > end: err("%s: short record header at %d" % (name, p)); break
            crc, kind = struct.unpack_from("<IB", data, p)
            b = Buf(region, p + 5)
            try:
                klen = b.varint(); vlen = b.varint()
            except Malformed as e:
                err("%s: record header at %d: %s" % (name, p, e)); break
            hdr = b.p - p
        else:
            if p + 13 > end: err("%s: short record header at %d" % (name, p)); break
            crc, kind, klen, vlen = struct.unpack_from("<IBII", data, p)
            hdr = 13
        if p + hdr + klen + vlen > end: err("%s: record past data end at %d" % (name, p)); break
        if masked(data[p + 4: p + hdr + klen + vlen]) != crc:
            err("%s: record CRC mismatch at %d" % (name, p))
        if kind not in (1, 2): err("%s: kind %d at %d" % (name, kind, p))
        if klen < 1: err("%s: empty key at %d" % (name, p))
        k = data[p + hdr: p + hdr + klen]; v = data[p + hdr + klen: p + hdr + klen + vlen]
        if prev is not None and not prev < k: err("%s: keys not strictly increasing at %d" % (name, p))
        prev = k
        offsets.append(p - doff)
        recs.append((bytes(k), kind, bytes(v)))
        p += hdr + klen + vlen
    if len(recs) != rcount: err("%s: record count %d != footer %d" % (name, len(recs), rcount))
    if interval:
        exp = offsets[::interval]
        if exp != index:
            err("%s: index entries differ from record offsets (first diff at %s)" % (
                name, next((i for i, (a, b) in enumerate(zip(exp, index)) if a != b), "len")))
    _seg_cache[key] = recs
    return recs

def run_records(store, run):
    fname = run["file"]
    path = os.path.join(store, "seg", fname)   # names are relative to seg/
    if not os.path.exists(path): path = None
    if path is None:
        err("run file %s missing" % fname); return []
    recs = read_segment(path, run["size"])
    lo, hi = run["lo"], run["hi"]
    if lo is None and hi is None:
        return recs
    return [r for r in recs if (lo is None or r[0] >= lo) and (hi is None or r[0] < hi)]

# ---------------------------------------------------------------- WAL
def parse_ops(payload, count, version):
    b = Buf(payload)
    ops = []
    for _ in range(count):
        if version == 2:
            kind = b.u8(); tid = b.varint(); klen = b.varint(); vlen = b.varint()
        else:
            kind = b.u8(); tid = b.u32(); klen = b.u32(); vlen = b.u32()
        if kind not in (1, 2): raise Malformed("op kind %d" % kind)
        if klen < 1: raise Malformed("empty key")
        k = b.raw(klen); v = b.raw(vlen)
        if kind == 2 and vlen != 0: note("delete with non-empty value")
        ops.append((kind, tid, k, v))
    if not b.done():
        raise Malformed("%d payload bytes after %d operations" % (len(payload) - b.p, count))
    return ops

def read_wal_segment(path, segno):
    data = open(path, "rb").read()
    size = len(data)
    name = os.path.basename(path)
    info = {"name": name, "no": segno, "size": size, "version": 1, "header": None,
            "seal": None, "frames": [], "bad": None, "end": 0, "markers": []}
    pos = 0
    while pos + 24 <= size:
        crc, n = struct.unpack_from("<II", data, pos)
        if n == 0:
            if data[pos:] != bytes(size - pos):
                tail = data[pos:]
                nz = len(tail) - len(tail.lstrip(b"\0"))
                info["bad"] = (pos, "zero length word followed by non-zero byte at +%d" % nz)
            info["end"] = pos
            break
        if pos + 24 + n > size:
            info["bad"] = (pos, "length %d past end" % n); info["end"] = pos; break
        if masked(data[pos + 8: pos + 24 + n]) != crc:
            info["bad"] = (pos, "checksum mismatch"); info["end"] = pos; break
        seq, count, dp = struct.unpack_from("<QII", data, pos + 8)
        payload = data[pos + 24: pos + 24 + n]
        if count == 0:
            mk = struct.unpack_from("<I", payload, 0)[0]
            if seq != 0: note("%s: marker at %d with sequence %d" % (name, pos, seq))
            if mk == 1:
                if pos != 0: err("%s: header marker at %d" % (name, pos))
                _, ver, sno, fsize, first = struct.unpack_from("<IIQQQ", payload, 0)
                if n != 32: err("%s: header payload %d bytes" % (name, n))
                info["header"] = {"version": ver, "segno": sno, "fsize": fsize, "first": first, "dp": dp}
                info["version"] = ver
                if ver not in (1, 2): err("%s: WAL version %d" % (name, ver))
                if sno != segno: err("%s: header names segment %d" % (name, sno))
                if fsize != size: err("%s: header file size %d != %d" % (name, fsize, size))
            elif mk == 2:
                _, reason, off = struct.unpack_from("<IIQ", payload, 0)
                if n != 16: err("%s: seal payload %d bytes" % (name, n))
                if off != pos: err("%s: seal says offset %d, is at %d" % (name, off, pos))
                info["seal"] = {"reason": reason, "offset": pos, "dp": dp}
            else:
                err("%s: unknown marker %d at %d" % (name, mk, pos))
            info["markers"].append((pos, mk))
        else:
            try:
                ops = parse_ops(payload, count, info["version"])
            except Malformed as e:
                err("%s: intact frame at %d with malformed operation: %s" % (name, pos, e)); ops = []
            info["frames"].append({"off": pos, "seq": seq, "count": count, "dp": dp, "ops": ops,
                                   "len": n})
            if info["seal"] is not None:
                err("%s: frame after seal at %d" % (name, pos))
        pos += (24 + n + 7) & ~7
        info["end"] = pos
    if info["seal"] is not None:
        so = info["seal"]["offset"]
        if so + 40 > size: err("%s: seal does not fit" % name)
    # after the end: everything should be zero
    if info["bad"] is None and info["end"] < size and data[info["end"]:] != bytes(size - info["end"]):
        info["bad"] = (info["end"], "non-zero bytes after the last frame")
    if info["bad"] is not None:
        classify_bad(info, data)
    info["max_seq"] = max((fr["seq"] + fr["count"] - 1 for fr in info["frames"]), default=0)
    return info

def cut_short_seal(data, bad, size):
    """FORMAT.md 'Recovery': a seal a crash cut short at `bad` (the end of the segment)."""
    if bad + 40 > size or data[bad + 40:] != bytes(size - bad - 40):
        return False
    n, cnt, mk, off = (struct.unpack_from("<I", data, bad + 4)[0], struct.unpack_from("<I", data, bad + 16)[0],
                       struct.unpack_from("<I", data, bad + 24)[0], struct.unpack_from("<Q", data, bad + 32)[0])
    return n in (0, 16) and cnt == 0 and mk in (0, 2) and off in (0, bad)

def data_end(data):
    """The offset after the last non-zero byte."""
    return len(data.rstrip(b"\0"))

def classify_bad(info, data):
    """FORMAT.md 'Recovery': torn tail unless a later seal or a later intact frame whose
    durable prefix lies beyond the bad frame (and not beyond itself) proves it had been complete."""
    bad = info["bad"][0]; size = len(data)
    if cut_short_seal(data, bad, size):
        info["bad_class"] = "cut-short seal"; return
    min_op = 13 if info["version"] == 1 else 4
    proof = None
    for off in range(bad + 8, min(data_end(data), size - 24), 8):
        crc, n = struct.unpack_from("<II", data, off)
        if n == 0 or off + 24 + n > size: continue
        seq, count, dp = struct.unpack_from("<QII", data, off + 8)
        is_seal = count == 0 and n == 16 and struct.unpack_from("<I", data, off + 24)[0] == 2
        proves = count > 0 and bad < dp * 8 <= off and count * min_op <= n
        if not (is_seal or proves) or masked(data[off + 8: off + 24 + n]) != crc: continue
        proof = "seal at %d" % off if is_seal else "intact frame at %d with durable prefix %d" % (off, dp * 8)
        break
    info["bad_class"] = "corruption (%s)" % proof if proof else "torn tail"

def sync_proof(seg, wal_opened=None, wal_closed=None):
    """FORMAT.md 'Recovery': proof that the segment before `seg` was synced whole — `seg`
    numbered at or below the segment of the manifest's walClosed or its walOpened (whatever its
    header), or, walking `seg`'s
    frames in order from offset 56 up to the first bad or empty one, a frame of operations
    whose durable prefix lies past the header, or an intact seal (none without a valid header)."""
    if seg is not None and wal_closed is not None and seg["no"] <= wal_closed[0]:
        return "%s is at or below walClosed's segment %d" % (seg["name"], wal_closed[0])
    if seg is not None and wal_opened is not None and seg["no"] <= wal_opened:
        return "%s is at or below walOpened %d" % (seg["name"], wal_opened)
    if seg is None or seg["header"] is None:
        return None
    for fr in seg["frames"]:   # the intact frames before the first bad or empty one
        if fr["count"] > 0 and fr["dp"] * 8 > 56:
            return "%s frame at %d has durable prefix %d" % (seg["name"], fr["off"], fr["dp"] * 8)
    if seg["seal"] is not None:   # reached by the walk: it stops at the first bad frame
        return "%s is sealed at %d" % (seg["name"], seg["seal"]["offset"])
    return None

def read_wal(store):
    d = os.path.join(store, "wal")
    segs = []
    for f in os.listdir(d) if os.path.isdir(d) else []:
        mm = re.fullmatch(r"(\d{12,})\.wal", f)
        # FORMAT.md: zero-padded to twelve digits, no other leading zero; else a foreign file.
        if not mm or "%012d.wal" % int(mm.group(1)) != f:
            note("foreign file in wal/: %s" % f); continue
        segs.append((int(mm.group(1)), f))
    segs.sort()
    return [read_wal_segment(os.path.join(d, f), n) for n, f in segs]

# ---------------------------------------------------------------- keys
def user_key(table, pk):
    if table["kind"] == 0:
        return pk
    P = table["P"]
    return pk[:P] + pk[P + 2:]

def check_partition_key(table, pk):
    if table["kind"] == 0: return True
    P, B = table["P"], table["B"]
    bucket = struct.unpack(">H", pk[P:P + 2])[0]
    return bucket == crc32c(pk[P + 2:]) % B

def in_range(k, lo, hi):
    return k >= lo and (hi is None or k < hi)

# ---------------------------------------------------------------- main
def main():
    args = sys.argv[1:]
    store = args[0]
    dump = "--dump" in args
    out_json = args[args.index("--json") + 1] if "--json" in args else None
    cur = open(os.path.join(store, "CURRENT"), "rb").read()
    if not cur.endswith(b"\n") or b"\n" in cur[:-1]:
        err("CURRENT is not a single line ending in newline: %r" % cur)
    mname = cur.decode().strip()
    if not re.fullmatch(r"MANIFEST-\d{6,}", mname): err("CURRENT names %r" % mname)
    m = read_manifest(os.path.join(store, mname))
    NAME_CHECKS_FROM[0] = m.name_checks_from
    print("manifest %s: %d records, tags %s" % (mname, m.records, dict(sorted(m.tag_counts.items()))))
    print("counters", m.counters, "walOpened", m.wal_opened, "walClosed", m.wal_closed, "nameChecksFrom", m.name_checks_from)
    for tid, t in sorted(m.tables.items()):
        print("table %d %r kind=%d P=%d B=%d" % (tid, t["name"], t["kind"], t["P"], t["B"]))
    for iid, ix in sorted(m.indexes.items()):
        print("index %d %r on table %d" % (iid, ix["name"], ix["table"]))
    print("dropped tables %d, dropped indexes %d" % (len(m.dropped_tables), len(m.dropped_indexes)))
    print("pending reshards %d" % len(m.reshards))
    parts_by_table = {}
    for p in m.parts.values():
        parts_by_table.setdefault(p["table"], []).append(p)
    for tid in parts_by_table:
        parts_by_table[tid].sort(key=lambda p: p["lo"])
        ps = parts_by_table[tid]
        # partitions should tile the key space
        if ps[0]["lo"] != b"": note("table %d: first partition lower %r" % (tid, ps[0]["lo"]))
        for a, b2 in zip(ps, ps[1:]):
            if a["hi"] != b2["lo"]: err("table %d: partitions %d/%d do not abut" % (tid, a["id"], b2["id"]))
        if ps[-1]["hi"] is not None: note("table %d: last partition has upper bound" % tid)
    nruns = sum(len(p["runs"]) for p in m.parts.values())
    nbounded = sum(1 for p in m.parts.values() for r in p["runs"] if r["lo"] is not None or r["hi"] is not None)
    print("partitions %d, runs %d (bounded %d)" % (len(m.parts), nruns, nbounded))

    # ---- base state from runs: per partition dict key -> (kind, value)
    state = {}  # (kind 'T'|'I', id, pid) -> {key: (kind, value, source)}
    referenced = set()
    for p in m.parts.values():
        d = {}
        for run in p["runs"]:  # newest first: first run holding the key wins
            referenced.add(run["file"])
            for k, kind, v in run_records(store, run):
                if not in_range(k, p["lo"], p["hi"]):
                    err("partition %d: run %s holds key outside the partition" % (p["id"], run["file"]))
                if k not in d:
                    d[k] = (kind, v, "run")
        state[("T", p["table"], p["id"])] = d
        for iid, ir in p["index_runs"].items():
            di = {}
            for run in ir["runs"]:
                referenced.add(run["file"])
                for k, kind, v in run_records(store, run):
                    if k not in di: di[k] = (kind, v, "run")
            state[("I", iid, p["id"])] = di
    segdir = os.path.join(store, "seg")
    on_disk = set(os.listdir(segdir)) if os.path.isdir(segdir) else set()
    unref = sorted(on_disk - {os.path.basename(f) for f in referenced})
    if unref: note("unreferenced files in seg/: %s" % unref[:10])
    for f in referenced:
        mm = re.fullmatch(r"(\d+)-(\d+)\.seg", os.path.basename(f))
        if not mm: note("run file name %r not <p>-<f>.seg" % f)

    # ---- WAL
    wal = read_wal(store)
    print("WAL segments: %d" % len(wal))
    prev_no = None
    for s in wal:
        h = s["header"]
        print("  %s v%d header=%s seal=%s frames=%d end=%d bad=%s" % (
            s["name"], s["version"], None if h is None else {k: h[k] for k in ("segno", "first", "dp")},
            s["seal"], len(s["frames"]), s["end"], s["bad"]))
        if prev_no is not None and s["no"] != prev_no + 1: err("WAL numbers not consecutive at %s" % s["name"])
        prev_no = s["no"]
        if h is not None:
            for fr in s["frames"]:
                if fr["seq"] < h["first"]:
                    err("%s: frame seq %d below header first %d" % (s["name"], fr["seq"], h["first"]))
    if wal and m.wal_opened is not None and wal[-1]["no"] < m.wal_opened:
        err("newest WAL segment %d older than walOpened %d" % (wal[-1]["no"], m.wal_opened))
    if wal and wal[0]["header"] and m.parts:
        lowest = min(p["flushed"] for p in m.parts.values())
        if wal[0]["header"]["first"] > lowest + 1:
            err("oldest WAL segment first seq %d > lowest flush mark %d + 1" % (wal[0]["header"]["first"], lowest))
    # FORMAT.md 'Recovery': which segments replay applies. A torn tail in an older segment
    # (or an older segment whose last frames never reached the disk) ends the replay there:
    # the later segments are set aside, their operations not applied.
    replayed = list(wal)
    for i, s in enumerate(wal):
        newest = i == len(wal) - 1
        nxt = None if newest else wal[i + 1]
        if s["seal"] and s["seal"]["reason"] == 1 and newest:
            err("%s sealed rolled but has no successor" % s["name"])
        if m.wal_closed is not None and s["no"] == m.wal_closed[0]:
            # FORMAT.md 'Recovery': a clean close synced the frames through walClosed's offset.
            stops = [x for x in (s["bad"] and s["bad"][0], s["seal"] and s["seal"]["offset"]) if x is not None]
            ends = min(stops) if stops else s["end"]
            if ends < m.wal_closed[1]:
                err("%s: frames end at %d, but the store was closed cleanly with them synced through %d (walClosed):"
                    " WAL corruption; the engine must refuse to open" % (s["name"], ends, m.wal_closed[1]))
        if s["bad"]:
            note("%s: bad frame %s: %s" % (s["name"], s["bad"], s.get("bad_class")))
            if s["bad_class"] == "torn tail" and not newest:
                proof = sync_proof(nxt, m.wal_opened, m.wal_closed)
                if proof:
                    s["bad_class"] = "corruption (torn in an older segment, but %s)" % proof
            if s["bad_class"].startswith("corruption"):
                err("%s: WAL corruption; the engine (tolerateTornTail) must refuse to open" % s["name"])
            elif s["bad_class"] == "torn tail" and not newest:
                replayed = wal[:i + 1]
                note("torn tail in an older segment: %s set aside" % [w["name"] for w in wal[i + 1:]])
                break
        elif (not newest and s["seal"] is None and s["frames"] and nxt["header"] is not None
              and nxt["header"]["first"] > s["max_seq"] + 1):
            proof = sync_proof(nxt, m.wal_opened, m.wal_closed)
            if proof:
                err("%s: no seal and its end lost, but %s: WAL corruption; the engine must refuse to open" % (s["name"], proof))
                break
            replayed = wal[:i + 1]
            note("%s: no seal, its end lost (next segment starts at %d, its last sequence %d): %s set aside" % (
                s["name"], nxt["header"]["first"], s["max_seq"], [w["name"] for w in wal[i + 1:]]))
            break

    # route WAL ops
    parts_sorted = {tid: (ps, [p["lo"] for p in ps]) for tid, ps in parts_by_table.items()}
    def route(tid, pk):
        ps, los = parts_sorted[tid]
        i = bisect.bisect_right(los, pk) - 1
        p = ps[i]
        assert in_range(pk, p["lo"], p["hi"]), (pk, p["lo"], p["hi"])
        return p
    def primary_of_entry(ek):
        i = 0
        while True:
            j = ek.index(b"\x00", i)
            nx = ek[j + 1]
            if nx == 0xFF: i = j + 2; continue
            if nx == 0x01: return ek[j + 2:]
            raise Malformed("bad escape in index entry key")
    wal_latest = {}  # (sk) -> key -> (seq, kind, value)
    nops = applied = skipped_flushed = skipped_dropped = 0
    maxseq = 0
    seqs_seen = set()
    for s in replayed:
        for fr in s["frames"]:
            for i, (kind, tid, k, v) in enumerate(fr["ops"]):
                seq = fr["seq"] + i
                nops += 1
                maxseq = max(maxseq, seq)
                if seq in seqs_seen: err("duplicate sequence %d" % seq)
                seqs_seen.add(seq)
                if m.counters and tid >= m.counters["nextTable"]:
                    err("WAL op id %d >= next table id" % tid)
                if tid in m.dropped_indexes or tid in m.dropped_tables:
                    skipped_dropped += 1; continue
                if tid not in m.tables and tid not in m.indexes and m.counters and tid < m.counters["nextTable"]:
                    skipped_dropped += 1; continue   # dropped before the manifest's snapshot
                if tid in m.tables:
                    p = route(tid, k); sk = ("T", tid, p["id"])
                elif tid in m.indexes:
                    ttid = m.indexes[tid]["table"]
                    p = route(ttid, primary_of_entry(k)); sk = ("I", tid, p["id"])
                else:
                    note("WAL op names unknown id %d" % tid); continue
                if seq <= p["flushed"]:
                    skipped_flushed += 1; continue
                d = wal_latest.setdefault(sk, {})
                old = d.get(k)
                if old is None or old[0] < seq:
                    d[k] = (seq, kind, v)
                applied += 1
    print("WAL ops %d, above flush mark %d, below/at flush mark %d, dropped ids %d, max seq %d" % (
        nops, applied, skipped_flushed, skipped_dropped, maxseq))
    if m.counters and maxseq and m.counters["lastSeq"] > maxseq:
        note("manifest lastSeq %d > max WAL seq %d" % (m.counters["lastSeq"], maxseq))
    for sk, d in wal_latest.items():
        base = state.setdefault(sk, {})
        for k, (seq, kind, v) in d.items():
            base[k] = (kind, v, "wal")

    # ---- logical contents
    result = {}
    for tid, t in sorted(m.tables.items()):
        out = {}
        for p in parts_by_table.get(tid, []):
            for pk, (kind, v, src) in state.get(("T", tid, p["id"]), {}).items():
                if kind != 1: continue
                if not check_partition_key(t, pk): err("table %d: key %r not in its bucket" % (tid, pk))
                uk = user_key(t, pk)
                if uk in out: err("table %d: duplicate user key %r" % (tid, uk))
                out[uk] = v
        result[t["name"]] = dict(sorted(out.items()))
        print("table %r: %d live keys" % (t["name"], len(out)))
    for iid, ix in sorted(m.indexes.items()):
        n = 0
        for p in m.parts.values():
            n += sum(1 for (kind, _, _) in state.get(("I", iid, p["id"]), {}).values() if kind == 1)
        print("index %r: %d live entries" % (ix["name"], n))
        result["#index:" + ix["name"]] = {}
        for p in m.parts.values():
            for k, (kind, v, _) in state.get(("I", iid, p["id"]), {}).items():
                if kind == 1: result["#index:" + ix["name"]][k] = v
    print("errors: %d, notes: %d" % (len(ERRORS), len(NOTES)))
    if out_json:
        with open(out_json, "w") as f:
            json.dump({name: {k.hex(): v.hex() for k, v in kv.items()} for name, kv in result.items()}, f)
    if dump:
        for name, kv in result.items():
            for k, v in kv.items():
                print(name, k.hex(), v.hex())

if __name__ == "__main__":
    main()
    sys.exit(1 if ERRORS else 0)
