// Streaming summary statistics of a stored buffer: min, max, mean, standard deviation and
// NaN/Inf counts, decoded chunk by chunk so memory stays at one chunk per thread.
//
// Numerics: each chunk accumulates its mean and sum of squared deviations in Float64 (Welford);
// chunks are combined pairwise in chunk order (Chan et al.), so the result is identical for any
// thread count. Mean and standard deviation are over finite values only; min and max ignore NaN
// and include ±Inf. The standard deviation is the population one (divide by n).

/// Summary statistics of a buffer.
public struct Moments: Sendable, Equatable {
    /// Number of elements.
    public var count: Int = 0
    /// Number of NaN elements.
    public var nanCount: Int = 0
    /// Number of ±Inf elements.
    public var infCount: Int = 0
    /// Smallest non-NaN value (`+inf` when there is none).
    public var min: Float = .infinity
    /// Largest non-NaN value (`-inf` when there is none).
    public var max: Float = -.infinity
    /// Mean of the finite values (0 when there is none).
    public var mean: Double = 0
    /// Sum of squared deviations from the mean, over finite values.
    var m2: Double = 0
    /// Number of finite values.
    public var finiteCount: Int { count - nanCount - infCount }

    /// Population standard deviation of the finite values (0 when there is none).
    public var standardDeviation: Double { finiteCount > 0 ? (m2 / Double(finiteCount)).squareRoot() : 0 }

    public init() {}

    /// Folds one value in (the reference, one-at-a-time form).
    public mutating func add(_ value: Float) {
        count += 1
        if value.isNaN { nanCount += 1; return }
        if value < min { min = value }
        if value > max { max = value }
        if value.isInfinite { infCount += 1; return }
        let n = Double(finiteCount)
        let delta = Double(value) - mean
        mean += delta / n
        m2 += delta * (Double(value) - mean)
    }

    /// Combines the statistics of two disjoint parts (Chan's parallel update).
    public func merged(with other: Moments) -> Moments {
        var result = Moments()
        result.count = count + other.count
        result.nanCount = nanCount + other.nanCount
        result.infCount = infCount + other.infCount
        result.min = Swift.min(min, other.min)
        result.max = Swift.max(max, other.max)
        let a = Double(finiteCount), b = Double(other.finiteCount)
        let n = a + b
        if n > 0 {
            let delta = other.mean - mean
            result.mean = mean + delta * b / n
            result.m2 = m2 + other.m2 + delta * delta * a * b / n
        }
        return result
    }

    /// Elements decoded per chunk.
    public static let chunkElements = 1 << 16

    /// Statistics of every element of `bytes` (in `format`), computed on up to `threads` threads.
    public static func of(_ bytes: ByteRegion, as format: ScalarFormat, threads: Int = 1) -> Moments {
        precondition(bytes.count % format.byteWidth == 0)
        let count = bytes.count / format.byteWidth
        let parts = Parallel.mapChunks(count: count, chunkSize: chunkElements, threads: threads) { range in
            var scratch = [Float](repeating: 0, count: range.count)
            scratch.withUnsafeMutableBufferPointer { buffer in
                Convert.decode(bytes, as: format, elements: range, into: buffer)
            }
            return chunkMoments(scratch)
        }
        return parts.reduce(Moments()) { $0.merged(with: $1) }
    }

    /// One chunk: a two-pass mean and squared deviation in Float64 (more accurate than Welford
    /// and vectorizable), plus counts and extremes.
    static func chunkMoments(_ values: [Float]) -> Moments {
        var result = Moments()
        result.count = values.count
        var sum = 0.0
        var nan = 0, inf = 0
        var low = Float.infinity, high = -Float.infinity
        for value in values {
            if value.isNaN { nan += 1; continue }
            low = Swift.min(low, value)
            high = Swift.max(high, value)
            if value.isInfinite { inf += 1 } else { sum += Double(value) }
        }
        result.nanCount = nan
        result.infCount = inf
        result.min = low
        result.max = high
        let finite = result.finiteCount
        guard finite > 0 else { return result }
        let mean = sum / Double(finite)
        var m2 = 0.0
        for value in values where value.isFinite {
            let d = Double(value) - mean
            m2 += d * d
        }
        result.mean = mean
        result.m2 = m2
        return result
    }
}
