import AmalgamMerge
import ArgumentParser

/// `amalgam methods`: every merge method with its parameters and defaults.
struct MethodsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "methods",
        abstract: "List the merge methods, their parameters and defaults (docs/methods.md has the math)."
    )

    func run() throws {
        print(Self.listing(MergeMethodRegistry.builtIn))
    }

    static func listing(_ registry: MergeMethodRegistry) -> String {
        registry.names.compactMap(registry.method(named:)).map { method in
            var lines = ["\(method.name): \(method.summary)",
                         "  base model: \(method.baseModel.rawValue); other models: \(method.modelCount.description)"]
            for spec in method.parameters {
                let value = spec.defaultValue.map { "default \($0)" } ?? (spec.optional ? "optional" : "required")
                let range = spec.range.map { ", in [\(compact($0.lowerBound)), \(compact($0.upperBound))]" } ?? ""
                lines.append("  \(spec.name) (\(spec.scope.rawValue) \(spec.type.rawValue), \(value)\(range)): \(spec.doc)")
            }
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }
}
