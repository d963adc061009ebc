import AmalgamCore
import AmalgamIO
import AmalgamKernels
import Foundation

/// What `amalgam inspect` shows: a summary of the checkpoint and one row per tensor.
/// Built once, rendered as a table or as JSON.
struct InspectReport: Encodable {
    struct Summary: Encodable {
        var path: String
        var architecture: String?
        var modelType: String?
        var layers: Int?
        var hiddenSize: Int?
        var vocabSize: Int?
        var configDType: String?
        var tiedEmbeddings: Bool
        var tiedEmbeddingsSource: String
        var tensorCount: Int
        var parameters: Int
        var bytes: Int
        var shards: [String]
        var dtypes: [DTypeShare]
        var auxiliaryFiles: [String]

        enum CodingKeys: String, CodingKey {
            case path, architecture, layers, parameters, bytes, shards, dtypes
            case modelType = "model_type", hiddenSize = "hidden_size", vocabSize = "vocab_size"
            case configDType = "config_dtype", tiedEmbeddings = "tied_embeddings"
            case tiedEmbeddingsSource = "tied_embeddings_source", tensorCount = "tensor_count"
            case auxiliaryFiles = "auxiliary_files"
        }
    }

    struct DTypeShare: Encodable {
        var dtype: String
        var tensors: Int
        var parameters: Int
        var bytes: Int
    }

    struct Statistics: Encodable {
        var min: Double
        var max: Double
        var mean: Double
        var std: Double
        var nan: Int
        var inf: Int
    }

    struct Row: Encodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var parameters: Int
        var bytes: Int
        var shard: String
        var stats: Statistics?
    }

    var summary: Summary
    var tensors: [Row]

    /// Reads headers (and, with `statistics`, every tensor's values on `threads` threads).
    init(checkpoint: Checkpoint, statistics: Bool, threads: Int) throws {
        var rows: [Row] = []
        var shares: [DType: DTypeShare] = [:]
        for name in checkpoint.tensorNames {
            guard let info = checkpoint.info(name), let shardPath = checkpoint.shardPath(of: name) else { continue }
            var row = Row(name: name, dtype: info.dtype.rawValue, shape: info.shape.dimensions, parameters: info.elementCount,
                          bytes: info.byteCount, shard: (shardPath as NSString).lastPathComponent)
            if statistics {
                let moments = try checkpoint.tensor(named: name).moments(threads: threads)
                row.stats = Statistics(min: Double(moments.min), max: Double(moments.max), mean: moments.mean,
                                       std: moments.standardDeviation, nan: moments.nanCount, inf: moments.infCount)
            }
            rows.append(row)
            var share = shares[info.dtype] ?? DTypeShare(dtype: info.dtype.rawValue, tensors: 0, parameters: 0, bytes: 0)
            share.tensors += 1
            share.parameters += info.elementCount
            share.bytes += info.byteCount
            shares[info.dtype] = share
        }
        let config = checkpoint.config
        let tied: Bool
        let tiedSource: String
        if let value = config?.tieWordEmbeddings {
            tied = value
            tiedSource = "config.json"
        } else {
            let hasHead = checkpoint.info("lm_head.weight") != nil
            tied = !hasHead && checkpoint.tensorNames.contains { $0.hasSuffix("embed_tokens.weight") }
            tiedSource = hasHead ? "lm_head.weight present" : "no lm_head.weight"
        }
        summary = Summary(
            path: checkpoint.path, architecture: config?.architectures.first, modelType: config?.modelType,
            layers: config?.numHiddenLayers, hiddenSize: config?.hiddenSize, vocabSize: config?.vocabSize,
            configDType: config?.dtype, tiedEmbeddings: tied, tiedEmbeddingsSource: tiedSource,
            tensorCount: rows.count, parameters: rows.reduce(0) { $0 + $1.parameters },
            bytes: rows.reduce(0) { $0 + $1.bytes },
            shards: checkpoint.shards.map { ($0.path as NSString).lastPathComponent },
            dtypes: shares.values.sorted { $0.bytes > $1.bytes }, auxiliaryFiles: checkpoint.auxiliaryFiles)
        tensors = rows
    }

    /// Pretty JSON: `{"summary": {...}, "tensors": [...]}`.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The human-readable report: the tensor table, its totals, then the summary.
    func text() -> String {
        let withStats = tensors.first?.stats != nil
        var columns: [(String, TextTable.Alignment)] = [
            ("name", .left), ("dtype", .left), ("shape", .left), ("parameters", .right), ("bytes", .right), ("shard", .left),
        ]
        if withStats {
            columns += [("min", .right), ("max", .right), ("mean", .right), ("std", .right), ("nan", .right), ("inf", .right)]
        }
        var table = TextTable(columns)
        for row in tensors {
            var cells = [row.name, row.dtype, Shape(row.shape).description, grouped(row.parameters),
                         ByteCount.format(row.bytes), row.shard]
            if let s = row.stats {
                cells += [compact(s.min), compact(s.max), compact(s.mean), compact(s.std), String(s.nan), String(s.inf)]
            }
            table.append(cells)
        }
        var footer = ["total (\(summary.tensorCount) tensors)", "", "", grouped(summary.parameters),
                      ByteCount.format(summary.bytes), "\(summary.shards.count) shard\(summary.shards.count == 1 ? "" : "s")"]
        if withStats {
            let nan = tensors.reduce(0) { $0 + ($1.stats?.nan ?? 0) }
            let inf = tensors.reduce(0) { $0 + ($1.stats?.inf ?? 0) }
            footer += ["", "", "", "", String(nan), String(inf)]
        }
        let s = summary
        let unknown = "(no config.json)"
        let mix = s.dtypes.map { share in
            let percent = s.bytes > 0 ? Double(share.bytes) * 100 / Double(s.bytes) : 0
            return "\(share.dtype) \(share.tensors) tensors (\(String(format: "%.1f", percent))% of bytes)"
        }.joined(separator: ", ")
        let lines = [
            "Checkpoint       \(s.path)",
            "Architecture     \(s.architecture.map { "\($0)" + (s.modelType.map { " (\($0))" } ?? "") } ?? unknown)",
            "Layers           \(s.layers.map(String.init) ?? unknown)",
            "Hidden size      \(s.hiddenSize.map(String.init) ?? unknown)",
            "Vocabulary       \(s.vocabSize.map(String.init) ?? unknown)",
            "Tied embeddings  \(s.tiedEmbeddings ? "yes" : "no") (\(s.tiedEmbeddingsSource))",
            "Config dtype     \(s.configDType ?? "-")",
            "Dtype mix        \(mix.isEmpty ? "-" : mix)",
            "Parameters       \(grouped(s.parameters)) in \(s.tensorCount) tensors, \(ByteCount.format(s.bytes)) in \(s.shards.count) shard\(s.shards.count == 1 ? "" : "s")",
            "Other files      \(s.auxiliaryFiles.isEmpty ? "-" : s.auxiliaryFiles.joined(separator: ", "))",
        ]
        return table.rendered(footer: footer) + "\n\n" + lines.joined(separator: "\n")
    }
}
