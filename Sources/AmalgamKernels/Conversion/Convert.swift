// Whole-buffer conversions between stored formats and Float32, vectorized and split across cores.
//
// Numerics: every conversion is elementwise and exact or correctly rounded (nearest, ties to
// even), so the result is independent of the thread count. Large buffers are cut into chunks of
// `chunkElements` elements; small ones run on the calling thread.

import CAmalgamShims

/// Conversions between ``ScalarFormat`` buffers and Float32.
public enum Convert {
    /// Elements per parallel chunk: 256 Ki elements (1 MiB of Float32), large enough to amortise
    /// the dispatch, small enough to balance two to sixteen cores.
    public static let chunkElements = 1 << 18

    /// Decodes all elements of `bytes` (in `format`) to Float32.
    ///
    /// - Precondition: `bytes.count` is a multiple of the element width.
    public static func decode(_ bytes: ByteRegion, as format: ScalarFormat, threads: Int = 1) -> [Float] {
        precondition(bytes.count % format.byteWidth == 0, "decode: \(bytes.count) bytes is not a whole number of \(format)")
        let count = bytes.count / format.byteWidth
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            decode(bytes, as: format, elements: 0..<count, into: buffer, threads: threads)
            initialized = count
        }
    }

    /// Decodes elements `elements` of `bytes` (in `format`) to a new Float32 array, on the calling thread.
    public static func decode(_ bytes: ByteRegion, as format: ScalarFormat, elements: Range<Int>) -> [Float] {
        [Float](unsafeUninitializedCapacity: elements.count) { buffer, initialized in
            decode(bytes, as: format, elements: elements, into: buffer)
            initialized = elements.count
        }
    }

    /// Decodes elements `elements` of `bytes` into the first `elements.count` slots of `output`.
    public static func decode(_ bytes: ByteRegion, as format: ScalarFormat, elements: Range<Int>, into output: inout [Float], threads: Int = 1) {
        output.withUnsafeMutableBufferPointer { decode(bytes, as: format, elements: elements, into: $0, threads: threads) }
    }

    /// Decodes elements `elements` of `bytes` into `output` (which has room for `elements.count`).
    public static func decode(
        _ bytes: ByteRegion, as format: ScalarFormat, elements: Range<Int>,
        into output: UnsafeMutableBufferPointer<Float>, threads: Int = 1
    ) {
        let width = format.byteWidth
        precondition(elements.lowerBound >= 0 && elements.upperBound * width <= bytes.count, "decode range outside the buffer")
        precondition(output.count >= elements.count, "decode output too small")
        guard let outBase = output.baseAddress, !elements.isEmpty else { return }
        let out = SharedFloatOutput(base: outBase)
        let start = elements.lowerBound
        bytes.withUnsafeBytes { raw in
            // SAFETY: the range check above keeps every read inside `raw`; each chunk writes only
            // its own slice of `output`.
            let source = SharedRawInput(base: raw.baseAddress.unsafelyUnwrapped)
            Parallel.forEachChunk(count: elements.count, chunkSize: chunkElements, threads: threads) { _, range in
                decodeRun(format, source.base + (start + range.lowerBound) * width, out.base + range.lowerBound, range.count)
            }
        }
    }

    /// Encodes Float32 values in `format` (float64, float32, float16 or bfloat16), rounding once.
    ///
    /// - Precondition: `format.isEncodable`.
    public static func encode(_ values: [Float], as format: ScalarFormat, threads: Int = 1) -> OwnedBytes {
        precondition(format.isEncodable, "encode: \(format) cannot be written from Float32")
        return OwnedBytes.make(count: values.count * format.byteWidth) { destination in
            encode(values, as: format, into: destination, threads: threads)
        }
    }

    /// Encodes Float32 values in `format` into `output` (exactly `values.count * width` bytes,
    /// aligned to the element width).
    public static func encode(_ values: [Float], as format: ScalarFormat, into output: UnsafeMutableRawBufferPointer, threads: Int = 1) {
        encode(values[...], as: format, into: output, threads: threads)
    }

    /// Encodes a slice of Float32 values into `output`, as ``encode(_:as:into:threads:)-(Array)``.
    public static func encode(_ values: ArraySlice<Float>, as format: ScalarFormat, into output: UnsafeMutableRawBufferPointer, threads: Int = 1) {
        precondition(format.isEncodable, "encode: \(format) cannot be written from Float32")
        let width = format.byteWidth
        precondition(output.count == values.count * width, "encode output must hold exactly \(values.count * width) bytes")
        guard let outBase = output.baseAddress, !values.isEmpty else { return }
        precondition(Int(bitPattern: outBase) % width == 0, "encode output must be aligned to \(width) bytes")
        values.withUnsafeBufferPointer { input in
            // SAFETY: output holds count * width aligned bytes; chunks write disjoint ranges.
            let out = SharedRawOutput(base: outBase)
            let source = SharedFloatInput(base: input.baseAddress.unsafelyUnwrapped)
            Parallel.forEachChunk(count: values.count, chunkSize: chunkElements, threads: threads) { _, range in
                encodeRun(format, source.base + range.lowerBound, out.base + range.lowerBound * width, range.count)
            }
        }
    }

    /// Encodes `count` elements in `format` piece by piece, on the calling thread: `values(k)`
    /// gives the Float32 values of `pieces[k]` (consecutive ranges covering `0..<count`), and each
    /// is encoded into its place. Only one piece's Float32 values exist at a time.
    public static func encode(count: Int, as format: ScalarFormat, pieces: [Range<Int>], _ values: (Int) -> [Float]) -> OwnedBytes {
        precondition(format.isEncodable, "encode: \(format) cannot be written from Float32")
        let width = format.byteWidth
        return OwnedBytes.make(count: count * width) { destination in
            var covered = 0
            for (k, piece) in pieces.enumerated() {
                precondition(piece.lowerBound == covered && piece.upperBound <= count, "encode: piece \(piece) does not follow \(covered) of \(count) elements")
                let part = values(k)
                precondition(part.count == piece.count, "encode: piece \(piece) produced \(part.count) values")
                part.withUnsafeBufferPointer { input in
                    // SAFETY: the piece lies inside the destination (checked above) and holds part.count values.
                    guard let source = input.baseAddress, let base = destination.baseAddress else { return }
                    encodeRun(format, source, base + piece.lowerBound * width, part.count)
                }
                covered += piece.count
            }
            precondition(covered == count, "encode: pieces cover \(covered) of \(count) elements")
        }
    }

    // MARK: - Single-threaded runs (the vectorized loops)

    /// How far ahead of the loads ``prefetchingStrips(_:_:width:_:)`` asks for source bytes.
    static let prefetchDistance = 2048

    /// Runs `body` over `0..<n` in strips of one 64-byte cache line of the source (elements of
    /// `width` bytes), asking for the line `prefetchDistance` bytes ahead before each.
    ///
    /// Decoding memory-mapped page-cache data stalls at every 4 KiB page: the hardware prefetcher
    /// stops at page boundaries and the first load pays the TLB walk. A software prefetch half a
    /// page ahead starts both early (bf16 task_arithmetic on the 0.85 B benchmark: decode 34% ->
    /// 24% of the samples, see docs/performance.md). A prefetch never faults, so reading past
    /// the end of the source is harmless.
    @inline(__always)
    private static func prefetchingStrips(_ src: UnsafeRawPointer, _ n: Int, width: Int, _ body: (Range<Int>) -> Void) {
        let strip = 64 / width
        let whole = n / strip * strip
        var i = 0
        while i < whole {
            amalgam_prefetch(src + (i &* width &+ prefetchDistance))
            body(i..<(i &+ strip))
            i &+= strip
        }
        if whole < n { body(whole..<n) }
    }

    private static func decodeRun(_ format: ScalarFormat, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        // SAFETY: callers guarantee src holds n elements of `format` and dst n Floats. Loads are
        // unaligned because safetensors data offsets need not be aligned.
        switch format {
        case .float64:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i &* 8, as: Double.self)) }
        case .float32:
            prefetchingStrips(src, n, width: 4) { range in
                for i in range { dst[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)) }
            }
        case .float16:
            prefetchingStrips(src, n, width: 2) { range in
                for i in range {
                    dst[i] = Float(bitPattern: float16BitsToFloat32Bits(src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
                }
            }
        case .bfloat16:
            prefetchingStrips(src, n, width: 2) { range in
                for i in range {
                    dst[i] = Float(bitPattern: bfloat16BitsToFloat32Bits(src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
                }
            }
        case .float8E4M3:
            float8E4M3Table.withUnsafeBufferPointer { table in
                for i in 0..<n { dst[i] = table[Int(src.load(fromByteOffset: i, as: UInt8.self))] }
            }
        case .float8E5M2:
            for i in 0..<n { dst[i] = Float(bitPattern: float8E5M2BitsToFloat32Bits(src.load(fromByteOffset: i, as: UInt8.self))) }
        case .int64:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i &* 8, as: Int64.self)) }
        case .int32:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self)) }
        case .int16:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self)) }
        case .int8:
            for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .uint8:
            for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in 0..<n { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) == 0 ? 0 : 1 }
        }
    }

    private static func encodeRun(_ format: ScalarFormat, _ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        // SAFETY: callers guarantee src holds n Floats and dst n elements of `format`; dst comes
        // from a 64-byte aligned allocation and every element offset is a multiple of its width.
        switch format {
        case .float64:
            let out = dst.assumingMemoryBound(to: Double.self)
            for i in 0..<n { out[i] = Double(src[i]) }
        case .float32:
            dst.copyMemory(from: src, byteCount: n &* 4)
        case .float16:
            let out = dst.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { out[i] = float32BitsToFloat16Bits(src[i].bitPattern) }
        case .bfloat16:
            // Round to nearest even in one branch-free loop over the bit patterns, which
            // vectorizes cleanly (0.07 ns per element in L2 against 0.2 for four SIMD4 lanes with
            // scalar stores; `ConversionBenchmark`). That rule is wrong only for NaN, so the loop
            // also tracks the largest magnitude pattern, and a run holding a NaN (rare) is encoded
            // again element by element with float32BitsToBFloat16Bits's NaN rule.
            let out = dst.assumingMemoryBound(to: UInt16.self)
            var largest: UInt32 = 0
            for i in 0..<n {
                let b = src[i].bitPattern
                largest = max(largest, b & 0x7FFF_FFFF)
                out[i] = UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b &>> 16) & 1)) &>> 16)
            }
            if largest > 0x7F80_0000 {
                for i in 0..<n { out[i] = float32BitsToBFloat16Bits(src[i].bitPattern) }
            }
        default:
            preconditionFailure("encode: \(format) is not encodable")
        }
    }
}

/// Read-only pointer handed to parallel chunks.
struct SharedRawInput: @unchecked Sendable {
    // SAFETY: the memory is only read during the loop and outlives it.
    let base: UnsafeRawPointer
}

/// Read-only Float pointer handed to parallel chunks.
struct SharedFloatInput: @unchecked Sendable {
    // SAFETY: the memory is only read during the loop and outlives it.
    let base: UnsafePointer<Float>
}
