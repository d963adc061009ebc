import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamRecipe
import AmalgamTestSupport
import Foundation
import Testing

/// Runs the recipe of a mergekit fixture case (paths made absolute) into `output`.
func runCase(_ name: String, output: String, seed: UInt64 = 1234, threads: Int = 2, overwrite: Bool = false) throws -> MergePlan {
    let folder = Fixtures.file("mergekit/cases/\(name)")
    let text = try String(contentsOfFile: folder + "/config.yaml", encoding: .utf8)
        .replacingOccurrences(of: "models/", with: Fixtures.file("mergekit/models") + "/")
    let recipe = try RecipeParser().parse(text, path: folder + "/config.yaml")
    var options = MergeOptions()
    options.seed = seed
    options.threads = threads
    options.overwrite = overwrite
    options.maxShardBytes = nil
    let plan = try Planner().plan(recipe, output: output, options: options)
    try StreamingExecutor().execute(plan, output: output, options: options)
    return plan
}

/// max|a − e| / max|e| per tensor, with the tensor sets and shapes required to match.
func compare(_ actualPath: String, _ expectedPath: String, rtol: Double, maxMismatchFraction: Double = 0) throws -> (worst: Double, failures: [String]) {
    let actual = try Checkpoint(opening: actualPath)
    let expected = try Checkpoint(opening: expectedPath)
    #expect(actual.tensorNames == expected.tensorNames)
    var worst = 0.0
    var failures: [String] = []
    for name in expected.tensorNames {
        let e = try expected.tensor(named: name)
        guard let a = try? actual.tensor(named: name) else {
            failures.append("\(name): missing")
            continue
        }
        if a.dtype != e.dtype || a.shape != e.shape {
            failures.append("\(name): \(a.dtype) \(a.shape) vs \(e.dtype) \(e.shape)")
            continue
        }
        let x = a.float32Values(), y = e.float32Values()
        let scale = y.reduce(0.0) { max($0, Double(abs($1))) }
        let diff = zip(x, y).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
        let relative = scale > 0 ? diff / scale : diff
        let bound = 1e-12 + rtol * scale
        let mismatched = zip(x, y).filter { abs(Double($0.0) - Double($0.1)) > bound }.count
        if maxMismatchFraction > 0 {
            if Double(mismatched) > maxMismatchFraction * Double(y.count) { failures.append("\(name): \(mismatched) of \(y.count) elements differ") }
        } else {
            worst = max(worst, relative)
            if diff > bound { failures.append("\(name): rel err \(relative)") }
        }
    }
    return (worst, failures)
}

/// rtol for a case's `compare.precision`, and its `compare.max_mismatch_fraction` (0 when absent).
func tolerance(ofCase name: String) throws -> (rtol: Double, maxMismatchFraction: Double) {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.file("mergekit/cases/\(name)/case.json")))
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    let compare = object?["compare"] as? [String: Any]
    let fraction = compare?["max_mismatch_fraction"] as? Double ?? 0
    switch compare?["precision"] as? String {
    case "bfloat16": return (0x1p-7, fraction)
    case "float16": return (0x1p-10, fraction)
    case "float64": return (1e-12, fraction)
    default: return (1e-5, fraction)
    }
}
