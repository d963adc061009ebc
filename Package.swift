// swift-tools-version: 6.1
//
// Amalgam: a model-merging workbench. The target list below is the architecture, lowest layer first;
// every dependency points down. See docs/architecture.md for the pipeline and the glossary.

import PackageDescription

// On x86-64 the code is generated for AVX2 and FMA (x86-64-v3: Intel Haswell, AMD Zen and later;
// LLVM's name for that level is "haswell"): the vectorized loops run twice as wide as on the
// baseline's SSE2, with the same results bit for bit (Swift does not contract a·b + c into an
// FMA). Build with AMALGAM_TARGET_CPU=x86-64 for any 64-bit x86, or name another LLVM CPU
// ("native", "znver4"); AMALGAM_TARGET_CPU= (empty) leaves the compiler's default.
// docs/performance.md has the measurements.
#if arch(x86_64)
let targetCPU = Context.environment["AMALGAM_TARGET_CPU"] ?? "haswell"
#else
let targetCPU = Context.environment["AMALGAM_TARGET_CPU"] ?? ""
#endif
let cpuSettings: [SwiftSetting] = targetCPU.isEmpty ? [] : [.unsafeFlags(["-target-cpu", targetCPU])]

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
] + cpuSettings

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
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // MARK: - C shims: the few libc entry points Swift's platform modules do not export
        .target(name: "CAmalgamShims"),

        // MARK: - BLAS and LAPACKE on Linux (Debian: libopenblas-dev, liblapacke-dev); Accelerate on Apple
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),

        // MARK: - Kernels: the audited unsafe/SIMD corner, matrix products through BLAS
        .target(
            name: "AmalgamKernels",
            dependencies: ["CAmalgamShims", .target(name: "CBLAS", condition: .when(platforms: [.linux, .android, .windows, .openbsd]))],
            swiftSettings: strictSettings
        ),

        // MARK: - Core: dtypes, shapes, tensors, tensor names, seeded randomness, diagnostics
        .target(name: "AmalgamCore", dependencies: ["AmalgamKernels"], swiftSettings: strictSettings),

        // MARK: - Checkpoint formats: safetensors (single, sharded), Hugging Face model folders
        .target(name: "AmalgamIO", dependencies: ["AmalgamCore", "AmalgamKernels", "CAmalgamShims"], swiftSettings: strictSettings),

        // MARK: - Merge methods: the protocol, the registry, one file per method family
        .target(name: "AmalgamMerge", dependencies: ["AmalgamCore", "AmalgamKernels"], swiftSettings: strictSettings),

        // MARK: - Recipes: mergekit YAML read as mergekit reads it, validated before any tensor data
        .target(
            name: "AmalgamRecipe",
            dependencies: ["AmalgamCore", "AmalgamMerge", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),

        // MARK: - Execution: planner and streaming executor
        .target(
            name: "AmalgamExecution",
            dependencies: ["AmalgamCore", "AmalgamKernels", "AmalgamIO", "AmalgamMerge", "AmalgamRecipe"],
            swiftSettings: strictSettings
        ),

        // MARK: - Tokenizers: tokenizer.json (BPE, byte-level and SentencePiece style); Foundation only
        .target(name: "AmalgamTokenizer", swiftSettings: strictSettings),

        // MARK: - Inference: Llama-family forward pass on the CPU (Float32, BLAS products, KV cache)
        .target(
            name: "AmalgamInference",
            dependencies: ["AmalgamCore", "AmalgamKernels", "AmalgamIO"],
            swiftSettings: strictSettings
        ),

        // MARK: - Evaluation: tasks, greedy generation, exact match, log-likelihood, perplexity
        .target(
            name: "AmalgamEval",
            dependencies: ["AmalgamInference", "AmalgamTokenizer", "AmalgamCore", "AmalgamKernels"],
            swiftSettings: strictSettings
        ),

        // (Later layers: AmalgamSearch, AmalgamReports, each its own target.)

        // MARK: - The command line: thin, parses and renders
        .target(
            name: "AmalgamCLI",
            dependencies: [
                "AmalgamCore", "AmalgamIO", "AmalgamKernels", "AmalgamMerge", "AmalgamRecipe", "AmalgamExecution", "CAmalgamShims",
                "AmalgamTokenizer", "AmalgamInference", "AmalgamEval",
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
            name: "AmalgamMergeTests",
            dependencies: ["AmalgamMerge", "AmalgamCore", "AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamRecipeTests",
            dependencies: ["AmalgamRecipe", "AmalgamMerge", "AmalgamCore", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamExecutionTests",
            dependencies: ["AmalgamExecution", "AmalgamRecipe", "AmalgamMerge", "AmalgamIO", "AmalgamCore", "AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamTokenizerTests",
            dependencies: ["AmalgamTokenizer", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamInferenceTests",
            dependencies: ["AmalgamInference", "AmalgamIO", "AmalgamCore", "AmalgamKernels", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamEvalTests",
            dependencies: ["AmalgamEval", "AmalgamInference", "AmalgamTokenizer", "AmalgamMerge", "AmalgamIO", "AmalgamCore", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AmalgamCLITests",
            dependencies: ["AmalgamCLI", "AmalgamIO", "AmalgamCore", "AmalgamKernels", "AmalgamMerge", "AmalgamTestSupport"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
