// RangeCopyBench: copies SIZE bytes with each RangeCopier backend, fdatasync at the end, and
// prints the throughput.
//
// Variants:
//   single   — one SIZE file → one file (one range);
//   concat16 — 16 files of SIZE/16 → one file, concatenated (16 ranges).
// Each copy goes to a new target file; before each copy the previous target is removed, dirty
// pages are written back and the page cache is dropped (echo 3 > /proc/sys/vm/drop_caches,
// needs root; a failure is reported and the run goes on with a warm cache). Every copy is
// checked afterwards (CRC32C of the target against the sources), outside the timed part.
//
// Usage: RangeCopyBench [--dir PATH] [--size-mib N] [--rounds N] [--queue-depth N]
//                       [--chunk-kib N] [--backends io_uring,io_uring-buffered,copy_file_range,pread/pwrite]
//                       [--variants single,concat16] [--no-drop-caches] [--link] [--no-direct]
//                       [--write-behind-mib N] [--warm-sources] [--keep] [--reuse] [--round-offset N]
// --link, --no-direct and --write-behind-mib set the RangeCopier options of the same meaning
// (defaults: not linked, direct reads of the chunks not in the page cache, no write-behind).
// "io_uring" is the default io_uring path (O_DIRECT writes of each range's aligned middle);
// "io_uring-buffered" is the same with `directWrites` off (writes through the page cache), for
// comparison in one run. --warm-sources reads the sources into the page cache after dropping it
// (a reshard's usual case: the partition was just flushed or is being read), and names the
// variants single-warm and concat16-warm.
// --keep leaves the data directory in place; --reuse also takes sources (and their checksums)
// left there by an earlier --keep run of the same size instead of writing them again.
// --round-offset numbers the rounds from N+1 (and rotates the backend order as round N+1 would),
// for scripts that run one round at a time.
// Output: a human-readable line per copy, and one tab-separated line per copy starting with
// RESULT (variant, backend, round, MiB/s, copy seconds, sync seconds) for scripts.
import ArgumentParser
import AugurSys

