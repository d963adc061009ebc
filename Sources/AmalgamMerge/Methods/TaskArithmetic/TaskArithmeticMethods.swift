// The eight GTA configurations. See GeneralizedTaskArithmetic.swift for the math.

/// A configuration of the GTA engine: everything but the name, summary, parameters and
/// configuration comes from here.
public protocol TaskArithmeticFamily: ChunkedMergeMethod {
    static var configuration: TaskArithmeticConfiguration { get }
}

extension TaskArithmeticFamily {
    public static var baseModel: BaseModelRequirement { .required }
    public static var modelCount: ModelCount { .atLeast(1) }

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        try GeneralizedTaskArithmetic.prepare(scan: scan, count: count, shape: shape, hasBase: hasBase, context: context,
                                              configuration: configuration, method: name)
    }
}

import AmalgamCore

/// task_arithmetic: B + λ Σ w_i δ_i (Ilharco et al. 2023, arXiv 2212.04089).
public enum TaskArithmetic: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .none, consensus: false, defaultNormalize: false, defaultRescale: false)
    public static let name = "task_arithmetic"
    public static let summary = "Base plus the weighted sum of task vectors, scaled by lambda."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration)
}

/// ties: magnitude trim, sign election, disjoint (weighted) mean (Yadav et al. 2023, arXiv 2306.01708).
public enum TIES: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .magnitude, consensus: true, defaultNormalize: true, defaultRescale: false)
    public static let name = "ties"
    public static let summary = "Trim task vectors to their largest magnitudes, elect signs, average the agreeing values."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration)
}

/// dare_ties: random drop with L1 rescale, then TIES sign consensus (Yu et al. 2024, arXiv 2311.03099).
public enum DARETIES: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .random, consensus: true, defaultNormalize: false, defaultRescale: true)
    public static let name = "dare_ties"
    public static let summary = "Randomly drop task-vector elements (rescaled), then TIES sign consensus. Seeded."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration)
}

/// dare_linear: random drop with L1 rescale, then a plain weighted sum.
public enum DARELinear: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .random, consensus: false, defaultNormalize: false, defaultRescale: true)
    public static let name = "dare_linear"
    public static let summary = "Randomly drop task-vector elements (rescaled), then sum. Seeded."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration)
}

private let gammaSpec = ParameterSpec("gamma", .perModel, default: .number(0.01), range: 0...1, doc: "fraction of largest magnitudes dropped")
private let epsilonSpec = ParameterSpec("epsilon", .perModel, default: .number(0.15), range: 0...1, doc: "spread of keep probabilities around density")

/// breadcrumbs: drop the largest and smallest magnitudes, then sum (Davari & Belilovsky 2023, arXiv 2312.06795).
public enum Breadcrumbs: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .magnitudeOutliers, consensus: false, defaultNormalize: false, defaultRescale: false)
    public static let name = "breadcrumbs"
    public static let summary = "Drop the largest (gamma) and smallest magnitudes (keeping density), then sum."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration, extra: [gammaSpec])
}

/// breadcrumbs_ties: breadcrumbs trimming with TIES sign consensus.
public enum BreadcrumbsTIES: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .magnitudeOutliers, consensus: true, defaultNormalize: false, defaultRescale: false)
    public static let name = "breadcrumbs_ties"
    public static let summary = "Breadcrumbs trimming, then TIES sign consensus."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration, extra: [gammaSpec])
}

/// della: magnitude-ranked random drop (rescaled), TIES consensus (Deep et al. 2024, arXiv 2406.11617).
public enum DELLA: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .dellaMagprune, consensus: true, defaultNormalize: true, defaultRescale: true)
    public static let name = "della"
    public static let summary = "Drop with probability falling with magnitude rank (rescaled), then TIES consensus. Seeded."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration, extra: [epsilonSpec])
    public static func validate(global: [String: ParameterValue], perModel: [String: ParameterValue]) -> String? {
        validateDELLA(perModel)
    }
}

/// della_linear: DELLA's drop without sign consensus.
public enum DELLALinear: TaskArithmeticFamily {
    public static let configuration = TaskArithmeticConfiguration(sparsification: .dellaMagprune, consensus: false, defaultNormalize: false, defaultRescale: true)
    public static let name = "della_linear"
    public static let summary = "DELLA's magnitude-ranked random drop (rescaled), then sum. Seeded."
    public static let parameters = GeneralizedTaskArithmetic.parameters(configuration, extra: [epsilonSpec])
    public static func validate(global: [String: ParameterValue], perModel: [String: ParameterValue]) -> String? {
        validateDELLA(perModel)
    }
}

/// DELLA needs 0 < density − ε and density + ε < 1 (when density < 1).
private func validateDELLA(_ perModel: [String: ParameterValue]) -> String? {
    let density = perModel["density"]?.number ?? 1
    let epsilon = perModel["epsilon"]?.number ?? 0.15
    guard density < 1 else { return nil }
    if density - epsilon <= 0 || density + epsilon >= 1 {
        return "density ± epsilon must stay inside (0, 1): density \(density), epsilon \(epsilon)"
    }
    return nil
}
