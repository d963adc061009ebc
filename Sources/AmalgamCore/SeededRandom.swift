import AmalgamKernels

// Counter-based randomness: the random number for element i of tensor T under seed S is a pure
// function of (S, T, i). Randomized methods (DARE, DELLA) draw from it, so their output is the
// same bit for bit whatever the thread count, chunking or tensor order.
//
// Construction: SplitMix64's finaliser (Steele, Lea, Flood 2014) applied to a key built from the
// seed, a 64-bit FNV-1a hash of the tensor name, and the element index times the golden-ratio
// increment; applied twice so neighbouring counters decorrelate fully.

/// A deterministic random stream keyed by seed and tensor name, addressed by element index.
public struct SeededRandom: Sendable, Hashable {
    /// The global seed.
    public let seed: UInt64
    /// The per-stream key (seed mixed with the stream name).
    public let key: UInt64

    /// A stream for `name` under `seed`.
    public init(seed: UInt64, stream name: String) {
        self.seed = seed
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325   // FNV-1a 64 offset basis
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        key = Self.mix(seed ^ Self.mix(hash))
    }

    /// The 64-bit random value at `index`.
    @inlinable
    public func bits(at index: Int) -> UInt64 {
        Self.mix(Self.mix(key &+ UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// A uniform Float in [0, 1) at `index` (24 random bits).
    @inlinable
    public func uniform(at index: Int) -> Float {
        Float(bits(at: index) >> 40) * 0x1p-24
    }

    /// A uniform Double in [0, 1) at `index` (53 random bits).
    @inlinable
    public func uniformDouble(at index: Int) -> Double {
        Double(bits(at: index) >> 11) * 0x1p-53
    }

    /// SplitMix64's output function (the kernels' `splitMix64`, so masks drawn there match).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 { splitMix64(value) }
}

/// A sequential generator (SplitMix64) for tests and tools that want a seeded
/// `RandomNumberGenerator`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return SeededRandom.mix(state)
    }
}
