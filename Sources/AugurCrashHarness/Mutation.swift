// The corruption campaign's mutations: what it does to one file of a store copy. Each one
// stands for something disks, file systems and people do — a bit rotting, a range of sectors
// reading back as zeros, a file cut short or grown by a crash of the file system, a file
// deleted or two files mixed up by hand — and is applied to bytes (`applied(to:)`, pure, so a
// test can check it does exactly what it says) or to a directory (`apply(to:in:)`).
import AugurSys
import AugurStats

/// What a mutation does, without its parameters (summaries count per kind).
public enum MutationKind: String, Sendable, CaseIterable, Comparable {
    case flipBit = "flip-bit"
    case zeroRange = "zero-range"
    case truncate
    case extendZeros = "extend-zeros"
    case extendGarbage = "extend-garbage"
    case delete
    case swap

    /// Mutations aimed at a region of the file (the others act on the whole file).
    public static let inFile: [MutationKind] = [.flipBit, .zeroRange, .truncate]
    public static let wholeFile: [MutationKind] = [.extendZeros, .extendGarbage, .delete, .swap]

    public static func < (a: MutationKind, b: MutationKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public enum Mutation: Sendable, Equatable, CustomStringConvertible {
    /// Inverts bit `bit` (0 = least significant) of the byte at `offset`.
    case flipBit(offset: Int, bit: Int)
    /// Overwrites `count` bytes from `offset` with zeros (clipped at the end of the file).
    case zeroRange(offset: Int, count: Int)
    /// Cuts the file to `size` bytes (a size at or past the end leaves it unchanged).
    case truncate(size: Int)
    /// Appends `count` zero bytes.
    case extendZeros(count: Int)
    /// Appends `count` bytes of seeded noise.
    case extendGarbage(count: Int, seed: UInt64)
    /// Removes the file.
    case delete
    /// Exchanges the contents of the file with those of `other` (a path relative to the store,
    /// of the same kind).
    case swap(other: String)

    public var kind: MutationKind {
        switch self {
        case .flipBit: .flipBit
        case .zeroRange: .zeroRange
        case .truncate: .truncate
        case .extendZeros: .extendZeros
        case .extendGarbage: .extendGarbage
        case .delete: .delete
        case .swap: .swap
        }
    }

    /// The byte offset the mutation aims at (for the case's one-line description).
    public var offset: Int? {
        switch self {
        case .flipBit(let o, _), .zeroRange(let o, _): o
        case .truncate(let s): s
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .flipBit(let o, let b): "flip bit \(b) of byte \(o)"
        case .zeroRange(let o, let n): "zero \(n) bytes at \(o)"
        case .truncate(let s): "truncate to \(s) bytes"
        case .extendZeros(let n): "append \(n) zero bytes"
        case .extendGarbage(let n, let seed): "append \(n) bytes of noise (seed \(seed))"
        case .delete: "delete the file"
        case .swap(let other): "swap contents with \(other)"
        }
    }

    /// The file's new contents, or nil for the mutations that act on the directory (delete,
    /// swap). Offsets past the end leave the bytes unchanged.
    public func applied(to bytes: [UInt8]) -> [UInt8]? {
        var out = bytes
        switch self {
        case .flipBit(let o, let b):
            precondition((0..<8).contains(b), "bit must be 0...7")
            if o >= 0 && o < out.count { out[o] ^= UInt8(1) << UInt8(b) }
        case .zeroRange(let o, let n):
            let lo = max(0, min(o, out.count)), hi = max(lo, min(o + n, out.count))
            for i in lo..<hi { out[i] = 0 }
        case .truncate(let s):
            if s >= 0 && s < out.count { out.removeLast(out.count - s) }
        case .extendZeros(let n):
            out += [UInt8](repeating: 0, count: n)
        case .extendGarbage(let n, let seed):
            var rng = SplitMix64(seed: seed)
            var noise: [UInt8] = []
            noise.reserveCapacity(n + 8)
            while noise.count < n { withUnsafeBytes(of: rng.next()) { noise += $0 } }
            out += noise.prefix(n)
        case .delete, .swap:
            return nil
        }
        return out
    }

    /// Applies the mutation to `file` (a path relative to `store`) on disk.
    public func apply(to file: String, in store: String, fileSystem fs: PosixFileSystem = PosixFileSystem()) throws(HarnessError) {
        let path = joinPath(store, file)
        do throws(FileSystemError) {
            switch self {
            case .delete:
                try fs.remove(path)
            case .swap(let other):
                let a = try fs.readFile(path), b = try fs.readFile(joinPath(store, other))
                try Self.replace(path, with: b, fs)
                try Self.replace(joinPath(store, other), with: a, fs)
            default:
                try Self.replace(path, with: applied(to: try fs.readFile(path))!, fs)
            }
        } catch {
            throw .io("cannot \(self) of \(path): \(error)")
        }
    }

    /// Rewrites a file in place (same inode, as a disk would leave it).
    static func replace(_ path: String, with bytes: [UInt8], _ fs: PosixFileSystem) throws(FileSystemError) {
        let h = try fs.open(path, mode: .readWrite)
        defer { h.close() }
        try h.truncate(size: bytes.count)
        if !bytes.isEmpty { try h.write(at: 0, bytes) }
    }
}
