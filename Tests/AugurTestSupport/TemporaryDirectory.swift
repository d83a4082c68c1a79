import AugurSys
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed (recursively) when the object dies.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "augur-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }

    public func child(_ name: String) -> String { joinPath(path, name) }

    deinit { removeTree(path) }
}

/// rm -rf, for test cleanup.
public func removeTree(_ path: String) {
    let fs = PosixFileSystem()
    if fs.isDirectory(path) {
        for name in (try? fs.listDirectory(path)) ?? [] { removeTree(joinPath(path, name)) }
        rmdir(path)
    } else {
        unlink(path)
    }
}
