// Errors from reading tokenizer.json: each names the file and the JSON path of what is wrong.

import Foundation

/// A tokenizer that cannot be loaded. Unsupported components are errors, never approximations.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read or is not JSON.
    case unreadable(path: String, reason: String)
    /// A key is missing or has the wrong type.
    case malformed(path: String, key: String, reason: String)
    /// A component (normalizer, pre-tokenizer, model, post-processor, decoder) or an option of one
    /// that Amalgam does not implement.
    case unsupported(path: String, key: String, component: String)
    /// A text or id that cannot be encoded or decoded.
    case unknownId(Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read tokenizer: \(reason)"
        case .malformed(let path, let key, let reason): "\(path): \(key): \(reason)"
        case .unsupported(let path, let key, let component):
            "\(path): \(key): unsupported tokenizer component \(component) (Amalgam refuses rather than approximate)"
        case .unknownId(let id): "token id \(id) is not in the vocabulary"
        }
    }
}

/// Typed access to a parsed JSON object with errors that name the key path.
struct JSONNode {
    let value: Any?
    let key: String
    let file: String

    init(_ value: Any?, key: String, file: String) {
        self.value = value
        self.key = key
        self.file = file
    }

    var isNull: Bool { value == nil || value is NSNull }

    subscript(_ name: String) -> JSONNode {
        JSONNode((value as? [String: Any])?[name], key: key.isEmpty ? name : "\(key).\(name)", file: file)
    }

    func malformed(_ reason: String) -> TokenizerError { .malformed(path: file, key: key, reason: reason) }

    func object() throws(TokenizerError) -> [String: Any] {
        guard let object = value as? [String: Any] else { throw malformed("expected an object") }
        return object
    }

    func array() throws(TokenizerError) -> [JSONNode] {
        guard let array = value as? [Any] else { throw malformed("expected an array") }
        return array.enumerated().map { JSONNode($0.element, key: "\(key)[\($0.offset)]", file: file) }
    }

    func string() throws(TokenizerError) -> String {
        guard let string = value as? String else { throw malformed("expected a string") }
        return string
    }

    func optionalString() throws(TokenizerError) -> String? { isNull ? nil : try string() }

    func bool(default fallback: Bool) throws(TokenizerError) -> Bool {
        if isNull { return fallback }
        guard let flag = value as? Bool else { throw malformed("expected true or false") }
        return flag
    }

    func int() throws(TokenizerError) -> Int {
        if let number = value as? Int { return number }
        if let number = value as? Double, number == number.rounded() { return Int(number) }
        throw malformed("expected an integer")
    }

    func int(default fallback: Int) throws(TokenizerError) -> Int { isNull ? fallback : try int() }

    /// The `type` field of a component object.
    func type() throws(TokenizerError) -> String { try self["type"].string() }
}
