// Foundation's JSON readers keep the last of two equal keys silently. Safetensors and the
// index format forbid duplicates, so this scanner walks already-validated JSON text and
// reports the first key that repeats inside one object. It is not a JSON parser: it assumes
// the text parsed, and only tracks strings and nesting.

/// Finds repeated keys in JSON objects.
enum JSONDuplicateKeys {
    /// A repeated key and the key of the object that contains it (nil for the top level).
    struct Finding: Equatable {
        let key: String
        let parent: String?
    }

    /// The first key that appears twice in the same object, if any.
    static func first(in bytes: [UInt8]) -> Finding? {
        struct Frame {
            let isObject: Bool
            let name: String?
            var keys: Set<String> = []
            var expectingKey = true
        }
        var stack: [Frame] = []
        var lastKey: String?
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let parentIsObject = stack.last?.isObject ?? false
                stack.append(Frame(isObject: c == UInt8(ascii: "{"), name: parentIsObject ? lastKey : nil))
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                i += 1
            case UInt8(ascii: ","):
                if let top = stack.indices.last, stack[top].isObject { stack[top].expectingKey = true }
                i += 1
            case UInt8(ascii: "\""):
                let (text, next) = readString(bytes, from: i + 1)
                i = next
                if let top = stack.indices.last, stack[top].isObject, stack[top].expectingKey {
                    if !stack[top].keys.insert(text).inserted {
                        return Finding(key: text, parent: stack[top].name)
                    }
                    stack[top].expectingKey = false
                    lastKey = text
                }
            default:
                i += 1
            }
        }
        return nil
    }

    /// Decodes a JSON string body starting after its opening quote; returns it and the index
    /// after the closing quote.
    private static func readString(_ bytes: [UInt8], from start: Int) -> (String, Int) {
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        var i = start
        var pendingHigh: UInt32?
        func flushRaw() {
            if !raw.isEmpty {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
        }
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count {
                flushRaw()
                let e = bytes[i + 1]
                i += 2
                var scalar: UInt32?
                switch e {
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "u"):
                    let hex = String(decoding: bytes[i..<min(i + 4, bytes.count)], as: UTF8.self)
                    i += 4
                    if let unit = UInt32(hex, radix: 16) {
                        if (0xD800..<0xDC00).contains(unit) {
                            pendingHigh = unit
                            continue
                        } else if (0xDC00..<0xE000).contains(unit), let high = pendingHigh {
                            scalar = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
                        } else {
                            scalar = unit
                        }
                    }
                default: scalar = UInt32(e)   // \" \\ \/
                }
                pendingHigh = nil
                if let scalar, let u = Unicode.Scalar(scalar) { scalars.append(u) }
            } else {
                raw.append(bytes[i])
                i += 1
            }
        }
        flushRaw()
        return (String(scalars), i + 1)
    }
}
