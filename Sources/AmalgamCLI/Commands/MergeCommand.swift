import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe
import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `amalgam merge RECIPE OUT`: run a mergekit recipe.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge models as a mergekit YAML recipe says, into OUT.",
        discussion: """
            The recipe is read as mergekit-yaml reads it and validated in full (methods, parameters, \
            layer ranges, tensor names and shapes, from config.json files and safetensors headers) \
            before any tensor data is read. Model paths are relative to the current directory. \
            OUT is written in a hidden folder beside it and moved into place when complete. \
            mergekit-yaml flags that do not apply here (--cuda, --lazy-unpickle, ...) are accepted \
            and ignored with a note.
            """
    )

    @Argument(help: "The recipe (mergekit YAML).")
    var recipe: String

    @Argument(help: "Output folder.")
    var output: String

    @Flag(name: .long, help: "Print the plan and a peak-memory estimate; merge nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Replace an existing non-empty output folder (only once the new one is complete).")
    var force = false

    @Option(name: .customLong("out-shard-size"), help: "Largest shard: bytes, or 500M, 5G, 5GB, 5B (mergekit's 5 billion), 2GiB.")
    var outShardSize: String = "5G"

    @Option(name: .customLong("random-seed"), help: "Seed of randomized methods (DARE, DELLA); default 0.")
    var randomSeed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Copy tokenizer and generation files from the tokenizer source.")
    var copyTokenizer = true

    @Flag(inversion: .prefixedNo, help: "Write README.md, a model card with the recipe.")
    var writeModelCard = true

    @Flag(name: .long, help: "Allow merging models of different architectures.")
    var allowCrimes = false

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Accepted for mergekit compatibility.")
    var verbose: Int

    @OptionGroup var threading: ThreadOptions

    // mergekit-yaml flags that have no meaning here: accepted so scripts run unchanged.
    @Flag(name: .long, help: .hidden) var cuda = false
    @Flag(name: .long, help: .hidden) var lowCpuMemory = false
    @Flag(name: .long, help: .hidden) var lazyUnpickle = false
    @Flag(name: .long, help: .hidden) var trustRemoteCode = false
    @Flag(name: .long, help: .hidden) var cloneTensors = false
    @Flag(name: .long, help: .hidden) var readToGpu = false
    @Flag(name: .long, help: .hidden) var multiGpu = false
    @Flag(name: .long, help: .hidden) var gpuRich = false
    @Flag(name: .long, help: .hidden) var asyncWrite = false
    @Flag(inversion: .prefixedNo, help: .hidden) var safeSerialization = true
    @Option(name: .long, help: .hidden) var device: String?
    @Option(name: .long, help: .hidden) var transformersCache: String?
    @Option(name: .long, help: .hidden) var loraMergeCache: String?
    @Option(name: .long, help: .hidden) var writeThreads: Int?
    @Option(name: [.customShort("j"), .customLong("num-threads")], help: .hidden) var numThreads: Int?

    func validate() throws {
        guard ByteCount.parse(outShardSize) != nil else {
            throw ValidationError("--out-shard-size '\(outShardSize)' is not a size (examples: 500M, 5G, 5GB, 5B, 1073741824)")
        }
        if !safeSerialization { throw ValidationError("--no-safe-serialization: Amalgam writes safetensors only") }
    }

    func run() throws {
        // Before any other thread exists (each takes its allocator arena at its first allocation);
        // a recipe that does not parse is reported below.
        let early = try? RecipeParser().parse(contentsOf: recipe)
        if let early, MergeMethodRegistry.builtIn.method(named: early.mergeMethod) is any WholeModelMergeMethod.Type {
            AmalgamRuntime.useOneAllocatorArena()
        }
        try AmalgamRuntime.run {
            let ignored = [("--cuda", cuda), ("--low-cpu-memory", lowCpuMemory), ("--lazy-unpickle", lazyUnpickle),
                           ("--trust-remote-code", trustRemoteCode), ("--clone-tensors", cloneTensors), ("--read-to-gpu", readToGpu),
                           ("--multi-gpu", multiGpu), ("--gpu-rich", gpuRich), ("--async-write", asyncWrite),
                           ("--device", device != nil), ("--transformers-cache", transformersCache != nil),
                           ("--lora-merge-cache", loraMergeCache != nil), ("--write-threads", writeThreads != nil)]
                .filter(\.1).map(\.0)
            if !ignored.isEmpty && !quiet {
                AmalgamRuntime.printError("note: \(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "has" : "have") no effect in Amalgam (CPU, streaming, safetensors); ignored")
            }
            var options = MergeOptions()
            options.maxShardBytes = ByteCount.parse(outShardSize)
            options.overwrite = force
            options.threads = numThreads.map { max(1, $0) } ?? threading.resolvedThreads
            options.seed = randomSeed
            options.copyTokenizer = copyTokenizer
            options.writeModelCard = writeModelCard
            options.allowCrimes = allowCrimes
            let parsed = try early ?? RecipeParser().parse(contentsOf: recipe)
            let plan = try Planner().plan(parsed, output: dryRun ? nil : output, options: options)
            if !quiet { for note in plan.notes { AmalgamRuntime.printError("note: \(note)") } }
            if dryRun {
                print(PlanRenderer(plan: plan, threads: options.threads).text)
                return
            }
            let reporter = ProgressReporter(quiet: quiet)
            try StreamingExecutor().execute(plan, output: output, options: options) { reporter.report($0) }
            if !quiet {
                print("merged \(plan.tensors.count) tensors with \(plan.recipe.mergeMethod) into \(output) (\(ByteCount.format(plan.outputBytes)))")
            }
        }
    }
}

