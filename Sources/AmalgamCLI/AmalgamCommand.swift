import ArgumentParser

/// The `amalgam` command: one subcommand per verb, each in Commands/.
public struct AmalgamCommand: ParsableCommand {
    /// The version printed by `amalgam --version` and written into model cards.
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "amalgam",
        abstract: "Amalgam: a model-merging workbench for Hugging Face safetensors checkpoints.",
        version: version,
        subcommands: [
            MergeCommand.self, MethodsCommand.self, InspectCommand.self, ReshardCommand.self,
            TokenizeCommand.self, GenerateCommand.self, EvalCommand.self,
        ]
    )

    public init() {}
}

/// Options every verb that computes shares.
struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Worker threads (default: every core).")
    var threads: Int?

    var resolvedThreads: Int { max(1, threads ?? AmalgamRuntime.availableCores) }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }
}

extension AmalgamCommand {
    /// Parses the process arguments and runs the chosen verb (the executable's entry point).
    public static func runFromCommandLine() { main() }
}
