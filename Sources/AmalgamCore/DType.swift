import Foundation

import AmalgamKernels

/// A tensor element type: exactly the safetensors dtype set.
///
/// The raw value is the safetensors header spelling (`"BF16"`). ``init(configName:)`` reads the
/// spellings config.json and recipes use (`"bfloat16"`, `"float16"`, `"float32"`, ...).
public enum DType: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case float64 = "F64"
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float8E4M3 = "F8_E4M3"
    case float8E5M2 = "F8_E5M2"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint8 = "U8"
    case bool = "BOOL"

    /// The kernel-level element encoding.
    public var format: ScalarFormat {
        switch self {
        case .float64: .float64
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .float8E4M3: .float8E4M3
        case .float8E5M2: .float8E5M2
        case .int64: .int64
        case .int32: .int32
        case .int16: .int16
        case .int8: .int8
        case .uint8: .uint8
        case .bool: .bool
        }
    }

    /// Bytes per element.
    public var byteWidth: Int { format.byteWidth }

    /// Whether this is a floating-point type.
    public var isFloatingPoint: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16, .float8E4M3, .float8E5M2: true
        default: false
        }
    }

    /// Whether Amalgam can write tensors of this type from Float32 values.
    public var isWritableFromFloat32: Bool { format.isEncodable }

    /// The safetensors spelling.
    public var description: String { rawValue }

    /// The PyTorch-style name used in config.json (`torch_dtype` / `dtype`) and in recipes.
    public var configName: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .float8E4M3: "float8_e4m3fn"
        case .float8E5M2: "float8_e5m2"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .bool: "bool"
        }
    }

    /// Reads a config.json / recipe spelling (`bfloat16`, `bf16`, `float16`, `fp16`, `half`,
    /// `float32`, `fp32`, `float`, `float64`, `double`, ...), or a safetensors spelling.
    public init?(configName: String) {
        let name = configName.lowercased().replacingOccurrences(of: "torch.", with: "")
        switch name {
        case "float64", "fp64", "double", "f64": self = .float64
        case "float32", "fp32", "float", "f32": self = .float32
        case "float16", "fp16", "half", "f16": self = .float16
        case "bfloat16", "bf16": self = .bfloat16
        case "float8_e4m3fn", "float8_e4m3", "f8_e4m3": self = .float8E4M3
        case "float8_e5m2", "f8_e5m2": self = .float8E5M2
        case "int64", "long", "i64": self = .int64
        case "int32", "int", "i32": self = .int32
        case "int16", "short", "i16": self = .int16
        case "int8", "i8": self = .int8
        case "uint8", "u8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }
}
