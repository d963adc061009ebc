/// Where a problem is: any of a file, a tensor, a recipe key path and a line.
public struct DiagnosticLocation: Sendable, Equatable {
    /// The file (path as the user gave it, or as resolved).
    public var file: String?
    /// The tensor name.
    public var tensor: String?
    /// A recipe key path such as `models[1].parameters.weight`.
    public var keyPath: String?
    /// 1-based line in the file.
    public var line: Int?

    public init(file: String? = nil, tensor: String? = nil, keyPath: String? = nil, line: Int? = nil) {
        self.file = file
        self.tensor = tensor
        self.keyPath = keyPath
        self.line = line
    }
}

/// The one protocol every user-facing Amalgam error conforms to, so the CLI renders them alike.
///
/// `description` is one line: the object, what was expected and what was found.
public protocol AmalgamDiagnostic: Error, CustomStringConvertible, Sendable {
    /// Where the problem is.
    var location: DiagnosticLocation { get }
    /// One actionable sentence, or nil.
    var hint: String? { get }
}

extension AmalgamDiagnostic {
    public var hint: String? { nil }
}
