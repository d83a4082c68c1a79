// The process environment, read (libc stays in this module).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

package enum Environment {
    /// The value of the environment variable `name`, or nil when it is not set (getenv).
    package static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