import AugurStats
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct Config {
    /// Scratch directory: --dir, else $TMPDIR (or /tmp) / augur-range-copy-bench. It should be on
    /// the device being measured.
    var dir = (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/augur-range-copy-bench"
    var sizeMiB = 1024
    var rounds = 1
    var queueDepth = 16
    var chunkKiB = 1024
    var backends: [String] = ["io_uring", "io_uring-buffered", "copy_file_range", "pread/pwrite"]
    static let knownVariants = ["single", "concat16"]
    var variants = ["single", "concat16"]
    var dropCaches = true
    var keep = false
    var reuse = false
    var link = false
    var direct = true
    var writeBehindMiB: Int? = nil
    var warmSources = false
    var roundOffset = 0
}

func fail(_ message: String) -> Never {
    let line = "RangeCopyBench: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

struct Arguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "range-copy-bench",
                                                    abstract: "Copies SIZE bytes with each RangeCopier backend and prints the throughput.")
    @Option(help: "Scratch directory on the device to measure (default $TMPDIR or /tmp, /augur-range-copy-bench).") var dir: String?
    @Option(name: .customLong("size-mib"), help: "Bytes to copy, MiB (a multiple of 16).") var sizeMiB = Config().sizeMiB
    @Option(help: "Rounds of every variant and backend.") var rounds = Config().rounds
    @Option(name: .customLong("queue-depth"), help: "io_uring chunks in flight.") var queueDepth = Config().queueDepth
    @Option(name: .customLong("chunk-kib"), help: "io_uring chunk size, KiB.") var chunkKiB = Config().chunkKiB
    @Option(help: "Comma-separated: io_uring, io_uring-buffered, copy_file_range, pread/pwrite.") var backends = Config().backends.joined(separator: ",")
    @Option(help: "Comma-separated: single, concat16.") var variants = Config().variants.joined(separator: ",")
    @Flag(name: .customLong("no-drop-caches"), help: "Keep the page cache between copies.") var noDropCaches = false
    @Flag(help: "Leave the data directory in place.") var keep = false
    @Flag(help: "Reuse sources left by an earlier --keep run of the same size (implies --keep).") var reuse = false
    @Flag(help: "Link each read to its write (IOSQE_IO_LINK).") var link = false
    @Flag(name: .customLong("no-direct"), help: "Read chunks through the page cache.") var noDirect = false
    @Option(name: .customLong("write-behind-mib"), help: "Start writeback every N MiB copied.") var writeBehindMiB: Int?
    @Flag(name: .customLong("warm-sources"), help: "Read the sources into the page cache after dropping it.") var warmSources = false
    @Option(name: .customLong("round-offset"), help: "Number the rounds from N+1.") var roundOffset = 0

    func validate() throws {
        for (name, v) in [("--size-mib", sizeMiB), ("--rounds", rounds), ("--queue-depth", queueDepth), ("--chunk-kib", chunkKiB)] where v <= 0 {
            throw ValidationError("\(name) needs a positive number, not \(v)")
        }
        guard sizeMiB >= 16 && sizeMiB % 16 == 0 else { throw ValidationError("--size-mib \(sizeMiB) must be a multiple of 16") }
        if let w = writeBehindMiB, w <= 0 { throw ValidationError("--write-behind-mib needs a positive number, not \(w)") }
        guard roundOffset >= 0 else { throw ValidationError("--round-offset needs a number ≥ 0, not \(roundOffset)") }
        for name in backends.split(separator: ",") where name != "io_uring-buffered" && RangeCopyBackend(rawValue: String(name)) == nil {
            throw ValidationError("unknown backend \(name)")
        }
        for name in variants.split(separator: ",") where !Config.knownVariants.contains(String(name)) {
            throw ValidationError("unknown variant \(name); known: \(Config.knownVariants.joined(separator: ","))")
        }
    }

    var config: Config {
        var c = Config()
        if let dir { c.dir = dir }
        c.sizeMiB = sizeMiB; c.rounds = rounds; c.queueDepth = queueDepth; c.chunkKiB = chunkKiB
        c.backends = backends.split(separator: ",").map(String.init)
        c.variants = variants.split(separator: ",").map(String.init)
        c.dropCaches = !noDropCaches; c.keep = keep || reuse; c.reuse = reuse; c.link = link; c.direct = !noDirect
        c.writeBehindMiB = writeBehindMiB; c.warmSources = warmSources; c.roundOffset = roundOffset
        return c
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Writes back dirty pages and drops the page cache. Returns an error text if it could not.
func dropPageCache() -> String? {
    sync()
    let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
    if fd < 0 { return "open /proc/sys/vm/drop_caches: \(String(cString: strerror(errno)))" }
    defer { close(fd) }
    let n = write(fd, "3\n", 2)
    return n == 2 ? nil : "write /proc/sys/vm/drop_caches: \(String(cString: strerror(errno)))"
}

/// Creates `path` with `size` pseudo-random bytes (incompressible, so no device or file system
/// can shortcut it) and returns their CRC32C.
func makeSource(_ fs: any FileSystem, _ path: String, size: Int, seed: UInt64, continuing start: UInt32 = 0) throws -> UInt32 {
    if fs.fileExists(path) { try fs.remove(path) }
    let h = try fs.open(path, mode: .createNew)
    defer { h.close() }
    var rng = SplitMix64(seed: seed)
    let chunk = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
    defer { buffer.deallocate() }
    var crc = start
    var at = 0
    while at < size {
        let n = min(chunk, size - at)
        var i = 0
        while i + 8 <= n { buffer.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self); i += 8 }
        let part = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        crc = CRC32C.checksum(part, continuing: crc)
        try h.write(at: at, part)
        at += n
    }
    try h.sync()
    return crc
}

func checksum(_ h: any FileHandle, size: Int) throws -> UInt32 {
    let chunk = 4 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
    defer { buffer.deallocate() }
    var crc: UInt32 = 0
    var at = 0
    while at < size {
        let n = try h.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(chunk, size - at)]))
        if n == 0 { break }
        crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), continuing: crc)
        at += n
    }
    return crc
}

/// `x` with `digits` decimals, right-aligned in 8 columns.
func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = Int((x * scale).rounded())
    var s = "\(v / Int(scale))"
    if digits > 0 {
        let frac = "\(abs(v) % Int(scale))"
        s += "." + String(repeating: "0", count: digits - frac.count) + frac
    }
    if s.count < 8 { s = String(repeating: " ", count: 8 - s.count) + s }
    return s
}

