import AugurSys

/// A fresh directory under /tmp, removed (recursively) when the object dies.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "augur-test") {
        do { path = try PosixFileSystem().makeTemporaryDirectory(prefix: prefix) } catch { preconditionFailure("\(error)") }
    }

    public func child(_ name: String) -> String { joinPath(path, name) }

    deinit { PosixFileSystem().removeTree(path) }
}
