// The architecture settings of a Llama-family decoder, read from config.json.

import Foundation

/// How rotary position frequencies are computed.
public enum RopeScaling: Sendable, Equatable {
    /// Plain RoPE: frequency i is θ^(−2i/d).
    case none
    /// Positions divided by `factor` (frequencies divided by it).
    case linear(factor: Double)
    /// Llama 3.x: long wavelengths divided by `factor`, short ones kept, a smooth blend between.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Double)
}

/// What a Llama, Mistral, Qwen2 or Qwen3 checkpoint's config.json says about the network.
public struct TransformerConfig: Sendable, Equatable {
    public static let supportedArchitectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"]

    public var architecture: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var rmsNormEpsilon: Float
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling
    public var maxPositions: Int
    public var tiedEmbeddings: Bool
    /// q/k/v projections carry biases (Qwen2; Llama with `attention_bias`).
    public var attentionBias: Bool
    /// The output projection carries a bias (Llama with `attention_bias`).
    public var outputBias: Bool
    /// MLP projections carry biases (Llama with `mlp_bias`).
    public var mlpBias: Bool
    /// Per-head RMSNorm of queries and keys before RoPE (Qwen3).
    public var queryKeyNorm: Bool
    /// Attention sees at most this many most recent positions (Mistral's `sliding_window`).
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    /// Parses config.json text; `file` names it in errors.
    public init(json data: Data, file: String) throws(InferenceError) {
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .badConfig(file: file, key: "(file)", reason: "not a JSON object")
        }
        let json = (top["text_config"] as? [String: Any]).map { top.merging($0) { _, inner in inner } } ?? top
        func integer(_ key: String, default fallback: Int? = nil) throws(InferenceError) -> Int {
            if let value = json[key] as? Int { return value }
            if let value = json[key] as? Double, value == value.rounded() { return Int(value) }
            if let fallback, json[key] == nil || json[key] is NSNull { return fallback }
            throw .badConfig(file: file, key: key, reason: json[key] == nil ? "missing" : "expected an integer")
        }
        func number(_ key: String, in object: [String: Any], default fallback: Double? = nil) throws(InferenceError) -> Double {
            if let value = object[key] as? Double { return value }
            if let value = object[key] as? Int { return Double(value) }
            if let fallback, object[key] == nil || object[key] is NSNull { return fallback }
            throw .badConfig(file: file, key: key, reason: object[key] == nil ? "missing" : "expected a number")
        }
        func flag(_ key: String) -> Bool { json[key] as? Bool ?? false }

        let architectures = top["architectures"] as? [String] ?? []
        guard let architecture = architectures.first(where: Self.supportedArchitectures.contains) else {
            throw .unsupportedArchitecture(file: file, architecture: architectures.first ?? "(none listed)")
        }
        self.architecture = architecture
        if let activation = json["hidden_act"] as? String, activation != "silu" {
            throw .unsupported(file: file, key: "hidden_act", what: "activation \(activation) (only silu)")
        }
        vocabularySize = try integer("vocab_size")
        hiddenSize = try integer("hidden_size")
        intermediateSize = try integer("intermediate_size")
        layerCount = try integer("num_hidden_layers")
        headCount = try integer("num_attention_heads")
        keyValueHeadCount = try integer("num_key_value_heads", default: headCount)
        guard headCount > 0, hiddenSize % headCount == 0 || json["head_dim"] != nil else {
            throw .badConfig(file: file, key: "num_attention_heads", reason: "\(headCount) heads do not divide hidden_size \(hiddenSize)")
        }
        headDimension = try integer("head_dim", default: hiddenSize / headCount)
        guard keyValueHeadCount > 0, headCount % keyValueHeadCount == 0 else {
            throw .badConfig(file: file, key: "num_key_value_heads", reason: "\(keyValueHeadCount) does not divide num_attention_heads \(headCount)")
        }
        guard headDimension % 2 == 0 else { throw .badConfig(file: file, key: "head_dim", reason: "\(headDimension) is odd; RoPE needs pairs") }
        rmsNormEpsilon = Float(try number("rms_norm_eps", in: json, default: 1e-6))
        maxPositions = try integer("max_position_embeddings", default: 4096)
        tiedEmbeddings = json["tie_word_embeddings"] as? Bool ?? false

        // RoPE: transformers 5 writes `rope_parameters`; earlier versions `rope_theta` + `rope_scaling`.
        let rope = (json["rope_parameters"] as? [String: Any]) ?? (json["rope_scaling"] as? [String: Any]) ?? [:]
        let ropeKey = json["rope_parameters"] != nil ? "rope_parameters" : "rope_scaling"
        ropeTheta = try number("rope_theta", in: rope["rope_theta"] != nil ? rope : json, default: 10000)
        let ropeType = (rope["rope_type"] as? String) ?? (rope["type"] as? String) ?? "default"
        switch ropeType {
        case "default": ropeScaling = .none
        case "linear": ropeScaling = .linear(factor: try number("factor", in: rope))
        case "llama3":
            ropeScaling = .llama3(
                factor: try number("factor", in: rope),
                lowFrequencyFactor: try number("low_freq_factor", in: rope),
                highFrequencyFactor: try number("high_freq_factor", in: rope),
                originalContext: try number("original_max_position_embeddings", in: rope)
            )
        default:
            throw .unsupported(file: file, key: "\(ropeKey).rope_type", what: "RoPE scaling \(ropeType) (default, linear and llama3 are)")
        }

        let isQwen2 = architecture == "Qwen2ForCausalLM"
        attentionBias = isQwen2 || flag("attention_bias")
        outputBias = !isQwen2 && flag("attention_bias")
        mlpBias = flag("mlp_bias")
        queryKeyNorm = architecture == "Qwen3ForCausalLM"
        if architecture.hasPrefix("Qwen"), flag("use_sliding_window") {
            throw .unsupported(file: file, key: "use_sliding_window", what: "Qwen sliding-window attention")
        }
        slidingWindow = architecture == "MistralForCausalLM" ? json["sliding_window"] as? Int : nil

        bosTokenId = json["bos_token_id"] as? Int
        if let list = json["eos_token_id"] as? [Int] {
            eosTokenIds = list
        } else if let single = json["eos_token_id"] as? Int {
            eosTokenIds = [single]
        } else {
            eosTokenIds = []
        }
    }

    /// Width of one token's keys (or values): key/value heads × head dimension.
    public var keyValueWidth: Int { keyValueHeadCount * headDimension }
    /// Width of one token's queries: heads × head dimension.
    public var queryWidth: Int { headCount * headDimension }

    /// The `headDimension / 2` rotary frequencies, scaled as the config says.
    public func rotaryFrequencies() -> [Double] {
        let half = headDimension / 2
        return (0..<half).map { i -> Double in
            let frequency = 1 / pow(ropeTheta, Double(2 * i) / Double(headDimension))
            switch ropeScaling {
            case .none: return frequency
            case .linear(let factor): return frequency / factor
            case .llama3(let factor, let low, let high, let original):
                let wavelength = 2 * Double.pi / frequency
                let lowWavelength = original / low, highWavelength = original / high
                if wavelength < highWavelength { return frequency }
                if wavelength > lowWavelength { return frequency / factor }
                let smooth = (original / wavelength - low) / (high - low)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
        }
    }
}
