import AmalgamCore
import AmalgamIO
import AmalgamKernels
import AmalgamTestSupport
import Foundation
import Testing

@Suite("Malformed safetensors: each violation is its own one-line error, never a crash")
struct MalformedSafetensorsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let header: String
        let data: [UInt8]
        let declaredLength: UInt64?
        let message: String   // with P standing for the file's path
        var testDescription: String { label }

        init(_ label: String, _ header: String, data: [UInt8] = Array(repeating: 0, count: 14), length: UInt64? = nil, _ message: String) {
            self.label = label
            self.header = header
            self.data = data
            self.declaredLength = length
            self.message = message
        }
    }

    static let a = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    static let cases: [Case] = [
        Case("header length beyond the file", "{}", length: 1000,
             "'P': header length 1000 runs past the end of the file (24 bytes); the file is truncated or not safetensors"),
        Case("huge header length", "{}", length: 200_000_000,
             "'P': header length 200000000 is outside 2...100000000 bytes (100 MB limit); not a safetensors file?"),
        Case("JSON that is not an object", "[1, 2]", data: [], "'P': header JSON is not an object"),
        Case("invalid JSON", "{\"a\": ", data: [], "'P': header is not valid JSON: "),
        Case("unknown dtype", #"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8),
             "'P': tensor 'a': unknown dtype 'Q4' (expected one of F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL)"),
        Case("shape/length mismatch", #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8),
             "'P': tensor 'a': F32 [3] needs 12 bytes, data_offsets span 8"),
        Case("overlapping offsets", "{\(a),\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[4,10]}}",
             "'P': tensor 'b' overlaps tensor 'a'"),
        Case("gapped offsets", "{\(a),\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[10,16]}}", data: Array(repeating: 0, count: 16),
             "'P': tensor 'b' starts at data offset 10, expected 8 (unused bytes before it)"),
        Case("offsets past the data area", "{\(a),\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}", data: Array(repeating: 0, count: 12),
             "'P': tensor 'b': data_offsets [8, 14] lie outside the data area of 12 bytes"),
        Case("trailing bytes", "{\(a)}", data: Array(repeating: 0, count: 12),
             "'P': tensors end at data offset 8 but the data area holds 12 bytes (trailing bytes)"),
        Case("duplicate names", "{\(a),\(a)}", data: Array(repeating: 0, count: 8), "'P': tensor 'a' appears twice in the header"),
        Case("duplicate names, one escaped", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"\u0061":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
             data: Array(repeating: 0, count: 8), "'P': tensor 'a' appears twice in the header"),
        Case("metadata not strings", "{\"__metadata__\":{\"format\":1},\(a)}", data: Array(repeating: 0, count: 8),
             "'P': __metadata__ value for 'format' is not a string"),
        Case("entry not an object", #"{"a":[1]}"#, data: [], "'P': tensor 'a': entry is not an object"),
        Case("negative shape", #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8),
             "'P': tensor 'a': \"shape\" holds -2, not a non-negative integer"),
        Case("boolean offsets", #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[false,true]}}"#, data: [0],
             "'P': tensor 'a': \"data_offsets\" must be two non-negative integers"),
        Case("offsets backwards", #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}"#, data: [0],
             "'P': tensor 'a': data_offsets [1, 0] end before they begin"),
    ]

    @Test("A broken header gives its exact error", arguments: cases)
    func brokenHeader(_ broken: Case) throws {
        let folder = TemporaryDirectory()
        let bytes = SafetensorsBuilder(headerJSON: broken.header, data: broken.data, declaredLength: broken.declaredLength).bytes
        let path = try folder.write("bad.safetensors", bytes)
        let expected = broken.message.replacingOccurrences(of: "'P'", with: "'\(path)'")
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("\(broken.label): opened without error")
        } catch let error as SafetensorsError {
            if broken.label == "invalid JSON" {
                #expect(error.description.hasPrefix(expected))
            } else {
                #expect(error.description == expected)
            }
            #expect(error.location.file == path)
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("A truncated file (shorter than the length prefix) is refused")
    func truncated() throws {
        let folder = TemporaryDirectory()
        let path = try folder.write("short.safetensors", [1, 2, 3, 4, 5])
        #expect(throws: SafetensorsError.truncated(file: path, size: 5)) { try SafetensorsFile(path: path) }
        let cut = Array(SafetensorsBuilder.valid.bytes.dropLast(3))
        let cutPath = try folder.write("cut.safetensors", cut)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: cutPath) }
    }

    @Test("The hand-built valid file reads back its values")
    func validFile() throws {
        let folder = TemporaryDirectory()
        let file = try SafetensorsFile(path: folder.write("ok.safetensors", SafetensorsBuilder.valid.bytes))
        #expect(file.header.metadata == ["format": "pt"])
        #expect(file.tensor(named: "a")?.float32Values() == [1, 2])
        #expect(file.tensor(named: "b")?.float32Values() == [1, -2, 0.5])
    }

    /// Mutates a valid file at random (seeded): flips, overwrites, truncates, extends. Every
    /// outcome must be a thrown SafetensorsError or a file whose every tensor can be decoded.
    @Test("Fuzz: 4,000 seeded mutations give clean errors or valid reads")
    func fuzz() throws {
        let folder = TemporaryDirectory()
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: Fixtures.path("llama_bf16/base/model.safetensors"))))
        let headerLength = Int(original[0]) | Int(original[1]) << 8
        var generator = SeededGenerator(seed: 2026)
        var errors = 0, reads = 0
        for iteration in 0..<4000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                // Most mutations land in the length prefix and header, where parsing happens.
                let limit = Bool.random(using: &generator) ? min(bytes.count, 8 + headerLength) : bytes.count
                guard limit > 0 else { break }
                let at = Int.random(in: 0..<limit, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                case 1: bytes[at] = UInt8.random(in: 0...255, using: &generator)
                case 2: bytes[at] = Array("{}[]\",:0123456789-e.".utf8).randomElement(using: &generator) ?? 0
                case 3: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &generator)))
                default: bytes.insert(contentsOf: Array(repeating: UInt8(ascii: " "), count: Int.random(in: 1...9, using: &generator)), at: at)
                }
            }
            let path = try folder.write("fuzz-\(iteration % 8).safetensors", bytes)
            do {
                let file = try SafetensorsFile(path: path)
                for info in file.tensorInfos {
                    let tensor = file.tensor(info)
                    #expect(tensor.bytes.count == info.elementCount * info.dtype.byteWidth)
                    _ = tensor.moments()
                }
                reads += 1
            } catch is SafetensorsError {
                errors += 1
            }
        }
        #expect(errors + reads == 4000)
        #expect(errors > 1000, "mutations should mostly break the file")
    }
}

