import AmalgamKernels
import Testing

/// Bytes of a little-endian UInt16 array, as a region.
func region(_ values: [UInt16]) -> ByteRegion {
    OwnedBytes.copying(values.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }).region
}

/// Little-endian UInt16s from bytes.
func halfWords(_ bytes: ByteRegion) -> [UInt16] {
    let b = bytes.array
    return stride(from: 0, to: b.count, by: 2).map { UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8 }
}

@Suite("16-bit float conversions, exhaustively")
struct HalfPrecisionTests {
    static let allPatterns = (0...0xFFFF).map { UInt16($0) }

    @Test("bf16 → f32: fast kernel equals the reference for all 65,536 patterns, bit for bit")
    func bfloat16Decode() {
        let fast = Convert.decode(region(Self.allPatterns), as: .bfloat16, threads: 2)
        for (h, value) in zip(Self.allPatterns, fast) {
            #expect(value.bitPattern == referenceBFloat16ToFloat32(h).bitPattern, "pattern \(h)")
        }
    }

    @Test("f16 → f32: fast kernel equals the reference and Swift's Float16 for all 65,536 patterns")
    func float16Decode() {
        let fast = Convert.decode(region(Self.allPatterns), as: .float16, threads: 2)
        for (h, value) in zip(Self.allPatterns, fast) {
            let reference = referenceFloat16ToFloat32(h)
            #expect(value.bitPattern == reference.bitPattern, "pattern \(h)")
            #if !(os(macOS) && arch(x86_64))
            let system = Float(Float16(bitPattern: h))
            if system.isNaN { #expect(value.isNaN) } else { #expect(value.bitPattern == system.bitPattern, "pattern \(h)") }
            #endif
        }
    }

    @Test("16 → 32 → 16 is the identity for every pattern, NaN payloads included", arguments: [ScalarFormat.float16, .bfloat16])
    func roundTrip(format: ScalarFormat) {
        let widened = Convert.decode(region(Self.allPatterns), as: format, threads: 2)
        let narrowed = halfWords(Convert.encode(widened, as: format, threads: 2).region)
        #expect(narrowed == Self.allPatterns)
        let reference = widened.map { format == .float16 ? referenceFloat32ToFloat16($0) : referenceFloat32ToBFloat16($0) }
        #expect(reference == Self.allPatterns)
    }

    /// For every pair of neighbouring finite 16-bit values: the midpoint rounds to the even one,
    /// and one Float32 ulp either side rounds to the nearer one. These are all the rounding
    /// boundaries of the format.
    @Test("f32 → 16-bit rounds to nearest even at every midpoint", arguments: [ScalarFormat.float16, .bfloat16])
    func midpoints(format: ScalarFormat) {
        func decode(_ h: UInt16) -> Float {
            format == .float16 ? referenceFloat16ToFloat32(h) : referenceBFloat16ToFloat32(h)
        }
        let exponentMask: UInt16 = format == .float16 ? 0x7C00 : 0x7F80
        var inputs: [Float] = []
        var expected: [UInt16] = []
        for sign: UInt16 in [0, 0x8000] {
            for magnitude in UInt16(0)..<(exponentMask - 1) {   // each finite value and its finite successor
                let low = sign | magnitude, high = sign | (magnitude + 1)
                let mid = (Double(decode(magnitude)) + Double(decode(magnitude + 1))) / 2
                let m = Float(mid)
                #expect(Double(m) == mid, "midpoint must be exact in Float32")
                let even = low & 1 == 0 ? low : high
                let signed: (Float) -> Float = { sign == 0 ? $0 : -$0 }
                inputs += [signed(m), signed(m.nextDown), signed(m.nextUp)]
                expected += [even, low, high]
            }
        }
        let fast = halfWords(Convert.encode(inputs, as: format, threads: 2).region)
        let reference = inputs.map { format == .float16 ? referenceFloat32ToFloat16($0) : referenceFloat32ToBFloat16($0) }
        var mismatches = 0
        for i in inputs.indices where fast[i] != expected[i] || reference[i] != expected[i] {
            mismatches += 1
            if mismatches < 5 {
                Issue.record("input \(inputs[i]) (\(String(inputs[i].bitPattern, radix: 16))): fast \(fast[i]), reference \(reference[i]), expected \(expected[i])")
            }
        }
        #expect(mismatches == 0)
    }

    @Test("Overflow, infinities, NaN and signed zero")
    func specials() {
        let inputs: [Float] = [65504, 65519.99, 65520, -65520, 1e10, .infinity, -.infinity, .nan, -0.0, 0, 3.4e38, 1e-8, 5.9604645e-8, 2.9802322e-8]
        let f16 = halfWords(Convert.encode(inputs, as: .float16).region)
        #expect(f16 == [0x7BFF, 0x7BFF, 0x7C00, 0xFC00, 0x7C00, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x0000, 0x7C00, 0x0000, 0x0001, 0x0000])
        let bf16 = halfWords(Convert.encode(inputs, as: .bfloat16).region)
        #expect(bf16[5] == 0x7F80 && bf16[6] == 0xFF80 && bf16[8] == 0x8000)
        #expect(bf16[7] & 0x7F80 == 0x7F80 && bf16[7] & 0x7F != 0, "NaN stays NaN")
        #expect(bf16[10] == 0x7F80, "3.4e38 rounds up past the largest bf16 to Inf")
    }

    /// The bf16 encoder rounds a whole run branch-free and re-encodes the run only when it holds
    /// a NaN: a run of finite values with one NaN in the middle, and the same run without it,
    /// both match the element-by-element rule everywhere.
    @Test("bf16 encode: a single NaN in a long run of finite values", arguments: [false, true])
    func bfloat16NaNInRun(withNaN: Bool) {
        var inputs = (0..<100_003).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) & 0x7F7F_FFFF | ($0 % 3 == 0 ? 0x8000_0000 : 0)) }
        if withNaN { inputs[77_777] = Float(bitPattern: 0x7F80_0001) }   // a signalling NaN, low payload only
        let fast = halfWords(Convert.encode(inputs, as: .bfloat16, threads: 2).region)
        let reference = inputs.map(referenceFloat32ToBFloat16)
        let mismatches = inputs.indices.filter { fast[$0] != reference[$0] }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first at \(mismatches.prefix(3))")
        if withNaN { #expect(fast[77_777] == 0x7FC0, "a NaN whose payload is below bf16's bits comes out quiet") }
    }

    @Test("Swift's Float16(Float) agrees on a million seeded random Float32 bit patterns")
    func randomAgainstSystem() {
        var state: UInt64 = 0x1234_5678
        var inputs: [Float] = []
        for _ in 0..<1_000_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            inputs.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
        }
        let fast = halfWords(Convert.encode(inputs, as: .float16, threads: 2).region)
        let bfast = halfWords(Convert.encode(inputs, as: .bfloat16, threads: 2).region)
        var bad = 0
        for (i, x) in inputs.enumerated() {
            if fast[i] != referenceFloat32ToFloat16(x) || bfast[i] != referenceFloat32ToBFloat16(x) { bad += 1 }
            #if !(os(macOS) && arch(x86_64))
            if !x.isNaN && fast[i] != Float16(x).bitPattern { bad += 1 }
            #endif
        }
        #expect(bad == 0)
    }
}
