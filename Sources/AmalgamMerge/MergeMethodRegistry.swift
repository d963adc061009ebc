import Foundation
import AmalgamCore

/// The methods Amalgam knows, by recipe name.
public struct MergeMethodRegistry: Sendable {
    private var methods: [String: any MergeMethod.Type]
    /// Names in registration order.
    public private(set) var names: [String]

    public init(_ methods: [any MergeMethod.Type] = []) {
        self.methods = [:]
        self.names = []
        for method in methods { register(method) }
    }

    /// Adds a method (replacing one of the same name).
    public mutating func register(_ method: any MergeMethod.Type) {
        if methods[method.name] == nil { names.append(method.name) }
        methods[method.name] = method
    }

    /// The method called `name`, if any.
    public func method(named name: String) -> (any MergeMethod.Type)? { methods[name] }

    /// The closest known name to a misspelt one.
    public func suggestion(for name: String) -> String? {
        closestName(to: name.replacingOccurrences(of: "-", with: "_"), in: names)
            ?? closestName(to: name, in: names)
    }
}
