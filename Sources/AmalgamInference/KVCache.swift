// The key/value cache of one sequence: every layer's keys and values for the positions seen so far.

public final class KVCache {
    /// Per layer, `count × keyValueWidth` keys, row-major.
    var keys: [[Float]]
    /// Per layer, `count × keyValueWidth` values.
    var values: [[Float]]
    /// Positions cached so far; the next token's position.
    public private(set) var count: Int = 0
    let width: Int

    public init(config: TransformerConfig, reservingPositions capacity: Int = 0) {
        width = config.keyValueWidth
        keys = Array(repeating: [], count: config.layerCount)
        values = Array(repeating: [], count: config.layerCount)
        if capacity > 0 {
            for layer in 0..<config.layerCount {
                keys[layer].reserveCapacity(capacity * width)
                values[layer].reserveCapacity(capacity * width)
            }
        }
    }

    /// Forgets every position but keeps the storage, so the cache can serve another sequence.
    public func reset() {
        for layer in keys.indices {
            keys[layer].removeAll(keepingCapacity: true)
            values[layer].removeAll(keepingCapacity: true)
        }
        count = 0
    }

    /// Appends `rows` positions to one layer (called once per layer per forward step).
    func append(layer: Int, keys newKeys: ArraySlice<Float>, values newValues: ArraySlice<Float>) {
        keys[layer].append(contentsOf: newKeys)
        values[layer].append(contentsOf: newValues)
    }

    /// Marks `rows` more positions as cached after every layer has appended them.
    func advance(by rows: Int) {
        count += rows
    }
}
