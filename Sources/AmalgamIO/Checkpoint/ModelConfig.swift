import AmalgamCore
import Foundation

/// The fields of a Hugging Face config.json that Amalgam reads, plus the raw text.
///
/// Fields missing at the top level are looked up in `text_config` (multimodal configs nest the
/// language model there). Every field is optional: a config that lacks one is still usable.
public struct ModelConfig: Sendable, Equatable {
    /// `architectures`, e.g. `["LlamaForCausalLM"]`.
    public var architectures: [String]
    /// `model_type`, e.g. `llama`.
    public var modelType: String?
    /// `num_hidden_layers`.
    public var numHiddenLayers: Int?
    /// `hidden_size`.
    public var hiddenSize: Int?
    /// `vocab_size`.
    public var vocabSize: Int?
    /// `tie_word_embeddings` as written (nil when absent).
    public var tieWordEmbeddings: Bool?
    /// `dtype` (transformers ≥ 4.56) or `torch_dtype` (earlier), as written.
    public var dtype: String?
    /// The file's bytes, for writing an updated copy.
    public var rawJSON: [UInt8]

    /// Parses config.json text.
    ///
    /// - Throws: ``CheckpointError/invalidConfig(file:reason:)`` when it is not a JSON object.
    public init(parsing bytes: [UInt8], path: String) throws(CheckpointError) {
        let top: [String: Any]
        switch JSONText.object(from: bytes) {
        case .success(let parsed): top = parsed
        case .failure(.invalid(let reason)): throw .invalidConfig(file: path, reason: "not valid JSON: \(reason)")
        case .failure(.notObject): throw .invalidConfig(file: path, reason: "not a JSON object")
        }
        let text = top["text_config"] as? [String: Any] ?? [:]
        func value(_ key: String) -> Any? { top[key] ?? text[key] }
        func integer(_ key: String) throws(CheckpointError) -> Int? {
            guard let raw = value(key), !(raw is NSNull) else { return nil }
            guard let exact = JSONText.nonNegativeInteger(raw) else {
                throw .invalidConfig(file: path, reason: "\"\(key)\" is \(JSONText.describe(raw)), expected a non-negative integer")
            }
            return exact
        }
        architectures = (top["architectures"] as? [String]) ?? (text["architectures"] as? [String]) ?? []
        modelType = value("model_type") as? String
        numHiddenLayers = try integer("num_hidden_layers")
        hiddenSize = try integer("hidden_size")
        vocabSize = try integer("vocab_size")
        tieWordEmbeddings = (top["tie_word_embeddings"] ?? text["tie_word_embeddings"]) as? Bool
        dtype = (value("dtype") as? String) ?? (value("torch_dtype") as? String)
        rawJSON = bytes
    }

    /// config.json with `num_hidden_layers` and `vocab_size` (in `text_config` when the count
    /// lives there) and the dtype (`dtype`, or `torch_dtype` when only that is present) replaced;
    /// the text as it was when there is nothing to change.
    public func updatedJSON(layers: Int?, dtype: DType?, vocabSize: Int? = nil) -> [UInt8] {
        guard layers != nil || dtype != nil || vocabSize != nil,
              var object = try? JSONSerialization.jsonObject(with: Data(rawJSON)) as? [String: Any] else { return rawJSON }
        // A count that lives only in `text_config` (multimodal configs) is replaced there.
        func setCount(_ key: String, _ value: Int?) {
            guard let value else { return }
            if var text = object["text_config"] as? [String: Any], object[key] == nil {
                text[key] = value
                object["text_config"] = text
            } else {
                object[key] = value
            }
        }
        setCount("num_hidden_layers", layers)
        setCount("vocab_size", vocabSize)
        if let dtype {
            let key = object["dtype"] != nil || object["torch_dtype"] == nil ? "dtype" : "torch_dtype"
            object[key] = dtype.configName
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            return rawJSON
        }
        return Array(data) + [UInt8(ascii: "\n")]
    }
}
