// Plain, branchy, one-element-at-a-time twins of the conversion kernels. They are the
// specification: written for reading, not speed, and compared with the fast paths in tests.

/// Reference: bfloat16 bits → Float32.
public func referenceBFloat16ToFloat32(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}

/// Reference: Float32 → bfloat16 bits, round to nearest, ties to even; NaN kept (see HalfPrecisionBits.swift).
public func referenceFloat32ToBFloat16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN {
        var top = UInt16(bits >> 16)
        if top & 0x7F == 0 { top |= 0x40 }
        return top
    }
    let upper = bits >> 16
    let lower = bits & 0xFFFF
    if lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1) {
        return UInt16(upper + 1)   // carries into the exponent as it should (max finite → Inf)
    }
    return UInt16(upper)
}

/// Reference: float16 bits → Float32, by the definition of the format.
public func referenceFloat16ToFloat32(_ h: UInt16) -> Float {
    let negative = h & 0x8000 != 0
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    var magnitude: Float
    if exponent == 0x1F {
        if mantissa == 0 {
            magnitude = .infinity
        } else {
            return Float(bitPattern: (negative ? 0x8000_0000 : 0) | 0x7F80_0000 | (mantissa << 13))
        }
    } else if exponent == 0 {
        magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
    } else {
        magnitude = (1 + Float(mantissa) / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }
    return negative ? -magnitude : magnitude
}

/// Reference: Float32 → float16 bits, round to nearest, ties to even, computed in Double.
public func referenceFloat32ToFloat16(_ value: Float) -> UInt16 {
    let signBit: UInt16 = value.sign == .minus ? 0x8000 : 0
    if value.isNaN {
        let payload = UInt16((value.bitPattern >> 13) & 0x3FF)
        return signBit | 0x7C00 | (payload == 0 ? 0x200 : payload)
    }
    let magnitude = Double(value.magnitude)
    if magnitude.isInfinite { return signBit | 0x7C00 }
    // Units of the smallest subnormal (2^-24) for tiny values; else the value's own ulp.
    let exponent = max(Int(magnitude.exponent), -14)
    if magnitude == 0 { return signBit }
    let ulp = Double(sign: .plus, exponent: exponent - 10, significand: 1)
    let units = (magnitude / ulp).rounded(.toNearestOrEven)       // exact: ulp is a power of two
    let scaled = units * ulp
    if scaled > 65504 { return signBit | 0x7C00 }                // beyond the largest finite float16
    // Re-encode the rounded, exactly representable value.
    if scaled < Double(sign: .plus, exponent: -14, significand: 1) {
        return signBit | UInt16(scaled / Double(sign: .plus, exponent: -24, significand: 1))
    }
    let e = Int(scaled.exponent)
    let m = UInt16((scaled / Double(sign: .plus, exponent: e, significand: 1) - 1) * 1024)
    return signBit | UInt16(e + 15) << 10 | m
}

/// Reference: float8 E4M3 ("fn") bits → Float32. Bias 7, no infinities, S.1111.111 is NaN.
public func referenceFloat8E4M3ToFloat32(_ b: UInt8) -> Float {
    let negative = b & 0x80 != 0
    let exponent = Int((b >> 3) & 0xF)
    let mantissa = Float(b & 0x7)
    let magnitude: Float
    if exponent == 0xF && b & 0x7 == 0x7 {
        magnitude = .nan
    } else if exponent == 0 {
        magnitude = mantissa / 8 * Float(sign: .plus, exponent: -6, significand: 1)
    } else {
        magnitude = (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
    return negative ? -magnitude : magnitude
}

/// Reference: float8 E5M2 bits → Float32 (IEEE-like: bias 15, with Inf and NaN).
public func referenceFloat8E5M2ToFloat32(_ b: UInt8) -> Float {
    referenceFloat16ToFloat32(UInt16(b) << 8)
}

/// Reference: decodes element `index` of `bytes` in `format` to Float32.
public func referenceDecode(_ bytes: ByteRegion, as format: ScalarFormat, index: Int) -> Float {
    let offset = index * format.byteWidth
    var raw: UInt64 = 0
    for k in 0..<format.byteWidth { raw |= UInt64(bytes[offset + k]) << (8 * k) }
    switch format {
    case .float64: return Float(Double(bitPattern: raw))
    case .float32: return Float(bitPattern: UInt32(raw))
    case .float16: return referenceFloat16ToFloat32(UInt16(raw))
    case .bfloat16: return referenceBFloat16ToFloat32(UInt16(raw))
    case .float8E4M3: return referenceFloat8E4M3ToFloat32(UInt8(raw))
    case .float8E5M2: return referenceFloat8E5M2ToFloat32(UInt8(raw))
    case .int64: return Float(Int64(bitPattern: raw))
    case .int32: return Float(Int32(bitPattern: UInt32(raw)))
    case .int16: return Float(Int16(bitPattern: UInt16(raw)))
    case .int8: return Float(Int8(bitPattern: UInt8(raw)))
    case .uint8: return Float(UInt8(raw))
    case .bool: return raw == 0 ? 0 : 1
    }
}

/// Reference: encodes `values` in `format` (one of the encodable float formats), little-endian.
public func referenceEncode(_ values: [Float], as format: ScalarFormat) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(values.count * format.byteWidth)
    func append<T: FixedWidthInteger>(_ v: T) {
        for k in 0..<(T.bitWidth / 8) { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
    }
    for value in values {
        switch format {
        case .float64: append(Double(value).bitPattern)
        case .float32: append(value.bitPattern)
        case .float16: append(referenceFloat32ToFloat16(value))
        case .bfloat16: append(referenceFloat32ToBFloat16(value))
        default: preconditionFailure("referenceEncode: \(format) is not an encodable format")
        }
    }
    return out
}
