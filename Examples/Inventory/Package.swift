// swift-tools-version: 6.1
// An application that depends on Augur the way any other package would (issue 17): only the
// public API of the `Augur` library product, no test hooks, no unsafe build flags.
//
// `make example` (run by `make test`) builds it against a tagged release of the repository's
// HEAD — AUGUR_PACKAGE_URL / AUGUR_PACKAGE_VERSION name it — which is what SwiftPM checks
// strictly (a versioned dependency may not use unsafe flags). Without them, e.g. when opened
// by hand, it uses the checkout it sits in.
import Foundation
import PackageDescription

// A package's identity is the last component of its URL or path (minus ".git").
let release = Context.environment["AUGUR_PACKAGE_URL"].flatMap { url in
    Context.environment["AUGUR_PACKAGE_VERSION"].flatMap(Version.init).map { (url: url, version: $0) }
}
let checkout = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let augur: Package.Dependency = release.map { .package(url: $0.url, exact: $0.version) } ?? .package(path: checkout.path)
let identity = release.map { URL(string: $0.url)!.deletingPathExtension().lastPathComponent } ?? checkout.lastPathComponent

let package = Package(
    name: "Inventory",
    platforms: [.macOS(.v15)],
    dependencies: [augur],
    targets: [
        .executableTarget(
            name: "Inventory",
            dependencies: [.product(name: "Augur", package: identity)],
            path: "Sources/Inventory"
        ),
    ]
)
