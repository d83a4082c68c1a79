// swift-tools-version: 6.1
// augur-load with peer engines: the same load tool (AugurLoadCLI from the main package) plus
// LMDB and RocksDB adapters over Debian's C libraries (liblmdb-dev, librocksdb-dev). A separate
// package so the main build and `make test` never need RocksDB. Build and run through
// Benchmarks/bench-peers.sh (`make bench-peers`).
import PackageDescription

let package = Package(
    name: "AugurPeers",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "augur-load-peers", targets: ["augur-load-peers"]),
    ],
    dependencies: [
        // The main package, whatever its checkout directory is called.
        .package(name: "Augur", path: "../.."),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CRocksDB", path: "Sources/CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),
        .executableTarget(
            name: "augur-load-peers",
            dependencies: [
                "CLMDB", "CRocksDB",
                .product(name: "AugurLoadCLI", package: "Augur"),
                .product(name: "AugurWorkload", package: "Augur"),
            ],
            path: "Sources/augur-load-peers"
        ),
    ],
    swiftLanguageModes: [.v6]
)
