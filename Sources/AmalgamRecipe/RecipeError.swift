import AmalgamCore

/// One problem in a recipe: where (key path and line) and what.
public struct RecipeProblem: Sendable, Equatable, CustomStringConvertible {
    public let keyPath: String
    public let line: Int?
    public let message: String

    public init(_ keyPath: String, line: Int?, _ message: String) {
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    /// `line 7: models[1].parameters.weight: expected a number, got "abc"`.
    public var description: String {
        (line.map { "line \($0): " } ?? "") + (keyPath.isEmpty ? "" : "\(keyPath): ") + message
    }
}

/// A recipe that cannot run: every problem found, reported together.
public struct RecipeError: AmalgamDiagnostic, Equatable {
    /// The recipe file.
    public let file: String
    /// All problems, in recipe order.
    public let problems: [RecipeProblem]

    public init(file: String, problems: [RecipeProblem]) {
        self.file = file
        self.problems = problems
    }

    public var location: DiagnosticLocation {
        DiagnosticLocation(file: file, keyPath: problems.first?.keyPath, line: problems.first?.line)
    }

    /// One line per problem, each prefixed with the file.
    public var description: String {
        problems.map { "'\(file)': \($0)" }.joined(separator: "\n")
    }
}
