// The safetensors layout (https://github.com/huggingface/safetensors, "Format"):
//
//   1. 8 bytes: N, the header length, unsigned little-endian.
//   2. N bytes: a UTF-8 JSON object. Each key is a tensor name mapped to
//      {"dtype": "BF16", "shape": [rows, columns], "data_offsets": [begin, end]}, except the
//      optional "__metadata__", a string-to-string object. Writers pad with spaces to align.
//   3. The data area: every tensor's bytes, little-endian, row-major, at [begin, end) relative
//      to the start of the data area. Tensors tile the area exactly: no gaps, no overlaps.
//
// The header is untrusted input. Every rule above is checked before any tensor is used, and a
// violation throws a SafetensorsError naming the file and the tensor.

import AmalgamCore
import AmalgamKernels
import Foundation

/// One header entry: where a tensor's bytes are and how to read them.
public struct TensorInfo: Sendable, Equatable {
    /// The tensor name.
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public let shape: Shape
    /// Byte range inside the data area.
    public let dataRange: Range<Int>

    /// Number of bytes.
    public var byteCount: Int { dataRange.count }
    /// Number of elements.
    public var elementCount: Int { shape.elementCount }
}

/// A validated safetensors header.
public struct SafetensorsHeader: Sendable {
    /// Headers longer than this are refused (the reference implementation's limit).
    public static let maximumLength = 100_000_000

    /// Entries ordered by data offset.
    public let tensors: [TensorInfo]
    /// The `__metadata__` object (empty when absent).
    public let metadata: [String: String]
    /// Offset of the data area from the start of the file (8 + N).
    public let dataStart: Int

    /// Parses and validates the header of `file` (a whole safetensors file).
    ///
    /// - Parameter path: the file's path, for messages.
    /// - Throws: ``SafetensorsError`` naming the first violation found.
    public init(parsing file: ByteRegion, path: String) throws(SafetensorsError) {
        guard file.count >= 8 else { throw .truncated(file: path, size: file.count) }
        let declared = file.littleEndianUInt64(at: 0)
        guard declared >= 2, declared <= UInt64(Self.maximumLength) else {
            throw .headerLengthOutOfRange(file: path, length: declared, limit: Self.maximumLength)
        }
        let length = Int(declared)
        guard length <= file.count - 8 else { throw .headerBeyondFile(file: path, length: declared, fileSize: file.count) }
        let headerBytes = file.slice(offset: 8, length: length).array
        dataStart = 8 + length
        let dataSize = file.count - dataStart

        let object = try Self.parseObject(headerBytes, path: path)
        if let duplicate = JSONDuplicateKeys.first(in: headerBytes), duplicate.parent == nil {
            throw .duplicateTensor(file: path, tensor: duplicate.key)
        }

        var metadata: [String: String] = [:]
        var entries: [TensorInfo] = []
        entries.reserveCapacity(object.count)
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(value, path: path)
            } else {
                entries.append(try Self.parseEntry(name: name, value: value, path: path, dataSize: dataSize))
            }
        }
        entries.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name) < ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name) }
        try Self.checkTiling(entries, path: path, dataSize: dataSize)
        self.tensors = entries
        self.metadata = metadata
    }

    private static func parseObject(_ bytes: [UInt8], path: String) throws(SafetensorsError) -> [String: Any] {
        switch JSONText.object(from: bytes) {
        case .success(let object): return object
        case .failure(.invalid(let reason)): throw .invalidJSON(file: path, reason: reason)
        case .failure(.notObject): throw .headerNotObject(file: path)
        }
    }

    private static func parseMetadata(_ value: Any, path: String) throws(SafetensorsError) -> [String: String] {
        guard let object = value as? [String: Any] else { throw .invalidMetadata(file: path, key: nil) }
        var result: [String: String] = [:]
        for (key, item) in object {
            guard let text = item as? String else { throw .invalidMetadata(file: path, key: key) }
            result[key] = text
        }
        return result
    }

    private static func parseEntry(name: String, value: Any, path: String, dataSize: Int) throws(SafetensorsError) -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw .malformedEntry(file: path, tensor: name, reason: "entry is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw .malformedEntry(file: path, tensor: name, reason: "missing or non-string \"dtype\"")
        }
        guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(file: path, tensor: name, dtype: dtypeName) }
        guard let shapeValues = entry["shape"] as? [Any] else {
            throw .malformedEntry(file: path, tensor: name, reason: "missing or non-array \"shape\"")
        }
        var dimensions: [Int] = []
        for item in shapeValues {
            guard let d = JSONText.nonNegativeInteger(item) else {
                throw .malformedEntry(file: path, tensor: name, reason: "\"shape\" holds \(item), not a non-negative integer")
            }
            dimensions.append(d)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = JSONText.nonNegativeInteger(offsets[0]), let end = JSONText.nonNegativeInteger(offsets[1]) else {
            throw .malformedEntry(file: path, tensor: name, reason: "\"data_offsets\" must be two non-negative integers")
        }
        guard begin <= end else {
            throw .malformedEntry(file: path, tensor: name, reason: "data_offsets [\(begin), \(end)] end before they begin")
        }
        let shape = Shape(dimensions)
        let expected = shape.checkedElementCount.flatMap { count -> Int? in
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteWidth)
            return overflow ? nil : bytes
        }
        guard let expected, expected == end - begin else {
            throw .lengthMismatch(file: path, tensor: name, dtype: dtype, shape: dimensions,
                                  expected: expected ?? Int.max, actual: end - begin)
        }
        guard end <= dataSize else {
            throw .offsetsOutOfBounds(file: path, tensor: name, begin: begin, end: end, dataSize: dataSize)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    /// Entries sorted by offset must tile [0, dataSize) exactly.
    private static func checkTiling(_ entries: [TensorInfo], path: String, dataSize: Int) throws(SafetensorsError) {
        var cursor = 0
        var previous: TensorInfo?
        for entry in entries {
            if entry.dataRange.lowerBound < cursor, let previous {
                throw .overlappingTensors(file: path, tensor: entry.name, other: previous.name)
            }
            if entry.dataRange.lowerBound > cursor {
                throw .gapBeforeTensor(file: path, tensor: entry.name, expectedOffset: cursor, actualOffset: entry.dataRange.lowerBound)
            }
            cursor = entry.dataRange.upperBound
            previous = entry
        }
        guard cursor == dataSize else { throw .trailingBytes(file: path, dataEnd: cursor, dataSize: dataSize) }
    }
}