func run() throws {
    let c = Arguments.parseOrExit().config
    let fs = PosixFileSystem()
    try fs.createDirectory(parentDirectory(c.dir))
    try fs.createDirectory(c.dir)
    let size = c.sizeMiB << 20
    print("RangeCopyBench: \(c.sizeMiB) MiB, queue depth \(c.queueDepth), chunk \(c.chunkKiB) KiB, write-behind \(c.writeBehindMiB.map { "\($0) MiB" } ?? "off"), link \(c.link), direct reads \(c.direct), warm sources \(c.warmSources), rounds \(c.rounds), dir \(c.dir)")
    if let reason = RangeCopier.ioUringUnavailableReason { print("io_uring unavailable: \(reason)") }

    // Sources: one file of `size`, and 16 files of size/16.
    let t0 = now()
    var singleCRC: UInt32 = 0
    var concatCRC: UInt32 = 0
    let crcFile = joinPath(c.dir, "checksums-\(c.sizeMiB)")
    if c.reuse, fs.fileExists(crcFile) {
        let text = String(decoding: try fs.readFile(crcFile), as: UTF8.self).split(separator: " ")
        singleCRC = UInt32(text[0])!
        concatCRC = UInt32(text[1])!
        print("reusing sources in \(c.dir)")
    } else {
    if c.variants.contains("single") {
        singleCRC = try makeSource(fs, joinPath(c.dir, "source-single"), size: size, seed: 1)
    }
    if c.variants.contains("concat16") {
        for i in 0..<16 {
            concatCRC = try makeSource(fs, joinPath(c.dir, "source-\(i)"), size: size / 16, seed: 100 + UInt64(i),
                                       continuing: concatCRC)
        }
    }
    try fs.syncDirectory(c.dir)
    if c.keep && c.variants.count == 2 {
        let h = try fs.open(crcFile, mode: .create)
        try h.write(at: 0, Array("\(singleCRC) \(concatCRC)".utf8))
        h.close()
    }
    print("sources written in \(fmt(now() - t0, 2)) s")
    }

    var dropWarning: String? = nil
    for variant in c.variants {
        for round in 0..<c.rounds {
            // Rotate the order each round so no backend always goes first.
            let order = (0..<c.backends.count).map { c.backends[($0 + round + c.roundOffset) % c.backends.count] }
            for backend in order {
                let targetPath = joinPath(c.dir, "target")
                if fs.fileExists(targetPath) { try fs.remove(targetPath) }
                try fs.syncDirectory(c.dir)
                if c.dropCaches, let e = dropPageCache(), dropWarning == nil {
                    dropWarning = e
                    print("WARNING: cannot drop the page cache (\(e)); sources may be read from memory")
                }
                var sources: [any FileHandle] = []
                let target = try fs.open(targetPath, mode: .createNew)
                var ranges: [CopyRange] = []
                if variant == "single" {
                    sources = [try fs.open(joinPath(c.dir, "source-single"), mode: .readOnly)]
                    ranges = [CopyRange(source: sources[0], sourceOffset: 0, length: size, target: target, targetOffset: 0)]
                } else {
                    for i in 0..<16 {
                        sources.append(try fs.open(joinPath(c.dir, "source-\(i)"), mode: .readOnly))
                        ranges.append(CopyRange(source: sources[i], sourceOffset: 0, length: size / 16,
                                                target: target, targetOffset: i * (size / 16)))
                    }
                }
                if c.warmSources {
                    for s in sources { _ = try checksum(s, size: try s.size()) }
                }
                let choice: RangeCopier.Options.BackendChoice =
                    backend.hasPrefix("io_uring") ? .ioUring : backend == "copy_file_range" ? .copyFileRange : .readWrite
                let options = RangeCopier.Options(backend: choice, queueDepth: c.queueDepth, chunkSize: c.chunkKiB << 10,
                                                    linkReadToWrite: c.link, directReads: c.direct,
                                                    directWrites: backend != "io_uring-buffered",
                                                    writeBehind: c.writeBehindMiB.map { $0 << 20 })
                let start = now()
                let report = try RangeCopier(fileSystem: fs, options: options).copy(ranges)
                let seconds = now() - start
                let mibs = Double(size) / Double(1 << 20) / seconds
                let copyS = Double(report.copyDuration.components.seconds) + Double(report.copyDuration.components.attoseconds) / 1e18
                let syncS = Double(report.syncDuration.components.seconds) + Double(report.syncDuration.components.attoseconds) / 1e18

                // Verify (untimed).
                let crc = try checksum(target, size: size)
                let expected = variant == "single" ? singleCRC : concatCRC
                let targetSize = try target.size()
                let ok = crc == expected && targetSize == size
                sources.forEach { $0.close() }
                target.close()
                let name = c.warmSources ? variant + "-warm" : variant
                print("\(name) \(backend) round \(round + 1 + c.roundOffset): \(fmt(mibs)) MiB/s (\(fmt(seconds, 2)) s: copy \(fmt(copyS, 2)) s + fdatasync \(fmt(syncS, 2)) s)\(report.registeredBuffers == false ? " [unregistered buffers]" : "")\(report.backend == .ioUring ? " [reads: \(report.directReadChunks) direct, \(report.cachedReadChunks) cached]" : "") \(ok ? "verified" : "MISMATCH")")
                print("RESULT\t\(name)\t\(backend)\t\(round + 1 + c.roundOffset)\t\(mibs)\t\(copyS)\t\(syncS)\t\(ok ? "ok" : "mismatch")")
                if !ok { fail("\(variant) via \(backend): target does not match the sources") }
            }
        }
    }
    if !c.keep {
        for name in try fs.listDirectory(c.dir) { try fs.remove(joinPath(c.dir, name)) }
        _ = rmdir(c.dir)
    }
}

do {
    try run()
} catch {
    fail("\(error)")
}
