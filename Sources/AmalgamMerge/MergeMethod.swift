import AmalgamCore

/// A recipe parameter's value after gradients and filters are evaluated for one tensor.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case bool(Bool)
    case string(String)

    /// The value as a number (booleans are 0/1), or nil for strings.
    public var number: Double? {
        switch self {
        case .number(let value): value
        case .bool(let value): value ? 1 : 0
        case .string: nil
        }
    }

    /// The value as a flag (numbers are true when non-zero), or nil for strings.
    public var bool: Bool? {
        switch self {
        case .bool(let value): value
        case .number(let value): value != 0
        case .string: nil
        }
    }

    public var description: String {
        switch self {
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .bool(let value): String(value)
        case .string(let value): value
        }
    }
}

/// Where a parameter is set: once per tensor (global) or once per input model.
public enum ParameterScope: String, Sendable {
    case global
    case perModel = "per-model"
}

/// The type a parameter's value must have.
public enum ParameterType: String, Sendable {
    case number, bool, string
}

/// A declared method parameter: name, scope, type, default, allowed range, and a one-line doc.
public struct ParameterSpec: Sendable, Equatable {
    public let name: String
    public let scope: ParameterScope
    public let type: ParameterType
    /// The default, or nil when the parameter is required (or optional without default, see `optional`).
    public let defaultValue: ParameterValue?
    /// True when a missing value is fine even without a default (the method handles nil).
    public let optional: Bool
    /// Inclusive bounds for numbers, when the method needs them.
    public let range: ClosedRange<Double>?
    public let doc: String

    public init(_ name: String, _ scope: ParameterScope, _ type: ParameterType = .number, default defaultValue: ParameterValue? = nil,
                optional: Bool = false, range: ClosedRange<Double>? = nil, doc: String) {
        self.name = name
        self.scope = scope
        self.type = type
        self.defaultValue = defaultValue
        self.optional = optional
        self.range = range
        self.doc = doc
    }

    /// Required: no default and not optional.
    public var isRequired: Bool { defaultValue == nil && !optional }
}

/// Whether a method needs a base model.
public enum BaseModelRequirement: String, Sendable {
    /// The method cannot run without one (task-vector methods).
    case required
    /// The method uses one when given.
    case optional
    /// The method ignores it (it is not an input).
    case unused
}

/// How many non-base input models a method accepts.
public struct ModelCount: Sendable, Equatable {
    public let minimum: Int
    public let maximum: Int?

    public static func atLeast(_ n: Int) -> ModelCount { ModelCount(minimum: n, maximum: nil) }
    public static func exactly(_ n: Int) -> ModelCount { ModelCount(minimum: n, maximum: n) }

    public func admits(_ n: Int) -> Bool { n >= minimum && (maximum.map { n <= $0 } ?? true) }

    public var description: String {
        if let maximum, maximum == minimum { return "exactly \(minimum)" }
        if let maximum { return "\(minimum) to \(maximum)" }
        return "at least \(minimum)"
    }
}

/// The Float32 working tensors one merge step sees.
public struct MergeInputs: Sendable {
    /// The base model's tensor (nil when the method has no base).
    public var base: [Float]?
    /// The other input models' tensors, in recipe order.
    public var models: [[Float]]
    /// The (common) shape.
    public let shape: Shape

    public init(base: [Float]?, models: [[Float]], shape: Shape) {
        self.base = base
        self.models = models
        self.shape = shape
    }

    /// Elements per tensor.
    public var count: Int { shape.elementCount }
}

/// Everything else a merge step may use: the tensor name, the resolved parameters, a seeded
/// random stream, the thread budget.
public struct MergeContext: Sendable {
    /// The output tensor name.
    public let tensorName: String
    /// Global parameters, defaults applied.
    public let global: [String: ParameterValue]
    /// Per-model parameters for each non-base input, defaults applied.
    public let perModel: [[String: ParameterValue]]
    /// The global random seed (`--random-seed`).
    public let seed: UInt64
    /// Threads the method may use.
    public let threads: Int

    public init(tensorName: String, global: [String: ParameterValue], perModel: [[String: ParameterValue]], seed: UInt64 = 0,
                threads: Int = 1) {
        self.tensorName = tensorName
        self.global = global
        self.perModel = perModel
        self.seed = seed
        self.threads = threads
    }

    /// A global number (the planner guarantees required ones are present).
    public func number(_ name: String) -> Double? { global[name]?.number }
    /// A global flag.
    public func flag(_ name: String) -> Bool? { global[name]?.bool }
    /// A per-model number.
    public func number(_ name: String, model: Int) -> Double? { perModel[model][name]?.number }

    /// The random stream of input model `model` for this tensor: keyed by (seed, tensor, model).
    public func random(model: Int) -> SeededRandom {
        SeededRandom(seed: seed, stream: "\(tensorName)\u{1F}\(model)")
    }
}

/// A merge method: declared parameters and a pure function from input tensors to one output.
///
/// Methods do no I/O and no dtype handling: they get Float32 tensors and return Float32 values,
/// which the executor rounds once to the output dtype. Randomized methods draw only from
/// ``MergeContext/random(model:)``, so results never depend on threads or tensor order.
public protocol MergeMethod: Sendable {
    /// Registry key, as in recipes (`dare_ties`).
    static var name: String { get }
    /// One line for `amalgam methods`.
    static var summary: String { get }
    /// Declared parameters.
    static var parameters: [ParameterSpec] { get }
    /// Base model need.
    static var baseModel: BaseModelRequirement { get }
    /// Accepted number of non-base models.
    static var modelCount: ModelCount { get }

    /// Merges one tensor.
    static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float]

    /// Checks one input model's resolved parameters (with the global ones) beyond their declared
    /// ranges; returns a problem sentence or nil. Runs at validation, before any tensor is read.
    static func validate(global: [String: ParameterValue], perModel: [String: ParameterValue]) -> String?

    /// Checks the resolved global parameters against the number of non-base input models;
    /// returns a problem sentence or nil. Runs at validation, before any tensor is read.
    static func validate(global: [String: ParameterValue], modelCount: Int) -> String?
}

extension MergeMethod {
    public static func validate(global: [String: ParameterValue], perModel: [String: ParameterValue]) -> String? { nil }
    public static func validate(global: [String: ParameterValue], modelCount: Int) -> String? { nil }
}

/// Errors raised while merging a tensor (recipe errors are caught earlier by validation).
public enum MergeError: AmalgamDiagnostic, Equatable {
    /// The inputs do not fit the method (count or shape).
    case badInputs(tensor: String, method: String, reason: String)
    /// A numeric failure the method cannot recover from.
    case numeric(tensor: String, method: String, reason: String)

    public var location: DiagnosticLocation {
        switch self {
        case .badInputs(let tensor, _, _), .numeric(let tensor, _, _): DiagnosticLocation(tensor: tensor)
        }
    }

    public var description: String {
        switch self {
        case .badInputs(let tensor, let method, let reason): "tensor '\(tensor)': \(method): \(reason)"
        case .numeric(let tensor, let method, let reason): "tensor '\(tensor)': \(method): \(reason)"
        }
    }
}
