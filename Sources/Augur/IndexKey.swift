// Index entry keys: an order-preserving encoding of (index key, primary key) pairs.
//
// An entry is stored as a record whose key is `escape(indexKey) ++ 0x00 0x01 ++ primaryKey` and
// whose value is empty. `escape` replaces every 0x00 byte by 0x00 0xFF. Comparing two entry keys
// as unsigned bytes then orders them by index key first (a shorter index key that is a prefix of
// a longer one sorts first, because its terminator 0x00 0x01 is below any escaped byte 0x00 0xFF
// and any byte ≥ 0x01) and by primary key second, so a plain sorted segment holds a local index
// and a range of index keys is a range of entry keys:
//   index keys in [lo, hi)  ⇔  entry keys in [escape(lo), escape(hi)).
enum IndexKey {
    static let terminator: [UInt8] = [0x00, 0x01]

    /// Bytes of `escape(indexKey)`.
    static func escapedCount(_ indexKey: [UInt8]) -> Int {
        var n = indexKey.count
        for b in indexKey where b == 0 { n += 1 }
        return n
    }

    /// The entry key for `indexKey` and `primaryKey`.
    static func entry(indexKey: [UInt8], primaryKey: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(escapedCount(indexKey) + 2 + primaryKey.count)
        appendEscaped(indexKey, to: &out)
        out.append(contentsOf: terminator)
        out.append(contentsOf: primaryKey)
        return out
    }

    static func entry(indexKey: [UInt8], primaryKey: [UInt8]) -> [UInt8] {
        primaryKey.withUnsafeBytes { entry(indexKey: indexKey, primaryKey: $0) }
    }

    /// `escape(indexKey)`: the smallest entry key of that index key (a scan bound).
    static func escaped(_ indexKey: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(escapedCount(indexKey))
        appendEscaped(indexKey, to: &out)
        return out
    }

    private static func appendEscaped(_ key: [UInt8], to out: inout [UInt8]) {
        for b in key {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
    }

    /// Offset of the primary key inside an entry key, or nil for a malformed entry.
    static func primaryKeyOffset(_ entry: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        while i + 1 < entry.count {
            if entry[i] == 0 {
                if entry[i + 1] == 0x01 { return i + 2 }
                if entry[i + 1] != 0xFF { return nil }
                i += 2
            } else {
                i += 1
            }
        }
        return nil
    }

    /// The primary key of an entry (a view into it), or nil for a malformed entry.
    static func primaryKey(_ entry: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let at = primaryKeyOffset(entry), at < entry.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: entry[at...])
    }

    /// Splits an entry into its index key (unescaped) and primary key.
    static func decode(_ entry: UnsafeRawBufferPointer) -> (indexKey: [UInt8], primaryKey: [UInt8])? {
        guard let at = primaryKeyOffset(entry), at < entry.count else { return nil }
        var ik: [UInt8] = []
        ik.reserveCapacity(at - 2)
        var i = 0
        while i < at - 2 {
            ik.append(entry[i])
            i += entry[i] == 0 ? 2 : 1
        }
        return (ik, Array(entry[at...]))
    }
}
