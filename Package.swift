// swift-tools-version: 6.1
// Augur: a self-partitioning embedded storage engine.
// Module layering (arrows point down) is described in docs/ARCHITECTURE.md.
import PackageDescription

let package = Package(
    name: "Augur",
    platforms: [.macOS(.v15)],
    products: [
        // The engine and the modules its public API speaks in (policies and capacity, forecasts,
        // histograms, the file-system seam and clocks), so an application imports them openly.
        .library(name: "Augur", targets: ["Augur", "AugurPlanner", "AugurForecast", "AugurStats", "AugurSys"]),
        .executable(name: "augur", targets: ["augur"]),
        .executable(name: "augur-load", targets: ["augur-load"]),
        .library(name: "AugurWorkload", targets: ["AugurWorkload"]),
        .library(name: "AugurLoadCLI", targets: ["AugurLoadCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // Transcendental functions for the pure modules (log, exp, erfc, logGamma…) without libc.
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        // Every message the library emits goes through swift-log; the engine's counters, gauges
        // and timers through swift-metrics. The library never bootstraps either (applications do).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        // C shim: system headers, liburing and libnuma, and the few things Swift cannot import
        // (macros, static inline atomics over raw memory, the SSE4.2 CRC32C instruction).
        // No unsafe flags anywhere: SwiftPM refuses them in a dependency taken by version
        // (`make example` checks). Release builds compile C at -O2 anyway.
        .target(
            name: "CAugurSys",
            path: "Sources/CAugurSys",
            linkerSettings: [.linkedLibrary("uring"), .linkedLibrary("numa")]
        ),
        // The only Swift module that calls libc, liburing and libnuma.
        .target(
            name: "AugurSys",
            dependencies: ["CAugurSys", "AugurStats", .product(name: "SystemPackage", package: "swift-system"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/AugurSys"
        ),
        // Pure: workload telemetry (key histograms, workload vectors, rolling windows, sketches).
        .target(name: "AugurStats", path: "Sources/AugurStats"),
        // Pure: online load forecasting (models, ensemble, prediction intervals).
        .target(name: "AugurForecast", dependencies: [.product(name: "RealModule", package: "swift-numerics")],
                path: "Sources/AugurForecast"),
        // Pure: capacity model and policies (static, reactive, predictive) → reshard plans.
        .target(name: "AugurPlanner", dependencies: ["AugurStats", "AugurForecast", .product(name: "RealModule", package: "swift-numerics")],
                path: "Sources/AugurPlanner"),
        // Deterministic simulator of load, partitions and policies (a simulated day in seconds).
        .target(name: "AugurSimulation", dependencies: ["AugurSys", "AugurPlanner", "AugurStats", "AugurForecast", .product(name: "RealModule", package: "swift-numerics")],
                path: "Sources/AugurSimulation"),
        // The engine: public API, WAL, partitions, segments, manifest, recovery.
        .target(
            name: "Augur",
            dependencies: ["AugurSys", "AugurStats", "AugurForecast", "AugurPlanner",
                           .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics")],
            path: "Sources/Augur"
        ),
        .executableTarget(
            name: "augur",
            dependencies: ["Augur", "AugurSys", "AugurForecast", "AugurPlanner", "AugurSimulation",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Tools/augur"
        ),
        // Workloads (YCSB, distributions, rate profiles), runner, latencies, report; knows only
        // the small KeyValueStore protocol, so the same workload runs against Augur and peers.
        // AugurForecast (pure) only for its CSV reader, CSVSeries, which replay profiles use.
        .target(name: "AugurWorkload", dependencies: ["AugurSys", "AugurStats", .product(name: "RealModule", package: "swift-numerics"), "AugurForecast", .product(name: "Histogram", package: "hdrhistogram-swift")],
                path: "Sources/AugurWorkload"),
        // augur-load's commands and the Augur adapter, a library so Benchmarks/Peers reuses them.
        .target(name: "AugurLoadCLI",
                dependencies: ["Augur", "AugurSys", "AugurWorkload", "AugurPlanner", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                path: "Tools/augur-load/Lib"),
        .executableTarget(name: "augur-load", dependencies: ["AugurLoadCLI", "AugurSys", .product(name: "Logging", package: "swift-log")],
                         path: "Tools/augur-load", exclude: ["Lib"]),
        // Crash-recovery and fault-injection harness (issue 8): the logic is a library so the
        // tests drive it in process; the executable adds the command line and the child mode.
        .target(name: "AugurCrashHarness", dependencies: ["Augur", "AugurSys", "AugurStats"], path: "Sources/AugurCrashHarness"),
        .executableTarget(
            name: "augur-crash",
            dependencies: ["AugurCrashHarness", "Augur", "AugurSys", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Tools/augur-crash"
        ),
        .executableTarget(
            name: "augur-bench",
            dependencies: ["Augur", "AugurPlanner", "AugurSys", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Histogram", package: "hdrhistogram-swift"), .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/AugurBench"
        ),
        .executableTarget(
            name: "range-copy-bench",
            dependencies: ["AugurSys", "AugurStats", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/RangeCopyBench"
        ),
        .executableTarget(
            name: "augur-forecast-bench",
            dependencies: ["AugurForecast", "AugurSys", "AugurStats", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/AugurForecastBench"
        ),
        // Key-distribution forecast (issue 16 part 3) scored on augur-load's hotspot workloads.
        .executableTarget(
            name: "augur-keyshare-bench",
            dependencies: ["AugurForecast", "AugurWorkload", "AugurStats", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/KeyShareBench"
        ),
        .executableTarget(
            name: "augur-stats-bench",
            dependencies: ["AugurStats", "AugurSys"],
            path: "Benchmarks/AugurStatsBench"
        ),
        // Fault-injecting and crash-simulating file systems live in AugurSys (the crash
        // harness uses them too); this target holds the in-memory model and test helpers.
        .target(
            name: "AugurTestSupport",
            dependencies: ["Augur", "AugurSys", "AugurStats", "AugurPlanner", .product(name: "Logging", package: "swift-log")],
            path: "Tests/AugurTestSupport"
        ),
        .testTarget(
            name: "AugurSysTests",
            dependencies: ["AugurSys", "AugurStats", "AugurTestSupport"],
            path: "Tests/AugurSysTests"
        ),
        .testTarget(name: "AugurCrashTests", dependencies: ["AugurCrashHarness", "Augur", "AugurSys", "AugurStats", "augur-crash"],
                    path: "Tests/AugurCrashTests"),
        // Runs the built `augur` and `augur-load` as processes: exit codes, messages, signals.
        .testTarget(name: "AugurToolTests", dependencies: ["augur", "augur-load", "Augur", "AugurSys", "AugurTestSupport"],
                    path: "Tests/AugurToolTests"),
        .testTarget(name: "AugurWorkloadTests", dependencies: ["AugurWorkload", "AugurLoadCLI", "AugurForecast", "AugurTestSupport"], path: "Tests/AugurWorkloadTests"),
        .testTarget(name: "AugurStatsTests", dependencies: ["AugurStats", "AugurSys"], path: "Tests/AugurStatsTests"),
        .testTarget(name: "AugurForecastTests", dependencies: ["AugurForecast", "AugurStats"], path: "Tests/AugurForecastTests"),
        .testTarget(name: "AugurPlannerTests", dependencies: ["AugurPlanner", "AugurStats", "AugurForecast"],
                    path: "Tests/AugurPlannerTests", exclude: ["testdata"]),
        .testTarget(name: "AugurSimulationTests", dependencies: ["AugurSimulation", "AugurPlanner", "AugurStats", "AugurForecast"],
                    path: "Tests/AugurSimulationTests"),
        .testTarget(
            name: "AugurTests",
            dependencies: ["Augur", "AugurSys", "AugurStats", "AugurPlanner", "AugurTestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Tests/AugurTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
