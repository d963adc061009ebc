// Per-element cost of the task-vector hot loops on one 16 Ki-element block (the executor's block
// size, cache-resident), one core: the fused TIES / DARE / task-arithmetic kernels, and the
// counting pass of the rank selection with and without a materialised |δ| array.
//
// Run: swift run -c release --package-path Benchmarks MergeKernelBenchmark [label filter]

import AmalgamKernels
import Foundation

func values(_ n: Int, seed: UInt64, scale: Float) -> [Float] {
    var state = seed
    return (0..<n).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Float(state >> 40) / Float(1 << 24) - 0.5) * scale
    }
}

/// Only the cases whose label contains the first argument, when one is given.
let only = CommandLine.arguments.dropFirst().first

func time(_ label: String, elements: Int, repeats: Int, _ body: () -> Float) {
    if let only, !label.contains(only) { return }
    var best = Double.infinity
    var sink: Float = 0
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repeats { sink += body() }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let perElement = best / Double(elements * repeats) * 1e9
    print(label.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%6.3f ns/element", perElement) + (sink == 42 ? " " : ""))
}

let n = 1 << 14, repeats = 2000
let base = values(n, seed: 1, scale: 2)
let models = [values(n, seed: 2, scale: 2).enumerated().map { base[$0] + $1 * 0.01 },
              values(n, seed: 3, scale: 2).enumerated().map { base[$0] + $1 * 0.01 }]
let threshold = MergeKernels.selectRank(MergeKernels.absoluteDifference(models[0], base), rank: n / 2)

print("2 models, block of \(n) elements (best of 5 runs of \(repeats) blocks)")
time("ties: fused taskVectorConsensus (density 0.5)", elements: n, repeats: repeats) {
    let rules = [KeepRule](repeating: .window(low: threshold, keepLow: true, high: .infinity, keepHigh: true), count: 2)
    return MergeKernels.taskVectorConsensus(base: base, models: models, rules: rules, scales: [0.5, 0.5], weights: [0.5, 0.5],
                                            normalize: true, lambda: 1)[7]
}
time("dare_ties: taskVectorConsensus with masks", elements: n, repeats: repeats) {
    let rules = (0..<2).map { KeepRule.mask(MergeKernels.bernoulliMask(key: UInt64($0), start: 0, count: n, probability: 0.5)) }
    return MergeKernels.taskVectorConsensus(base: base, models: models, rules: rules, scales: [0.5, 0.5], weights: [0.5, 0.5],
                                            normalize: false, lambda: 1)[7]
}
time("task_arithmetic: taskVectorSum", elements: n, repeats: repeats) {
    MergeKernels.taskVectorSum(base: base, models: models, rules: [.all, .all], scales: [0.5, 0.5], factor: 1)[7]
}
time("linear: weightedSum", elements: n, repeats: repeats) {
    MergeKernels.weightedSum(models, weights: [0.5, 0.5])[7]
}
var flip = 0   // alternates the operands, so the pure reduction is not hoisted out of the loop
time("slerp: normsAndDot", elements: n, repeats: repeats) {
    flip ^= 1
    return Float(MergeKernels.normsAndDot(models[flip], models[1 - flip]).ab)
}
time("slerp: blend", elements: n, repeats: repeats) {
    MergeKernels.blend(models[0], models[1], 0.4, 0.6)[7]
}
let width = threshold * 0.02
time("counting pass: |δ| array, then bracketCounts", elements: n, repeats: repeats) {
    var between: [Double] = []
    let counts = MergeKernels.bracketCounts(MergeKernels.absoluteDifference(models[0], base), low: threshold - width, high: threshold + width,
                                            between: &between)
    return Float(counts.below + between.count)
}
time("counting pass: fused bracketCounts(differenceOf:)", elements: n, repeats: repeats) {
    var between: [Double] = []
    let counts = MergeKernels.bracketCounts(differenceOf: models[0], base, low: threshold - width, high: threshold + width, between: &between)
    return Float(counts.below + between.count)
}
