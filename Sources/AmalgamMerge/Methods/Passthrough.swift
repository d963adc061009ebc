// passthrough: copies its single input tensor, optionally scaled. With `slices:` it builds
// frankenmerges (layers stacked from several models, renumbered by the planner).
//
// | parameter | scope     | default |
// | scale     | per model | none (no scaling) |

import AmalgamCore

/// Copy one input (optionally scaled).
public enum Passthrough: MergeMethod {
    public static let name = "passthrough"
    public static let summary = "Copy the one input tensor (optionally scaled); with slices, stack layers from several models."
    public static let baseModel = BaseModelRequirement.unused
    public static let modelCount = ModelCount.exactly(1)
    public static let parameters = [
        ParameterSpec("scale", .perModel, optional: true, doc: "multiply the tensor by this factor"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        guard inputs.models.count == 1 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs exactly one input tensor, got \(inputs.models.count)")
        }
        guard let scale = context.number("scale", model: 0), scale != 1 else { return inputs.models[0] }
        return inputs.models[0].map { Float(Double($0) * scale) }
    }
}
