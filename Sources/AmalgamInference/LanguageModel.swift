// A Llama-family causal language model held in memory as Float32 parameters, loaded from a
// checkpoint or handed over as tensors. Parameters can be rewritten in place (recipe search merges
// into the same buffers and scores again without reallocating).

import AmalgamCore
import AmalgamIO
import Foundation

/// The parameter names of one decoder layer, resolved to storage slots.
struct LayerSlots: Sendable {
    var inputNorm: Int
    var query: Int, key: Int, value: Int, output: Int
    var queryBias: Int?, keyBias: Int?, valueBias: Int?, outputBias: Int?
    var queryNorm: Int?, keyNorm: Int?
    var postAttentionNorm: Int
    var gate: Int, up: Int, down: Int
    var gateBias: Int?, upBias: Int?, downBias: Int?
}

public final class LanguageModel: @unchecked Sendable {
    // @unchecked: parameters are mutated only through `updateParameter`, which callers must not run
    // concurrently with a forward pass (documented on the method).

    public let config: TransformerConfig
    /// A name for messages: the checkpoint path, or what the caller passed.
    public let name: String
    /// The folder holding config.json and the tokenizer files, when loaded from a checkpoint.
    public let folder: String?

    /// Parameter name → (slot, shape).
    public private(set) var parameterShapes: [String: [Int]] = [:]
    private var slotOfName: [String: Int] = [:]
    private(set) var storage: [[Float]] = []

    let embedding: Int
    let finalNorm: Int
    let head: Int
    let layers: [LayerSlots]
    /// The `headDimension / 2` rotary frequencies, rounded to Float32 as transformers keeps them.
    let rotaryFrequencies: [Float]

    /// Every parameter the config calls for, with its shape, in load order.
    public static func parameterLayout(for config: TransformerConfig) -> [(name: String, shape: [Int])] {
        var layout: [(String, [Int])] = [("model.embed_tokens.weight", [config.vocabularySize, config.hiddenSize])]
        let h = config.hiddenSize, q = config.queryWidth, kv = config.keyValueWidth, m = config.intermediateSize
        for i in 0..<config.layerCount {
            let p = "model.layers.\(i)."
            layout.append((p + "input_layernorm.weight", [h]))
            layout.append((p + "self_attn.q_proj.weight", [q, h]))
            layout.append((p + "self_attn.k_proj.weight", [kv, h]))
            layout.append((p + "self_attn.v_proj.weight", [kv, h]))
            layout.append((p + "self_attn.o_proj.weight", [h, q]))
            if config.attentionBias {
                layout.append((p + "self_attn.q_proj.bias", [q]))
                layout.append((p + "self_attn.k_proj.bias", [kv]))
                layout.append((p + "self_attn.v_proj.bias", [kv]))
            }
            if config.outputBias { layout.append((p + "self_attn.o_proj.bias", [h])) }
            if config.queryKeyNorm {
                layout.append((p + "self_attn.q_norm.weight", [config.headDimension]))
                layout.append((p + "self_attn.k_norm.weight", [config.headDimension]))
            }
            layout.append((p + "post_attention_layernorm.weight", [h]))
            layout.append((p + "mlp.gate_proj.weight", [m, h]))
            layout.append((p + "mlp.up_proj.weight", [m, h]))
            layout.append((p + "mlp.down_proj.weight", [h, m]))
            if config.mlpBias {
                layout.append((p + "mlp.gate_proj.bias", [m]))
                layout.append((p + "mlp.up_proj.bias", [m]))
                layout.append((p + "mlp.down_proj.bias", [h]))
            }
        }
        layout.append(("model.norm.weight", [h]))
        if !config.tiedEmbeddings { layout.append(("lm_head.weight", [config.vocabularySize, h])) }
        return layout
    }

