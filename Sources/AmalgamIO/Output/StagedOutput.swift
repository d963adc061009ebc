// Output is built in a hidden folder beside the destination and moved into place only when
// complete, so a failure, a crash or Ctrl-C never leaves a partial model where a finished one is
// expected, and an existing output is replaced (with --force) only by a complete new one.
//
//   <parent>/.<name>.amalgam-partial-<pid>-<random>/   while writing
//   <parent>/<name>/                                   after commit (rename(2), atomic)

import Foundation

/// A hidden staging folder that becomes the output folder on ``commit()``.
public final class StagedOutput: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because the mutable `state` is guarded by `lock`.
    /// Where the finished output goes.
    public let destination: String
    /// The hidden folder being written.
    public let stagingPath: String
    private let overwrite: Bool
    private let lock = NSLock()
    private var state: State = .open

    private enum State { case open, committed, discarded }

    /// Checks the destination and creates the staging folder.
    ///
    /// - Parameter overwrite: replace an existing non-empty destination on commit (`--force`).
    /// - Throws: ``CheckpointError/outputExists(path:)`` when the destination is in use and
    ///   `overwrite` is false; ``FileError`` when the staging folder cannot be made.
    public init(destination: String, overwrite: Bool) throws {
        let absolute = URL(fileURLWithPath: destination).standardizedFileURL.path
        self.destination = absolute
        self.overwrite = overwrite
        if !overwrite, Self.isInUse(absolute) { throw CheckpointError.outputExists(path: destination) }
        let parent = (absolute as NSString).deletingLastPathComponent
        let name = (absolute as NSString).lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: parent, operation: .create, reason: error.localizedDescription)
        }
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        stagingPath = (parent as NSString).appendingPathComponent(".\(name).amalgam-partial-\(FileSystem.processID)-\(suffix)")
        try FileSystem.makeDirectory(stagingPath)
        PartialOutputs.shared.register(stagingPath)
    }

    deinit { discard() }

    /// A path inside the staging folder.
    public func path(for fileName: String) -> String { (stagingPath as NSString).appendingPathComponent(fileName) }

    /// Whether `path` exists as a file or a non-empty folder.
    static func isInUse(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return false }
        guard isDirectory.boolValue else { return true }
        return !((try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty ?? false)
    }

    /// Moves the staging folder into place, replacing what was there (only when `overwrite`).
    ///
    /// - Throws: ``CheckpointError/outputExists(path:)`` if the destination was filled meanwhile,
    ///   ``FileError`` if a rename fails; the previous output is then restored.
    public func commit() throws {
        lock.lock()
        defer { lock.unlock() }
        precondition(state == .open, "StagedOutput committed twice or after discard")
        var old: String?
        if FileManager.default.fileExists(atPath: destination) {
            if Self.isInUse(destination) {
                guard overwrite else { throw CheckpointError.outputExists(path: destination) }
                let previous = stagingPath.replacingOccurrences(of: ".amalgam-partial-", with: ".amalgam-previous-")
                try FileSystem.rename(destination, to: previous)
                old = previous
            }
        }
        do {
            try FileSystem.rename(stagingPath, to: destination)
        } catch {
            if let old { try? FileSystem.rename(old, to: destination) }
            throw error
        }
        state = .committed
        PartialOutputs.shared.unregister(stagingPath)
        if let old { try? FileManager.default.removeItem(atPath: old) }
    }

    /// Deletes the staging folder (no effect after commit).
    public func discard() {
        lock.lock()
        defer { lock.unlock() }
        guard state == .open else { return }
        state = .discarded
        try? FileManager.default.removeItem(atPath: stagingPath)
        PartialOutputs.shared.unregister(stagingPath)
    }
}

/// Every staging folder currently open in this process, so that a signal handler can remove them
/// before the process exits (see the CLI's interrupt handling).
public final class PartialOutputs: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because `paths` is only touched under `lock`.
    /// The process-wide registry.
    public static let shared = PartialOutputs()
    private let lock = NSLock()
    private var paths: Set<String> = []

    func register(_ path: String) {
        lock.lock()
        paths.insert(path)
        lock.unlock()
    }

    func unregister(_ path: String) {
        lock.lock()
        paths.remove(path)
        lock.unlock()
    }

    /// Removes every registered staging folder that `filter` selects (all of them by default: what
    /// the interrupt handler does).
    public func removeAll(where filter: (String) -> Bool = { _ in true }) {
        lock.lock()
        let selected = paths.filter(filter)
        paths.subtract(selected)
        lock.unlock()
        for path in selected { try? FileManager.default.removeItem(atPath: path) }
    }
}
