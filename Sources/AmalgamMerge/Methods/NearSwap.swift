// nearswap: take the other model's value where it is close to the base, keep the base where
// they are far apart (used for the QuartetAnemoi models).
//
//   w   = clamp(t / max(|a − b|, 1e-6), 0, 1)   elementwise; a = base, b = the other model
//   out = w·b + (1 − w)·a
//
// | parameter | scope  | default  |
// | t         | global | required |

import AmalgamCore

/// Elementwise near-value swap.
public enum NearSwap: ChunkedMergeMethod {
    public static let name = "nearswap"
    public static let summary = "Take the other model's value where it is near the base (|a−b| small relative to t)."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.exactly(1)
    public static let parameters = [
        ParameterSpec("t", .global, doc: "closeness scale: weight of the other model is clamp(t/|a−b|, 0, 1)"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        guard hasBase, context.perModel.count == 1 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and one other model")
        }
        return Kernel(t: context.number("t") ?? 0)
    }

    struct Kernel: ChunkKernel {
        let t: Double
        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let a = chunk.base else { return [] }
            let b = chunk.models[0]
            var out = [Float](repeating: 0, count: a.count)
            for j in out.indices {
                let x = Double(a[j]), y = Double(b[j])
                let w = min(max(t / max(abs(x - y), 1e-6), 0), 1)
                out[j] = Float(w * y + (1 - w) * x)
            }
            return out
        }
    }
}
