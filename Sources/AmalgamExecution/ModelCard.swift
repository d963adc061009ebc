import AmalgamMerge
import AmalgamRecipe

/// The README.md written beside a merged model, in the layout Hugging Face users know from merged
/// models: YAML front matter (base models, tags), what was merged and how, and the recipe.
struct ModelCard {
    let plan: MergePlan
    let outputName: String

    /// The Amalgam version written into cards.
    static let amalgamVersion = "0.1.0"

    var text: String {
        let recipe = plan.recipe
        let bases = [recipe.baseModel].compactMap { $0 } + recipe.slices.compactMap(\.baseModel)
        let others = recipe.modelReferences.filter { !bases.contains($0) }
        var lines = ["---"]
        lines += ["base_model:"] + recipe.modelReferences.map { "- \($0)" }
        lines += ["library_name: transformers", "tags:", "- merge", "- amalgam", "- \(recipe.mergeMethod)", "---", ""]
        lines += ["# \(outputName)", ""]
        lines += ["This model is a merge of pre-trained language models, made with Amalgam \(Self.amalgamVersion).", ""]
        lines += ["## Merge details", "", "### Method", ""]
        let methodLine = "The \(recipe.mergeMethod) method: \(plan.method.summary)"
        lines += [bases.isEmpty ? methodLine : methodLine + " Base model: \(bases.map { "`\($0)`" }.joined(separator: ", ")).", ""]
        lines += ["### Models merged", ""] + others.map { "* `\($0)`" } + [""]
        lines += ["### Output", "", "\(plan.tensors.count) tensors" + (plan.outputLayers.map { ", \($0) layers" } ?? "") + ".", ""]
        lines += ["### Recipe", "", "The recipe that produced this model (also in `amalgam-recipe.yaml`):", "", "```yaml"]
        lines += [recipe.text.hasSuffix("\n") ? String(recipe.text.dropLast()) : recipe.text, "```", ""]
        return lines.joined(separator: "\n")
    }
}
