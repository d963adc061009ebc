// Turns what a user typed into files: a local folder, a single .safetensors file, or an
// `org/name[@revision]` reference already present in the local Hugging Face cache.
//
// Cache layout (huggingface_hub): <cache>/models--<org>--<name>/refs/<revision> holds a commit
// hash; the files are in <cache>/models--<org>--<name>/snapshots/<commit>/.

import Foundation

/// Where a checkpoint's files are.
public enum CheckpointSource: Sendable, Equatable {
    /// A model folder.
    case folder(String)
    /// One .safetensors file (no config.json is read).
    case file(String)
}

/// Resolves checkpoint references.
public enum CheckpointLocator {
    /// The Hugging Face hub cache folder: `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    public static func hubCache(environment: [String: String]) -> String {
        if let cache = environment["HF_HUB_CACHE"], !cache.isEmpty { return expandTilde(cache, environment: environment) }
        if let home = environment["HF_HOME"], !home.isEmpty {
            return (expandTilde(home, environment: environment) as NSString).appendingPathComponent("hub")
        }
        return expandTilde("~/.cache/huggingface/hub", environment: environment)
    }

    /// `~` and `~/x` become the home folder (HOME).
    public static func expandTilde(_ path: String, environment: [String: String]) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + path.dropFirst()
    }

    /// Resolves `reference`.
    ///
    /// - Throws: ``CheckpointError`` when nothing usable is found.
    public static func resolve(
        _ reference: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(CheckpointError) -> CheckpointSource {
        let path = expandTilde(reference, environment: environment)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return .folder(path) }
            if path.hasSuffix(".safetensors") { return .file(path) }
            throw .unsupportedFile(path: path)
        }
        guard let (repository, revision) = parseHubReference(reference) else { throw .notFound(reference: reference) }
        let cache = hubCache(environment: environment)
        let repoFolder = (cache as NSString).appendingPathComponent("models--" + repository.replacingOccurrences(of: "/", with: "--"))
        guard FileManager.default.fileExists(atPath: repoFolder) else { throw .notInCache(reference: reference, cache: cache) }
        let refFile = ((repoFolder as NSString).appendingPathComponent("refs") as NSString).appendingPathComponent(revision)
        var commit = revision
        if let text = try? String(contentsOfFile: refFile, encoding: .utf8) {
            commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let snapshot = ((repoFolder as NSString).appendingPathComponent("snapshots") as NSString).appendingPathComponent(commit)
        guard FileManager.default.fileExists(atPath: snapshot, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .revisionNotInCache(reference: reference, revision: revision, cache: cache)
        }
        return .folder(snapshot)
    }

    /// Splits `org/name[@revision]`; nil when `text` is not of that form.
    public static func parseHubReference(_ text: String) -> (repository: String, revision: String)? {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let repository = String(parts[0])
        let revision = parts.count > 1 ? String(parts[1]) : "main"
        let pieces = repository.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard pieces.count == 2, !revision.isEmpty, !revision.contains(".."),
              pieces.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && $0.unicodeScalars.allSatisfy(allowed.contains) })
        else { return nil }
        return (repository, revision)
    }
}
