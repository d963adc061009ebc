/// The dimensions of a tensor, outermost first (row-major, as safetensors stores them).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The dimensions.
    public let dimensions: [Int]

    /// Creates a shape. Traps on a negative dimension (validated input never has one).
    public init(_ dimensions: [Int]) {
        precondition(dimensions.allSatisfy { $0 >= 0 }, "negative dimension in \(dimensions)")
        self.dimensions = dimensions
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    /// Number of dimensions.
    public var rank: Int { dimensions.count }

    /// Number of elements (1 for a scalar), or nil when the product overflows `Int`.
    public var checkedElementCount: Int? {
        var total = 1
        for d in dimensions {
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Number of elements. Traps on overflow (validated shapes never overflow).
    public var elementCount: Int {
        guard let count = checkedElementCount else { preconditionFailure("element count of \(dimensions) overflows") }
        return count
    }

    /// `[4096, 11008]`.
    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
