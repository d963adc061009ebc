// The element encodings the kernels understand: exactly the safetensors dtype set.

/// How one element is laid out in memory (little-endian).
public enum ScalarFormat: Sendable, CaseIterable {
    case float64, float32, float16, bfloat16, float8E4M3, float8E5M2
    case int64, int32, int16, int8, uint8, bool

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .float8E4M3, .float8E5M2, .int8, .uint8, .bool: 1
        }
    }

    /// Whether ``Convert/encode(_:as:threads:)`` can write this format.
    public var isEncodable: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16: true
        default: false
        }
    }
}
