/// A full dotted tensor name (`model.layers.3.mlp.up_proj.weight`) with its layer index, if any.
public struct TensorName: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The name as stored in the checkpoint.
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.init(value) }

    public var description: String { rawValue }

    /// Container names that number transformer blocks in the common architectures
    /// (`model.layers.N` Llama/Mistral/Qwen, `transformer.h.N` GPT-2, `blocks.N`, `layer.N` BERT).
    public static let layerContainers: Set<Substring> = ["layers", "h", "blocks", "layer"]

    /// The dotted components.
    public var components: [Substring] { rawValue.split(separator: ".", omittingEmptySubsequences: false) }

    /// The transformer block index: the integer right after the first layer container.
    public var layerIndex: Int? {
        let parts = components
        for (i, part) in parts.enumerated().dropLast() where Self.layerContainers.contains(part) {
            if let index = Int(parts[i + 1]), index >= 0 { return index }
        }
        return nil
    }

    /// The same name with its layer index replaced (nil when the name has no layer index).
    public func replacingLayerIndex(with index: Int) -> TensorName? {
        var parts = components
        for i in parts.indices.dropLast() where Self.layerContainers.contains(parts[i]) && Int(parts[i + 1]) != nil {
            parts[i + 1] = Substring(String(index))
            return TensorName(parts.joined(separator: "."))
        }
        return nil
    }

    /// Orders names naturally: layer 2 before layer 10.
    public static func < (lhs: TensorName, rhs: TensorName) -> Bool {
        let a = lhs.components, b = rhs.components
        for (x, y) in zip(a, b) where x != y {
            if let i = Int(x), let j = Int(y) { return i < j }
            return x < y
        }
        return a.count < b.count
    }
}
