// swift-tools-version: 6.1
// Benchmarks live in their own package so `swift test` never builds or runs them.
// Run them with Benchmarks/run.sh (release builds, results in Benchmarks/results.md).

import PackageDescription

let package = Package(
    name: "AmalgamBenchmarks",
    dependencies: [.package(name: "Amalgam", path: "..")],
    targets: [
        .executableTarget(
            name: "ConversionBenchmark",
            dependencies: [.product(name: "AmalgamKernels", package: "Amalgam")]
        ),
        .executableTarget(
            name: "MergeKernelBenchmark",
            dependencies: [.product(name: "AmalgamKernels", package: "Amalgam")]
        ),
        .executableTarget(
            name: "SVDBenchmark",
            dependencies: [.product(name: "AmalgamKernels", package: "Amalgam")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