/// `--dry-run` output: one line per output tensor, then totals and the memory estimate.
struct PlanRenderer {
    let plan: MergePlan
    let threads: Int

    var text: String {
        var table = TextTable([("output tensor", .left), ("shape", .left), ("dtype", .left), ("inputs", .left), ("parameters", .left)])
        for step in plan.tensors {
            let names = plan.checkpoints.map { ($0.reference as NSString).lastPathComponent }
            var inputs = step.models.map { "\(names[$0.checkpoint]):\($0.tensorName == step.name ? "" : $0.tensorName)" }
            if let base = step.base { inputs.insert("base \(names[base.checkpoint])", at: 0) }
            let global = step.global.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let perModel = step.perModel.enumerated().flatMap { i, values in
                values.sorted { $0.key < $1.key }.map { "\($0.key)[\(i)]=\($0.value)" }
            }
            table.append([step.name, step.shape.description, step.dtype.rawValue,
                          inputs.map { $0.hasSuffix(":") ? String($0.dropLast()) : $0 }.joined(separator: ", "),
                          (global + perModel).joined(separator: " ")])
        }
        return table.rendered() + "\n\n" + [
            "Method           \(plan.recipe.mergeMethod)",
            "Output tensors   \(plan.tensors.count)" + (plan.outputLayers.map { ", \($0) layers" } ?? ""),
            "Output size      \(ByteCount.format(plan.outputBytes))",
            "Peak memory      about \(ByteCount.format(plan.peakMemoryEstimate(threads: threads))) of working buffers on \(threads) thread\(threads == 1 ? "" : "s") (inputs are memory-mapped)",
        ].joined(separator: "\n")
    }
}

/// Progress on stderr: a rewritten line on a terminal, a log line per 10% otherwise.
final class ProgressReporter {
    private let quiet: Bool
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var total = 0
    private var tensors = 0
    private var start = DispatchTime.now().uptimeNanoseconds
    private var lastDecile = -1

    init(quiet: Bool) { self.quiet = quiet }

    func report(_ event: MergeProgress) {
        guard !quiet else { return }
        switch event {
        case .started(let count, let bytes):
            total = bytes
            tensors = count
            start = DispatchTime.now().uptimeNanoseconds
        case .tensorDone(let index, let name, let done):
            let seconds = max(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, 1e-9)
            let rate = Double(done) / seconds
            let eta = rate > 0 ? Double(total - done) / rate : 0
            let percent = total > 0 ? done * 100 / total : 100
            let line = "[\(index + 1)/\(tensors)] \(percent)% \(ByteCount.format(Int(rate)))/s ETA \(String(format: "%.0f", eta))s \(name)"
            if isTerminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            } else if percent / 10 > lastDecile {
                lastDecile = percent / 10
                AmalgamRuntime.printError(line)
            }
        case .finished(let seconds):
            if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            AmalgamRuntime.printError("done in \(String(format: "%.2f", seconds)) s")
        }
    }
}
