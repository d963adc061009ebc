/// Builds safetensors bytes by hand, valid or deliberately broken, for format tests.
public struct SafetensorsBuilder {
    /// The header JSON text, written verbatim.
    public var headerJSON: String
    /// The data area.
    public var data: [UInt8]
    /// Overrides the 8-byte length prefix (defaults to the header's byte count).
    public var declaredLength: UInt64?

    public init(headerJSON: String, data: [UInt8], declaredLength: UInt64? = nil) {
        self.headerJSON = headerJSON
        self.data = data
        self.declaredLength = declaredLength
    }

    /// A valid two-tensor file: "a" F32 [2] = [1, 2] and "b" BF16 [3] = [1, -2, 0.5].
    public static var valid: SafetensorsBuilder {
        SafetensorsBuilder(
            headerJSON: #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}}"#,
            data: [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40, 0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3F])
    }

    /// The file's bytes.
    public var bytes: [UInt8] {
        let header = Array(headerJSON.utf8)
        let length = declaredLength ?? UInt64(header.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + header + data
    }
}