    /// Builds a model from Float32 parameters by name (extra names are ignored).
    public init(config: TransformerConfig, name: String, folder: String? = nil, parameters: [String: [Float]]) throws(InferenceError) {
        self.config = config
        self.name = name
        self.folder = folder
        for (parameter, shape) in Self.parameterLayout(for: config) {
            guard let values = parameters[parameter] else { throw .missingTensor(model: name, tensor: parameter) }
            let count = shape.reduce(1, *)
            guard values.count == count else { throw .wrongShape(model: name, tensor: parameter, expected: shape, actual: [values.count]) }
            slotOfName[parameter] = storage.count
            parameterShapes[parameter] = shape
            storage.append(values)
        }
        let slots = slotOfName
        func slot(_ name: String) -> Int { slots[name]! }
        embedding = slot("model.embed_tokens.weight")
        finalNorm = slot("model.norm.weight")
        head = config.tiedEmbeddings ? embedding : slot("lm_head.weight")
        layers = (0..<config.layerCount).map { i in
            let p = "model.layers.\(i)."
            return LayerSlots(
                inputNorm: slot(p + "input_layernorm.weight"),
                query: slot(p + "self_attn.q_proj.weight"), key: slot(p + "self_attn.k_proj.weight"),
                value: slot(p + "self_attn.v_proj.weight"), output: slot(p + "self_attn.o_proj.weight"),
                queryBias: slots[p + "self_attn.q_proj.bias"], keyBias: slots[p + "self_attn.k_proj.bias"],
                valueBias: slots[p + "self_attn.v_proj.bias"], outputBias: slots[p + "self_attn.o_proj.bias"],
                queryNorm: slots[p + "self_attn.q_norm.weight"], keyNorm: slots[p + "self_attn.k_norm.weight"],
                postAttentionNorm: slot(p + "post_attention_layernorm.weight"),
                gate: slot(p + "mlp.gate_proj.weight"), up: slot(p + "mlp.up_proj.weight"), down: slot(p + "mlp.down_proj.weight"),
                gateBias: slots[p + "mlp.gate_proj.bias"], upBias: slots[p + "mlp.up_proj.bias"], downBias: slots[p + "mlp.down_proj.bias"]
            )
        }
        rotaryFrequencies = config.rotaryFrequencies().map { Float($0) }
    }

    /// Loads a checkpoint (folder, `.safetensors` file or hub reference): config.json, then every
    /// parameter converted to Float32 on all `threads`.
    public convenience init(checkpoint: Checkpoint, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        let folder = Self.folder(of: checkpoint)
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw InferenceError.badConfig(file: configPath, key: "(file)", reason: "config.json is missing; the model's architecture is unknown")
        }
        let config = try TransformerConfig(json: data, file: configPath)
        var parameters: [String: [Float]] = [:]
        for (name, shape) in Self.parameterLayout(for: config) {
            guard let info = checkpoint.info(name) else { throw InferenceError.missingTensor(model: checkpoint.path, tensor: name) }
            guard info.shape.dimensions == shape else {
                throw InferenceError.wrongShape(model: checkpoint.path, tensor: name, expected: shape, actual: info.shape.dimensions)
            }
            parameters[name] = try checkpoint.tensor(named: name).float32Values(threads: threads)
        }
        try self.init(config: config, name: checkpoint.path, folder: folder, parameters: parameters)
    }

    /// The folder holding a checkpoint's config.json and tokenizer files (a file's own folder).
    public static func folder(of checkpoint: Checkpoint) -> String {
        switch checkpoint.source {
        case .folder(let path): path
        case .file(let path): (path as NSString).deletingLastPathComponent
        }
    }

    /// Opens and loads a checkpoint reference.
    public convenience init(path: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        try self.init(checkpoint: try Checkpoint(opening: path), threads: threads)
    }

    /// The names of all parameters, in load order.
    public var parameterNames: [String] { Self.parameterLayout(for: config).map(\.name) }

    /// Copies `values` into a parameter's existing storage (no reallocation). Not safe to call
    /// while a forward pass runs on this model.
    public func assignParameter(_ name: String, from values: [Float]) throws(InferenceError) {
        guard let slot = slotOfName[name] else { throw .missingTensor(model: self.name, tensor: name) }
        guard storage[slot].count == values.count else {
            throw .wrongShape(model: self.name, tensor: name, expected: parameterShapes[name] ?? [], actual: [values.count])
        }
        func copy(into target: inout [Float]) {
            for index in values.indices { target[index] = values[index] }
        }
        copy(into: &storage[slot])
    }

    /// A copy of one parameter's values.
    public func parameter(_ name: String) -> [Float]? { slotOfName[name].map { storage[$0] } }

    /// Rewrites one parameter in place (no reallocation): `body` gets the current values and must
    /// leave the count unchanged. Not safe to call while a forward pass runs on this model.
    public func updateParameter(_ name: String, _ body: (inout [Float]) throws -> Void) throws {
        guard let slot = slotOfName[name] else { throw InferenceError.missingTensor(model: self.name, tensor: name) }
        let count = storage[slot].count
        try body(&storage[slot])
        precondition(storage[slot].count == count, "updateParameter(\(name)) changed the value count")
    }
}
