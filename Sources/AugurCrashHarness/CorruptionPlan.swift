// Which corruption cases a campaign runs. A case is a base store, one of its files, a region
// of that file and a mutation aimed there. Cases are dealt round robin over every (base, file
// kind, region, mutation kind) combination the base stores have, so even a short run covers
// each one; the file, the offset and the mutation's parameters of case i come from a generator
// seeded with (seed, i) alone, so any case can be rebuilt on its own (a child process runs a
// slice of them; `--corruption-case i` replays one).
import AugurSys
import AugurStats

/// How a base store was left before it is copied and corrupted.
public enum BaseFamily: String, Sendable, CaseIterable, Comparable {
    /// `engine.close()` returned.
    case closed
    /// The process ended without closing, as in a crash (`_exit` after the last acknowledged
    /// operation; background work stops where it is).
    case abandoned
    /// A workload that keeps its files (no run merges, splits only, explicit flushes that trim
    /// the WAL), then `engine.flush()` and `engine.close()`: the WAL holds little the segments
    /// lack, so the manifest's records alone name most of the data, and an older manifest state
    /// still finds every file it names.
    case flushed

    public static func < (a: BaseFamily, b: BaseFamily) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A base store as the plan sees it: its files and their regions.
public struct BaseLayout: Sendable {
    public var family: BaseFamily
    /// Files relative to the store, sorted (WAL segments therefore oldest first).
    public var files: [String]
    public var anatomy: [String: FileAnatomy]

    public init(family: BaseFamily, store: String) {
        self.family = family
        files = storeFiles(store)
        var anatomy: [String: FileAnatomy] = [:]
        let fs = PosixFileSystem()
        for f in files {
            let bytes = (try? fs.readFile(joinPath(store, f))) ?? []
            anatomy[f] = FileAnatomy(kind: StoreFileKind.of(f)!, bytes: bytes)
        }
        self.anatomy = anatomy
    }

    /// A layout from anatomies at hand (tests).
    public init(family: BaseFamily, anatomy: [String: FileAnatomy]) {
        self.family = family
        files = anatomy.keys.sorted()
        self.anatomy = anatomy
    }

    public func files(of kind: StoreFileKind) -> [String] { files.filter { StoreFileKind.of($0) == kind } }
}

public struct CorruptionCase: Sendable, CustomStringConvertible {
    public var index: Int
    public var family: BaseFamily
    public var file: String
    public var kind: StoreFileKind
    /// nil for the mutations of the whole file.
    public var region: FileRegion?
    public var mutation: Mutation

    /// The files the mutation changes (a swap changes two).
    public var filesTouched: [String] {
        if case .swap(let other) = mutation { return [file, other] }
        return [file]
    }

    public var description: String {
        "case \(index): \(family) store, \(file) [\(region?.rawValue ?? "whole file")]: \(mutation)"
    }
}

public enum CorruptionPlan {
    struct Combination: Sendable {
        var family: BaseFamily
        var kind: StoreFileKind
        var region: FileRegion?
        var mutation: MutationKind
    }

    /// Every combination the bases offer, in a seeded order.
    static func combinations(_ bases: [BaseLayout], seed: UInt64) -> [Combination] {
        var out: [Combination] = []
        for base in bases.sorted(by: { $0.family < $1.family }) {
            for kind in StoreFileKind.allCases {
                let files = base.files(of: kind)
                if files.isEmpty { continue }
                for region in kind.regions where files.contains(where: { !(base.anatomy[$0]?.ranges[region] ?? []).isEmpty }) {
                    for m in MutationKind.inFile { out.append(Combination(family: base.family, kind: kind, region: region, mutation: m)) }
                }
                for m in MutationKind.wholeFile where m != .swap || files.count >= 2 {
                    out.append(Combination(family: base.family, kind: kind, region: nil, mutation: m))
                }
            }
        }
        var rng = SplitMix64(seed: seed ^ 0xC0DE_C0DE)
        out.shuffle(using: &rng)
        return out
    }

    /// How many distinct combinations the bases offer (a run of at least this many cases
    /// covers each one).
    public static func combinationCount(_ bases: [BaseLayout]) -> Int { combinations(bases, seed: 0).count }

    /// Case `index` of the campaign with this seed.
    public static func makeCase(_ index: Int, seed: UInt64, bases: [BaseLayout]) -> CorruptionCase? {
        let combos = combinations(bases, seed: seed)
        guard !combos.isEmpty else { return nil }
        return makeCase(index, combination: combos[index % combos.count], seed: seed, bases: bases)
    }

    /// The first `count` cases.
    public static func cases(_ count: Int, seed: UInt64, bases: [BaseLayout]) -> [CorruptionCase] {
        let combos = combinations(bases, seed: seed)
        guard !combos.isEmpty else { return [] }
        return (0..<count).compactMap { makeCase($0, combination: combos[$0 % combos.count], seed: seed, bases: bases) }
    }

    static func makeCase(_ index: Int, combination c: Combination, seed: UInt64, bases: [BaseLayout]) -> CorruptionCase? {
        guard let base = bases.first(where: { $0.family == c.family }) else { return nil }
        var rng = SplitMix64(seed: seed &+ 0x9E37_79B9 &* UInt64(index + 1))
        func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
        var files = base.files(of: c.kind)
        if let region = c.region { files = files.filter { !(base.anatomy[$0]?.ranges[region] ?? []).isEmpty } }
        guard !files.isEmpty else { return nil }
        // The newest WAL segment is where recovery decides between a torn tail and corruption:
        // aim there half the time.
        let file = c.kind == .wal && below(2) == 0 ? files.last! : files[below(files.count)]
        let sizes = [1, 8, 100, 512, 4096, 65536]
        let mutation: Mutation
        switch c.mutation {
        case .flipBit, .zeroRange, .truncate:
            let spans = base.anatomy[file]!.ranges[c.region!]!
            // A manifest's last record is where recovery decides between a torn tail and
            // corruption: aim there half the time.
            let span = c.kind == .manifest && below(2) == 0 ? spans.last! : spans[below(spans.count)]
            let offset = span.lowerBound + below(span.count)
            switch c.mutation {
            case .flipBit: mutation = .flipBit(offset: offset, bit: below(8))
            case .zeroRange: mutation = .zeroRange(offset: offset, count: 1 + below(min(4096, max(1, span.upperBound - offset))))
            default: mutation = .truncate(size: offset)
            }
        case .extendZeros: mutation = .extendZeros(count: sizes[below(sizes.count)])
        case .extendGarbage: mutation = .extendGarbage(count: sizes[below(sizes.count)], seed: rng.next())
        case .delete: mutation = .delete
        case .swap:
            let others = files.filter { $0 != file }
            guard !others.isEmpty else { return nil }
            mutation = .swap(other: others[below(others.count)])
        }
        return CorruptionCase(index: index, family: c.family, file: file, kind: c.kind, region: c.region, mutation: mutation)
    }
}
