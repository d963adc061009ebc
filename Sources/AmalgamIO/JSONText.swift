// Shared JSON reading for the formats AmalgamIO parses (safetensors headers, shard indexes,
// config.json): Foundation does the parsing; this file turns its results and failures into the
// shapes and one-line reasons the format-specific errors need.

import Foundation

/// Why some bytes are not a JSON object.
enum JSONTextFailure: Error, Equatable {
    /// Not UTF-8, or not JSON; the reason is one line.
    case invalid(String)
    /// Valid JSON, but not an object.
    case notObject
}

/// Helpers over Foundation's JSONSerialization.
enum JSONText {
    /// `bytes` parsed as a JSON object.
    static func object(from bytes: [UInt8]) -> Result<[String: Any], JSONTextFailure> {
        guard String(validating: bytes, as: UTF8.self) != nil else { return .failure(.invalid("not UTF-8")) }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            return .failure(.invalid(shortReason(error)))
        }
        guard let object = parsed as? [String: Any] else { return .failure(.notObject) }
        return .success(object)
    }

    /// A JSON number that is a non-negative integer (not a boolean, not fractional), else nil.
    static func nonNegativeInteger(_ value: Any) -> Int? {
        // JSON booleans arrive as NSNumber too; their Objective-C type code is "c".
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        let double = number.doubleValue
        guard double >= 0, double.rounded() == double, double < 9.0e18 else { return nil }
        let integer = number.int64Value
        guard integer >= 0, Double(integer) == double else { return nil }
        return Int(integer)
    }

    /// A parsed JSON value written back the way it appeared: `true`, `"4"`, `2.5`, `[...]`.
    static func describe(_ value: Any) -> String {
        if let number = value as? NSNumber, String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        if let text = value as? String { return "\"\(text)\"" }
        if value is NSNull { return "null" }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "\(value)"
    }

    /// The first line of a Foundation error, preferring its debug description.
    static func shortReason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable"
    }
}
