// Execution of whole-model methods (``WholeModelMergeMethod``): statistics passes through a
// ModelScanner, then the merge of every tensor on the workers as they free up, with
// single-threaded BLAS (so results are the same bits at any thread count), written in tensor order. Methods that
// write one model per input get OUTPUT/<name>/ each; the recipe, model card and the method's
// JSON report (`amalgam-report.json`) sit in OUTPUT. Everything is staged and moved into place
// only when complete.

import AmalgamCore
import AmalgamIO
import AmalgamKernels
import AmalgamMerge
import AmalgamRecipe
import Foundation

extension StreamingExecutor {
    /// The per-model output names: each input's last path component, repeated names suffixed.
    static func perModelNames(_ plan: MergePlan) -> [String] {
        guard let first = plan.tensors.first else { return [] }
        var names: [String] = []
        for input in first.models {
            let base = (plan.checkpoints[input.checkpoint].path as NSString).lastPathComponent
            var name = base
            var k = 2
            while names.contains(name) {
                name = "\(base)-\(k)"
                k += 1
            }
            names.append(name)
        }
        return names
    }

    /// A scanner over the plan's tensors, loading inputs as Float64.
    func scanner(_ plan: MergePlan, options: MergeOptions) -> ModelScanner {
        let description = ModelDescription(tensors: plan.tensors.map { ($0.name, $0.shape) }, layerCount: plan.outputLayers,
                                           modelCount: plan.tensors.first?.models.count ?? 0)
        let steps = plan.tensors
        let checkpoints = plan.checkpoints
        let method = plan.method.name
        let contexts = steps.map { context($0, options: options) }
        return ModelScanner(model: description, threads: options.threads) { (index: Int, threads: Int, selection: ModelSelection) throws(MergeError) -> TensorSet in
            let step = steps[index]
            let base = contexts[index]
            let context = MergeContext(tensorName: base.tensorName, global: base.global, perModel: base.perModel, seed: base.seed, threads: threads)
            func load(_ input: PlannedInput) throws(MergeError) -> [Double] {
                let tensor: Tensor
                do { tensor = try checkpoints[input.checkpoint].tensor(named: input.tensorName) } catch {
                    throw .badInputs(tensor: step.name, method: method, reason: "cannot read input '\(input.tensorName)': \(error)")
                }
                // The values are copied out, so the mapped pages can leave the resident set.
                defer { checkpoints[input.checkpoint].release(input.tensorName) }
                // Embedding rows beyond the common vocabulary are cut (a prefix of the elements).
                let count = step.shape.elementCount
                if let rounding = step.loadRounding, tensor.dtype != rounding, tensor.dtype.byteWidth >= rounding.byteWidth {
                    return StreamingExecutor.decode(tensor, 0..<count, rounding).map(Double.init)
                }
                let values = tensor.float64Values()
                return values.count == count ? values : Array(values.prefix(count))
            }
            var models: [[Double]] = []
            for (position, input) in step.models.enumerated() { models.append(selection.includes(position) ? try load(input) : []) }
            return TensorSet(index: index, shape: step.shape, base: try step.base.map(load), models: models, context: context)
        }
    }

    func executeWholeModel<M: WholeModelMergeMethod>(_ plan: MergePlan, method: M.Type, output: String, options: MergeOptions,
                                                     progress: (MergeProgress) -> Void) throws {
        let savedBLASThreads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(savedBLASThreads) }
        let scan = scanner(plan, options: options)
        let names = Self.perModelNames(plan)
        let statistics = try M.statistics(scan)
        let report = M.report(statistics, modelNames: names)
        let planned = plan.tensors.map { PlannedTensor(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        let perModel = M.writesOneModelPerInput
        let staging = perModel ? try StagedOutput(destination: output, overwrite: options.overwrite) : nil
        var writers: [CheckpointWriter] = []
        do {
            if let staging {
                for name in names {
                    writers.append(try CheckpointWriter(destination: staging.path(for: name), tensors: planned,
                                                        maxShardBytes: options.maxShardBytes, overwrite: false))
                }
            } else {
                writers.append(try CheckpointWriter(destination: output, tensors: planned, maxShardBytes: options.maxShardBytes,
                                                    overwrite: options.overwrite))
            }
            progress(.started(tensors: plan.tensors.count, bytes: plan.outputBytes * writers.count))
            var done = 0
            // Tensors go to the workers as they free up; results are written in order.
            let tensors = plan.tensors
            // A tensor costs its inputs in flight, then its outputs until written.
            let resultCost: @Sendable (Int) -> Int = { [writerCount = writers.count] in tensors[$0].shape.elementCount * 8 * writerCount }
            try Parallel.orderedStream(count: tensors.count, threads: scan.threads, lookahead: 2 * scan.threads, budget: ModelScanner.memoryBudget,
                                       cost: { scan.cost(of: $0, models: M.mergeReads) + resultCost($0) }, resultCost: resultCost, early: scan.early,
                                       produce: { index -> Result<[[Double]], MergeError> in
                do throws(MergeError) {
                    return .success(try M.merge(scan.tensor(index, threads: scan.threadShare(of: index), models: M.mergeReads), statistics: statistics))
                } catch {
                    return .failure(error)
                }
            }, consume: { index, result in
                let step = tensors[index]
                let outputs = try result.get()
                guard outputs.count == writers.count, outputs.allSatisfy({ $0.count == step.shape.elementCount }) else {
                    throw MergeError.badInputs(tensor: step.name, method: M.name,
                                               reason: "returned \(outputs.count) outputs of \(outputs.map(\.count)) values for \(writers.count) of \(step.shape.elementCount)")
                }
                for (writer, values) in zip(writers, outputs) {
                    try writer.write(step.name, Tensor(float64: values, shape: step.shape, dtype: step.dtype))
                }
                done += step.outputBytes * writers.count
                progress(.tensorDone(index: index, name: step.name, bytesDone: done))
            })
            let reportBytes = try report.map { report -> [UInt8] in
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                return Array(try encoder.encode(report)) + [10]
            }
            if let staging {
                var sideOptions = options
                sideOptions.writeModelCard = false
                for writer in writers {
                    try writeSideFiles(plan, writer: writer, options: sideOptions)
                    try writer.finish()
                }
                try Data(plan.recipe.text.utf8).write(to: URL(fileURLWithPath: staging.path(for: "amalgam-recipe.yaml")))
                if let reportBytes { try Data(reportBytes).write(to: URL(fileURLWithPath: staging.path(for: "amalgam-report.json"))) }
                if options.writeModelCard {
                    let card = ModelCard(plan: plan, outputName: (output as NSString).lastPathComponent).text
                    try Data(card.utf8).write(to: URL(fileURLWithPath: staging.path(for: "README.md")))
                }
                try staging.commit()
            } else {
                if let reportBytes { try writers[0].addFile(named: "amalgam-report.json", contents: reportBytes) }
                try writeSideFiles(plan, writer: writers[0], options: options)
                try writers[0].finish()
            }
        } catch {
            for writer in writers { writer.abort() }
            staging?.discard()
            throw error
        }
    }
}
