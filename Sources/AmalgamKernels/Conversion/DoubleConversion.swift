// Conversions between stored formats and Float64, for methods that compute in double precision
// (the SVD and statistics methods). Reading is exact for every float format; writing rounds once:
// F32 to nearest, and F16/BF16 through a round-to-odd Float32 step, which makes the two-step
// rounding equal to a single correctly rounded one (Float32 keeps more than two extra bits).

extension Convert {
    /// Decodes all elements of `bytes` (in `format`) to Float64 (exact for F64 too).
    public static func decodeDoubles(_ bytes: ByteRegion, as format: ScalarFormat, threads: Int = 1) -> [Double] {
        precondition(bytes.count % format.byteWidth == 0, "decode: \(bytes.count) bytes is not a whole number of \(format)")
        let count = bytes.count / format.byteWidth
        if format == .float64 {
            return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes { raw in
                    // SAFETY: raw holds exactly count · 8 bytes; loads are unaligned.
                    for i in 0..<count { buffer[i] = raw.loadUnaligned(fromByteOffset: i &* 8, as: Double.self) }
                }
                initialized = count
            }
        }
        // Strip by strip through a Float buffer that stays in L1: no tensor-sized Float32 array
        // in between (its allocation, page faults and second pass).
        let strip = 2048
        guard count > 0 else { return [] }
        return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = SharedDoubleOutput(base: buffer.baseAddress.unsafelyUnwrapped)
            Parallel.forEachChunk(count: count, chunkSize: chunkElements, threads: threads) { _, range in
                // SAFETY: each chunk writes only its own slice of the output; `floats` holds a strip.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: strip) { floats in
                    for start in stride(from: range.lowerBound, to: range.upperBound, by: strip) {
                        let part = start..<min(start + strip, range.upperBound)
                        decode(bytes, as: format, elements: part, into: floats)
                        for k in part { out.base[k] = Double(floats[k - start]) }
                    }
                }
            }
            initialized = count
        }
    }

    /// Encodes Float64 values in `format` (float64, float32, float16 or bfloat16), rounding once.
    public static func encode(_ values: [Double], as format: ScalarFormat, threads: Int = 1) -> OwnedBytes {
        precondition(format.isEncodable, "encode: \(format) cannot be written from Float64")
        switch format {
        case .float64:
            return OwnedBytes.make(count: values.count * 8) { destination in
                values.withUnsafeBytes { source in
                    if let base = source.baseAddress, let out = destination.baseAddress { out.copyMemory(from: base, byteCount: source.count) }
                }
            }
        case .float32:
            return encode(values.map(Float.init), as: .float32, threads: threads)
        default:
            return encode(values.map(roundToOddFloat), as: format, threads: threads)
        }
    }

    /// `value` rounded to Float32 with round-to-odd: exact values stay, inexact ones go to the
    /// neighbour whose last significand bit is 1.
    static func roundToOddFloat(_ value: Double) -> Float {
        let nearest = Float(value)
        guard nearest.isFinite, Double(nearest) != value else { return nearest }
        let below = Double(nearest) > value ? nearest.nextDown : nearest
        let above = below.nextUp
        return below.bitPattern & 1 == 1 ? below : above
    }
}
