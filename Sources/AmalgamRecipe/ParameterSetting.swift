import AmalgamMerge

/// A parameter as written in a recipe: a scalar, a gradient (list), or filtered alternatives.
///
/// Evaluation for one tensor (mergekit's rules):
/// - a list of numbers is a gradient: piecewise-linear over equally spaced anchors at `t` in [0, 1];
///   a list of booleans or strings is a step function, `L[⌊t·(n−1)⌋]`;
/// - conditionals are scanned in order; the first whose `filter` is a substring of the tensor
///   name (or is absent or `*`) gives the value; none matching means "unset".
public indirect enum ParameterSetting: Sendable, Equatable {
    case scalar(ParameterValue)
    case list([ParameterValue])
    case conditional([ConditionalSetting])

    /// The value for `tensorName` at depth `t` (0 for pre/post-layer tensors), or nil when unset.
    public func value(tensorName: String, t: Double) -> ParameterValue? {
        switch self {
        case .scalar(let value):
            return value
        case .list(let values):
            guard !values.isEmpty else { return nil }
            let numbers = values.compactMap { value -> Double? in
                if case .number(let n) = value { return n }
                return nil
            }
            let position = min(max(t, 0), 1) * Double(values.count - 1)
            if numbers.count == values.count {
                let i0 = Int(position.rounded(.down))
                let i1 = min(values.count - 1, i0 + 1)
                let fraction = position - Double(i0)
                return .number((1 - fraction) * numbers[i0] + fraction * numbers[i1])
            }
            return values[Int(position)]
        case .conditional(let alternatives):
            for alternative in alternatives where alternative.matches(tensorName) {
                return alternative.value.value(tensorName: tensorName, t: t)
            }
            return nil
        }
    }

    /// Every literal value (for type and range checks).
    public var literals: [ParameterValue] {
        switch self {
        case .scalar(let value): [value]
        case .list(let values): values
        case .conditional(let alternatives): alternatives.flatMap(\.value.literals)
        }
    }
}

/// One `{filter, value}` alternative.
public struct ConditionalSetting: Sendable, Equatable {
    /// Substring of the tensor name; nil or `*` matches every tensor.
    public let filter: String?
    public let value: ParameterSetting

    public init(filter: String?, value: ParameterSetting) {
        self.filter = filter
        self.value = value
    }

    func matches(_ tensorName: String) -> Bool {
        guard let filter, filter != "*" else { return true }
        return tensorName.contains(filter)
    }
}
