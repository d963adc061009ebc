import AmalgamKernels

/// An n-dimensional array of one dtype, stored as little-endian bytes.
///
/// The bytes are a ``ByteRegion``: either borrowed from a memory-mapped checkpoint (no copy) or
/// owned. Tensors are values; copying one copies the view, not the data.
public struct Tensor: Sendable {
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public let shape: Shape
    /// The stored bytes: exactly `shape.elementCount * dtype.byteWidth` of them.
    public let bytes: ByteRegion

    /// Wraps stored bytes. Traps when the byte count does not match the shape (a programmer
    /// error: readers validate headers before making tensors).
    public init(dtype: DType, shape: Shape, bytes: ByteRegion) {
        precondition(bytes.count == shape.elementCount * dtype.byteWidth,
                     "tensor of \(dtype) \(shape) needs \(shape.elementCount * dtype.byteWidth) bytes, got \(bytes.count)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Number of elements.
    public var elementCount: Int { shape.elementCount }

    /// The values widened to Float32 (exact for every float type but F64 and wide integers,
    /// which round to nearest).
    public func float32Values(threads: Int = 1) -> [Float] {
        Convert.decode(bytes, as: dtype.format, threads: threads)
    }

    /// A tensor of `dtype` holding `values`, each rounded once (nearest, ties to even).
    ///
    /// - Throws: ``TensorError/notWritable(_:)`` when `dtype` cannot be written from Float32,
    ///   ``TensorError/shapeMismatch(shape:count:)`` when the count does not fit the shape.
    public init(float32 values: [Float], shape: Shape, dtype: DType, threads: Int = 1) throws(TensorError) {
        guard dtype.isWritableFromFloat32 else { throw .notWritable(dtype) }
        guard shape.checkedElementCount == values.count else { throw .shapeMismatch(shape: shape, count: values.count) }
        self.init(dtype: dtype, shape: shape, bytes: Convert.encode(values, as: dtype.format, threads: threads).region)
    }

    /// The values widened to Float64 (exact for every float type).
    public func float64Values(threads: Int = 1) -> [Double] {
        Convert.decodeDoubles(bytes, as: dtype.format, threads: threads)
    }

    /// A tensor of `dtype` holding Float64 `values`, each rounded once (nearest, ties to even).
    public init(float64 values: [Double], shape: Shape, dtype: DType, threads: Int = 1) throws(TensorError) {
        guard dtype.isWritableFromFloat32 else { throw .notWritable(dtype) }
        guard shape.checkedElementCount == values.count else { throw .shapeMismatch(shape: shape, count: values.count) }
        self.init(dtype: dtype, shape: shape, bytes: Convert.encode(values, as: dtype.format, threads: threads).region)
    }

    /// Summary statistics over all elements (see ``Moments``).
    public func moments(threads: Int = 1) -> Moments {
        Moments.of(bytes, as: dtype.format, threads: threads)
    }
}

/// Errors making tensors from values.
public enum TensorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The dtype cannot be produced from Float32 values (F8 and integer types are read-only).
    case notWritable(DType)
    /// The number of values does not match the shape.
    case shapeMismatch(shape: Shape, count: Int)

    public var description: String {
        switch self {
        case .notWritable(let dtype): "cannot write \(dtype) tensors: only F64, F32, F16 and BF16 are written from Float32"
        case .shapeMismatch(let shape, let count): "\(count) values do not fill shape \(shape) (\(shape.checkedElementCount.map(String.init) ?? "overflowing") elements)"
        }
    }
}
