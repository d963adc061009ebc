// Errors from loading a model for inference: each names the file or tensor and what is wrong.

public enum InferenceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `architectures` names a model family Amalgam cannot run.
    case unsupportedArchitecture(file: String, architecture: String)
    /// A config.json key is missing or has an unusable value.
    case badConfig(file: String, key: String, reason: String)
    /// A config setting Amalgam does not implement (for example a RoPE scaling type).
    case unsupported(file: String, key: String, what: String)
    /// A weight the architecture needs is not in the checkpoint.
    case missingTensor(model: String, tensor: String)
    /// A weight has the wrong shape for the config.
    case wrongShape(model: String, tensor: String, expected: [Int], actual: [Int])
    /// A token id outside the vocabulary.
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    /// A sequence longer than the model's positions allow.
    case sequenceTooLong(length: Int, limit: Int)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let file, let architecture):
            "\(file): architecture \(architecture) is not supported (supported: \(TransformerConfig.supportedArchitectures.joined(separator: ", ")))"
        case .badConfig(let file, let key, let reason): "\(file): \"\(key)\": \(reason)"
        case .unsupported(let file, let key, let what): "\(file): \"\(key)\": \(what) is not supported"
        case .missingTensor(let model, let tensor): "\(model): tensor \(tensor) is missing"
        case .wrongShape(let model, let tensor, let expected, let actual):
            "\(model): tensor \(tensor) has shape \(actual), the config needs \(expected)"
        case .tokenOutOfRange(let id, let size): "token id \(id) is outside the vocabulary (size \(size))"
        case .sequenceTooLong(let length, let limit): "sequence of \(length) tokens exceeds the model's \(limit) positions"
        }
    }
}
