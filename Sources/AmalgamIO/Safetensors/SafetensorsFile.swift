import AmalgamCore
import AmalgamKernels

/// One memory-mapped, validated safetensors file.
///
/// Opening it reads the header pages only; ``tensor(_:)`` returns views of the mapped bytes, and
/// a tensor's pages are read from disk the first time its values are used.
public final class SafetensorsFile: Sendable {
    /// The path it was opened from.
    public let path: String
    /// The validated header.
    public let header: SafetensorsHeader
    let file: MappedFile
    private let byName: [String: Int]

    /// Maps and validates `path`.
    ///
    /// - Throws: ``FileError`` when the file cannot be read, ``SafetensorsError`` when it is not valid safetensors.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        header = try SafetensorsHeader(parsing: file.region, path: path)
        var index: [String: Int] = [:]
        for (i, info) in header.tensors.enumerated() { index[info.name] = i }
        byName = index
    }

    /// Header entries, in data-offset order.
    public var tensorInfos: [TensorInfo] { header.tensors }

    /// The entry for `name`, if present.
    public func info(_ name: String) -> TensorInfo? { byName[name].map { header.tensors[$0] } }

    /// Size of the file in bytes.
    public var fileSize: Int { file.size }

    /// A view of the tensor `info` (which must come from this file).
    public func tensor(_ info: TensorInfo) -> Tensor {
        Tensor(dtype: info.dtype, shape: info.shape,
               bytes: file.region.slice(offset: header.dataStart + info.dataRange.lowerBound, length: info.byteCount))
    }

    /// A view of the tensor named `name`, or nil.
    public func tensor(named name: String) -> Tensor? { info(name).map(tensor(_:)) }

    /// The byte offset of `info`'s data in the file.
    func fileOffset(of info: TensorInfo) -> Int { header.dataStart + info.dataRange.lowerBound }

    /// Hints the kernel to read `info`'s bytes ahead of use.
    public func prefetch(_ info: TensorInfo) {
        file.adviseWillNeed(offset: header.dataStart + info.dataRange.lowerBound, length: info.byteCount)
    }

    /// Drops `info`'s mapped pages from the resident set (they stay in the page cache).
    public func release(_ info: TensorInfo) {
        file.adviseDontNeed(offset: header.dataStart + info.dataRange.lowerBound, length: info.byteCount)
    }
}
