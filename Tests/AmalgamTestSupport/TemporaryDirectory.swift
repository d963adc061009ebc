import Foundation

/// A fresh folder under the system temporary folder, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    // SAFETY: immutable after init.
    /// Absolute path of the folder.
    public let path: String

    public init(_ label: String = "amalgam-test") {
        let base = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(label)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the folder.
    public func child(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `bytes` to `name` inside the folder and returns its path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = child(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The names in the folder (hidden ones included), sorted.
    public func listing(_ subfolder: String? = nil) -> [String] {
        let folder = subfolder.map(child) ?? path
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }
}

/// The repository's test fixtures (`Tests/Fixtures`), located from this file (no bundle resources needed).
public enum Fixtures {
    /// `Tests/Fixtures`.
    public static func root(filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }

    /// A model folder of the mergekit fixture set: `Tests/Fixtures/mergekit/models/<relative>`.
    public static func path(_ relative: String) -> String {
        (root() as NSString).appendingPathComponent("mergekit/models/\(relative)")
    }

    /// Any file or folder under `Tests/Fixtures`.
    public static func file(_ relative: String) -> String {
        (root() as NSString).appendingPathComponent(relative)
    }

    /// The repository root.
    public static func repositoryRoot(filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}

/// The bundled testbed: tiny Llama models (`Examples/models`), task data (`Examples/tasks`) and the
/// reference outputs of Python transformers (`Tests/Fixtures/testbed/reference`).
public enum Testbed {
    public static let expertNames = ["add", "rev", "sort", "upper"]

    /// `Examples/models/<name>`.
    public static func model(_ name: String) -> String {
        (Fixtures.repositoryRoot() as NSString).appendingPathComponent("Examples/models/\(name)")
    }

    /// `Examples/tasks`.
    public static var tasks: String {
        (Fixtures.repositoryRoot() as NSString).appendingPathComponent("Examples/tasks")
    }

    /// `Tests/Fixtures/testbed/reference/<relative>`.
    public static func reference(_ relative: String) -> String {
        Fixtures.file("testbed/reference/\(relative)")
    }

    /// The JSON objects of a JSONL file.
    public static func jsonLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }
}
