import AmalgamCore

/// Everything that can be wrong with a safetensors file or a sharded checkpoint's index.
///
/// Each case carries the file and, where there is one, the tensor; ``description`` is one line.
public enum SafetensorsError: AmalgamDiagnostic, Equatable {
    /// Fewer than 8 bytes: no room for the header length.
    case truncated(file: String, size: Int)
    /// The declared header length is below 2 (the shortest JSON object) or above the limit.
    case headerLengthOutOfRange(file: String, length: UInt64, limit: Int)
    /// The declared header length runs past the end of the file.
    case headerBeyondFile(file: String, length: UInt64, fileSize: Int)
    /// The header is not valid UTF-8 JSON.
    case invalidJSON(file: String, reason: String)
    /// The header JSON is not an object.
    case headerNotObject(file: String)
    /// Two entries share a name.
    case duplicateTensor(file: String, tensor: String)
    /// An entry is malformed (not an object, missing or mistyped field).
    case malformedEntry(file: String, tensor: String, reason: String)
    /// An entry names a dtype safetensors does not define.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// shape × dtype width differs from the entry's byte length.
    case lengthMismatch(file: String, tensor: String, dtype: DType, shape: [Int], expected: Int, actual: Int)
    /// An entry's offsets leave the data area.
    case offsetsOutOfBounds(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two entries overlap.
    case overlappingTensors(file: String, tensor: String, other: String)
    /// A gap of unused bytes before an entry.
    case gapBeforeTensor(file: String, tensor: String, expectedOffset: Int, actualOffset: Int)
    /// Bytes after the last tensor.
    case trailingBytes(file: String, dataEnd: Int, dataSize: Int)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(file: String, key: String?)
    /// The index file is malformed.
    case invalidIndex(file: String, reason: String)
    /// The index names a shard file that is not there.
    case missingShard(index: String, shard: String, tensor: String)
    /// The index maps a tensor to a shard that does not hold it.
    case tensorNotInShard(index: String, shard: String, tensor: String)
    /// A shard holds a tensor the index does not list (or maps elsewhere).
    case tensorNotInIndex(index: String, shard: String, tensor: String)
    /// The same tensor in two places of a checkpoint.
    case duplicateTensorAcrossShards(tensor: String, first: String, second: String)
    /// A tensor asked for by name is not there.
    case tensorNotFound(checkpoint: String, tensor: String, suggestion: String?)

    public var location: DiagnosticLocation {
        switch self {
        case .truncated(let file, _), .headerLengthOutOfRange(let file, _, _), .headerBeyondFile(let file, _, _),
             .invalidJSON(let file, _), .headerNotObject(let file), .trailingBytes(let file, _, _),
             .invalidMetadata(let file, _), .invalidIndex(let file, _):
            DiagnosticLocation(file: file)
        case .duplicateTensor(let file, let tensor), .malformedEntry(let file, let tensor, _),
             .unknownDType(let file, let tensor, _), .lengthMismatch(let file, let tensor, _, _, _, _),
             .offsetsOutOfBounds(let file, let tensor, _, _, _), .overlappingTensors(let file, let tensor, _),
             .gapBeforeTensor(let file, let tensor, _, _):
            DiagnosticLocation(file: file, tensor: tensor)
        case .missingShard(let index, _, let tensor), .tensorNotInShard(let index, _, let tensor),
             .tensorNotInIndex(let index, _, let tensor):
            DiagnosticLocation(file: index, tensor: tensor)
        case .duplicateTensorAcrossShards(let tensor, let first, _):
            DiagnosticLocation(file: first, tensor: tensor)
        case .tensorNotFound(let checkpoint, let tensor, _):
            DiagnosticLocation(file: checkpoint, tensor: tensor)
        }
    }

    public var hint: String? {
        switch self {
        case .tensorNotFound(_, _, let suggestion?): "did you mean '\(suggestion)'?"
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .truncated(let file, let size):
            "'\(file)': truncated: \(size) bytes, a safetensors file needs at least 8 (the header length)"
        case .headerLengthOutOfRange(let file, let length, let limit):
            "'\(file)': header length \(length) is outside 2...\(limit) bytes (100 MB limit); not a safetensors file?"
        case .headerBeyondFile(let file, let length, let fileSize):
            "'\(file)': header length \(length) runs past the end of the file (\(fileSize) bytes); the file is truncated or not safetensors"
        case .invalidJSON(let file, let reason):
            "'\(file)': header is not valid JSON: \(reason)"
        case .headerNotObject(let file):
            "'\(file)': header JSON is not an object"
        case .duplicateTensor(let file, let tensor):
            "'\(file)': tensor '\(tensor)' appears twice in the header"
        case .malformedEntry(let file, let tensor, let reason):
            "'\(file)': tensor '\(tensor)': \(reason)"
        case .unknownDType(let file, let tensor, let dtype):
            "'\(file)': tensor '\(tensor)': unknown dtype '\(dtype)' (expected one of \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .lengthMismatch(let file, let tensor, let dtype, let shape, let expected, let actual):
            "'\(file)': tensor '\(tensor)': \(dtype) \(Shape(shape)) needs \(expected) bytes, data_offsets span \(actual)"
        case .offsetsOutOfBounds(let file, let tensor, let begin, let end, let dataSize):
            "'\(file)': tensor '\(tensor)': data_offsets [\(begin), \(end)] lie outside the data area of \(dataSize) bytes"
        case .overlappingTensors(let file, let tensor, let other):
            "'\(file)': tensor '\(tensor)' overlaps tensor '\(other)'"
        case .gapBeforeTensor(let file, let tensor, let expectedOffset, let actualOffset):
            "'\(file)': tensor '\(tensor)' starts at data offset \(actualOffset), expected \(expectedOffset) (unused bytes before it)"
        case .trailingBytes(let file, let dataEnd, let dataSize):
            "'\(file)': tensors end at data offset \(dataEnd) but the data area holds \(dataSize) bytes (trailing bytes)"
        case .invalidMetadata(let file, let key):
            if let key {
                "'\(file)': __metadata__ value for '\(key)' is not a string"
            } else {
                "'\(file)': __metadata__ is not an object of strings"
            }
        case .invalidIndex(let file, let reason):
            "'\(file)': \(reason)"
        case .missingShard(let index, let shard, let tensor):
            "'\(index)': tensor '\(tensor)' is mapped to shard '\(shard)', which does not exist"
        case .tensorNotInShard(let index, let shard, let tensor):
            "'\(index)': tensor '\(tensor)' is mapped to shard '\(shard)', which does not hold it"
        case .tensorNotInIndex(let index, let shard, let tensor):
            "'\(index)': shard '\(shard)' holds tensor '\(tensor)', which the index does not map to it"
        case .duplicateTensorAcrossShards(let tensor, let first, let second):
            "tensor '\(tensor)' appears in both '\(first)' and '\(second)'"
        case .tensorNotFound(let checkpoint, let tensor, _):
            "'\(checkpoint)': no tensor named '\(tensor)'"
        }
    }
}
