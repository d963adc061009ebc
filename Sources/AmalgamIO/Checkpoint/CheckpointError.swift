import AmalgamCore

/// Problems locating or reading a model folder.
public enum CheckpointError: AmalgamDiagnostic, Equatable {
    /// Nothing at the path, and it is not a Hugging Face reference.
    case notFound(reference: String)
    /// A path that is neither a folder nor a .safetensors file.
    case unsupportedFile(path: String)
    /// A folder with no .safetensors files.
    case noSafetensors(folder: String, hasPyTorchBin: Bool)
    /// An `org/name` reference that is not in the local Hugging Face cache.
    case notInCache(reference: String, cache: String)
    /// The cached model has no snapshot for the revision.
    case revisionNotInCache(reference: String, revision: String, cache: String)
    /// config.json is malformed.
    case invalidConfig(file: String, reason: String)
    /// An output folder that exists and is not empty, without --force.
    case outputExists(path: String)
    /// The output would replace one of the inputs.
    case outputIsInput(path: String)

    public var location: DiagnosticLocation {
        switch self {
        case .notFound(let path), .unsupportedFile(let path), .noSafetensors(let path, _), .notInCache(let path, _),
             .revisionNotInCache(let path, _, _), .invalidConfig(let path, _), .outputExists(let path), .outputIsInput(let path):
            DiagnosticLocation(file: path)
        }
    }

    public var hint: String? {
        switch self {
        case .notInCache(let reference, _):
            "Amalgam does not download yet: fetch it first (huggingface-cli download \(reference)) or pass a local folder."
        case .outputExists: "pass --force to replace it once the new output is complete."
        case .noSafetensors(_, true): "convert the PyTorch .bin weights to safetensors first; Amalgam reads safetensors only."
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .notFound(let reference):
            "'\(reference)': no such file or folder"
        case .unsupportedFile(let path):
            "'\(path)': not a model folder or a .safetensors file"
        case .noSafetensors(let folder, _):
            "'\(folder)': no .safetensors files in this folder"
        case .notInCache(let reference, let cache):
            "'\(reference)': not a local path, and not in the Hugging Face cache at '\(cache)'"
        case .revisionNotInCache(let reference, let revision, let cache):
            "'\(reference)': revision '\(revision)' is not in the Hugging Face cache at '\(cache)'"
        case .invalidConfig(let file, let reason):
            "'\(file)': \(reason)"
        case .outputExists(let path):
            "output '\(path)' exists and is not empty"
        case .outputIsInput(let path):
            "output '\(path)' is also an input"
        }
    }
}
