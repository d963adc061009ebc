// swift-tools-version: 6.1
//
// Amalgam: a model-merging workbench. The target list below is the architecture, lowest layer first;
// every dependency points down. See docs/architecture.md for the pipeline and the glossary.

import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Amalgam",
    products: [
        .executable(name: "amalgam", targets: ["amalgam"]),
        .library(name: "AmalgamKernels", targets: ["AmalgamKernels"]),
        .library(name: "AmalgamCore", targets: ["AmalgamCore"]),
        .library(name: "AmalgamIO", targets: ["AmalgamIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Kernels: the audited unsafe/SIMD corner (no dependencies)
        .target(name: "AmalgamKernels", swiftSettings: strictSettings),

        // MARK: - Core: dtypes, shapes, tensors, tensor names, seeded randomness, diagnostics
        .target(name: "AmalgamCore", dependencies: ["AmalgamKernels"], swiftSettings: strictSettings),

        // MARK: - Checkpoint formats: safetensors (single, sharded), Hugging Face model folders
        .target(name: "AmalgamIO", dependencies: ["AmalgamCore", "AmalgamKernels"], swiftSettings: strictSettings),

        // (Later layers: AmalgamMerge and AmalgamRecipe, AmalgamExecution, AmalgamInference,
        //  AmalgamSearch, AmalgamReports. Each arrives as its own target between IO and the CLI.)

        // MARK: - The command line: thin, parses and renders
        .target(
            name: "AmalgamCLI",
            dependencies: [
                "AmalgamCore", "AmalgamIO", "AmalgamKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "amalgam", dependencies: ["AmalgamCLI"], swiftSettings: strictSettings),

        // MARK: - Tests
        .target(
            name: "AmalgamTestSupport",
            dependencies: ["AmalgamCore", "AmalgamIO"],
            path: "Tests/AmalgamTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamKernelsTests",
            dependencies: ["AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamCoreTests",
            dependencies: ["AmalgamCore", "AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamIOTests",
            dependencies: ["AmalgamIO", "AmalgamCore", "AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamCLITests",
            dependencies: ["AmalgamCLI", "AmalgamIO", "AmalgamCore", "AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
