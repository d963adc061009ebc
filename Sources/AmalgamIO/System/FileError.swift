import AmalgamCore

/// A file-system operation that failed: which path, which operation, and the system's reason.
public struct FileError: AmalgamDiagnostic, Equatable {
    /// What was being done.
    public enum Operation: String, Sendable {
        case open, stat, map, read, write, create, rename, remove, list
    }

    /// The path involved.
    public let path: String
    /// The operation.
    public let operation: Operation
    /// The system's reason (strerror), or a sentence.
    public let reason: String

    public init(path: String, operation: Operation, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var location: DiagnosticLocation { DiagnosticLocation(file: path) }

    public var description: String { "'\(path)': cannot \(operation.rawValue): \(reason)" }
}
