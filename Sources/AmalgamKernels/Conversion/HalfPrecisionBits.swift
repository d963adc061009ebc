// Bit-level conversions between Float32 and the 16- and 8-bit float formats.
//
// These are the fast paths: branch-free (every arm computed, one selected), so that loops over
// them vectorize. Their plain twins are in Reference/ReferenceConversion.swift and the tests
// compare the two over every 16-bit pattern and every rounding midpoint.
//
// Rounding is to nearest, ties to even. NaN stays NaN with its sign and the top bits of its
// payload; when the kept payload bits would all be zero, the quiet bit is set so the result is
// still a NaN and not an infinity. A 16-bit value therefore survives the round trip
// 16 → 32 → 16 bit for bit, NaNs included. ±Inf and subnormals are exact in both directions.

/// bfloat16 bits → Float32 bits. Exact: bfloat16 is the top half of a Float32.
@inline(__always)
func bfloat16BitsToFloat32Bits(_ h: UInt16) -> UInt32 {
    UInt32(h) &<< 16
}

/// Float32 bits → bfloat16 bits, round to nearest even.
@inline(__always)
func float32BitsToBFloat16Bits(_ bits: UInt32) -> UInt16 {
    let lsb = (bits &>> 16) & 1
    let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) &>> 16)
    let top = UInt16(truncatingIfNeeded: bits &>> 16)
    let nan = top | ((top & 0x7F) == 0 ? 0x0040 : 0)
    return (bits & 0x7FFF_FFFF) > 0x7F80_0000 ? nan : rounded
}

/// float16 bits → Float32 bits. Exact for every pattern.
@inline(__always)
func float16BitsToFloat32Bits(_ h: UInt16) -> UInt32 {
    let bits = UInt32(h)
    let sign = (bits & 0x8000) &<< 16
    let shifted = (bits & 0x7FFF) &<< 13          // exponent and mantissa in Float32 position
    let exponent = shifted & 0x0F80_0000
    let normal = shifted &+ 0x3800_0000           // rebias exponent: (127 - 15) << 23
    let special = normal &+ 0x3800_0000           // Inf/NaN: exponent all ones
    // Subnormal: build 2^-14 * (1 + m/1024) then subtract 2^-14, exact in Float32.
    let subnormal = (Float(bitPattern: normal &+ 0x0080_0000) - Float(bitPattern: 0x3880_0000)).bitPattern
    let magnitude = exponent == 0x0F80_0000 ? special : (exponent == 0 ? subnormal : normal)
    return magnitude | sign
}

/// Float32 bits → float16 bits, round to nearest even; overflow becomes ±Inf.
@inline(__always)
func float32BitsToFloat16Bits(_ input: UInt32) -> UInt16 {
    let sign = UInt16(truncatingIfNeeded: (input & 0x8000_0000) &>> 16)
    let f = input & 0x7FFF_FFFF
    // NaN keeps the top 10 payload bits; Inf and finite overflow become Inf.
    let payload = UInt16(truncatingIfNeeded: (f &>> 13) & 0x3FF)
    let nan: UInt16 = 0x7C00 | (payload == 0 ? 0x0200 : payload)
    let overflow: UInt16 = f > 0x7F80_0000 ? nan : 0x7C00
    // Results that are subnormal or zero: let the FPU round by adding 0.5 (denormal magic).
    let subnormal = UInt16(truncatingIfNeeded: (Float(bitPattern: f) + 0.5).bitPattern &- 0x3F00_0000)
    // Normal results: rebias and round to nearest even on the 13 dropped bits.
    let odd = (f &>> 13) & 1
    let normal = UInt16(truncatingIfNeeded: (f &+ 0xC800_0FFF &+ odd) &>> 13)
    let magnitude = f >= 0x4780_0000 ? overflow : (f < 0x3880_0000 ? subnormal : normal)
    return magnitude | sign
}

/// float8 E5M2 bits → Float32 bits. E5M2 is the top byte of an IEEE float16.
@inline(__always)
func float8E5M2BitsToFloat32Bits(_ b: UInt8) -> UInt32 {
    float16BitsToFloat32Bits(UInt16(b) &<< 8)
}

/// Every float8 E4M3 ("fn": no infinities, S.1111.111 is NaN, bias 7) value, indexed by its bits.
let float8E4M3Table: [Float] = (0..<256).map { referenceFloat8E4M3ToFloat32(UInt8($0)) }