@Suite("Broken shard indexes")
struct ShardIndexErrorTests {
    /// A copy of the sharded fixture whose index is replaced by `edit(index)`.
    static func shardedCopy(editing edit: (inout [String: Any]) -> Void) throws -> TemporaryDirectory {
        let folder = TemporaryDirectory()
        let source = Fixtures.path("llama_f32/ft_c")
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try folder.write(name, Array(Data(contentsOf: URL(fileURLWithPath: (source as NSString).appendingPathComponent(name)))))
        }
        let indexPath = folder.child("model.safetensors.index.json")
        var index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexPath))) as? [String: Any])
        edit(&index)
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: indexPath))
        return folder
    }

    static func weightMap(_ index: inout [String: Any], _ change: (inout [String: String]) -> Void) {
        var map = index["weight_map"] as? [String: String] ?? [:]
        change(&map)
        index["weight_map"] = map
    }

    @Test("An index naming a missing shard")
    func missingShard() throws {
        let folder = try Self.shardedCopy { index in Self.weightMap(&index) { $0["model.norm.weight"] = "model-00009-of-00009.safetensors" } }
        #expect(throws: SafetensorsError.missingShard(index: folder.child("model.safetensors.index.json"),
                                                      shard: "model-00009-of-00009.safetensors", tensor: "model.norm.weight")) {
            try Checkpoint(opening: folder.path)
        }
    }

    @Test("An index naming a tensor its shard does not hold")
    func tensorNotInShard() throws {
        let folder = try Self.shardedCopy { index in Self.weightMap(&index) { $0["model.extra.weight"] = "model-00001-of-00003.safetensors" } }
        let error = #expect(throws: SafetensorsError.self) { try Checkpoint(opening: folder.path) }
        #expect(error?.description == "'\(folder.child("model.safetensors.index.json"))': tensor 'model.extra.weight' is mapped to shard 'model-00001-of-00003.safetensors', which does not hold it")
    }

    @Test("A shard holding a tensor the index maps elsewhere")
    func tensorNotInIndex() throws {
        let folder = try Self.shardedCopy { index in Self.weightMap(&index) { $0["lm_head.weight"] = "model-00001-of-00003.safetensors" } }
        #expect(throws: SafetensorsError.self) { try Checkpoint(opening: folder.path) }
    }

    @Test("An index without weight_map, and one with a path in a shard name")
    func malformedIndex() throws {
        let noMap = try Self.shardedCopy { index in index["weight_map"] = nil }
        let error = #expect(throws: SafetensorsError.self) { try Checkpoint(opening: noMap.path) }
        #expect(error?.description.hasSuffix("missing \"weight_map\" object") == true)
        let escape = try Self.shardedCopy { index in Self.weightMap(&index) { $0["lm_head.weight"] = "../model.safetensors" } }
        #expect(throws: SafetensorsError.self) { try Checkpoint(opening: escape.path) }
    }

    @Test("Duplicate entries in weight_map")
    func duplicateEntries() throws {
        let folder = TemporaryDirectory()
        let text = #"{"metadata":{},"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}"#
        #expect(throws: SafetensorsError.invalidIndex(file: "i.json", reason: "tensor 'a' appears twice in weight_map")) {
            try ShardIndex(parsing: Array(text.utf8), path: "i.json")
        }
        _ = folder
    }
}
