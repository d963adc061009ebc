import AmalgamCore
import AmalgamIO
import AmalgamKernels
import AmalgamTestSupport
import Foundation
import Testing

@Suite("Writing checkpoints")
struct CheckpointWriterTests {
    /// Copies every tensor of `checkpoint` into `destination` through a writer.
    static func copy(_ checkpoint: Checkpoint, to destination: String, maxShardBytes: Int?, overwrite: Bool = false,
                     failAfter: Int? = nil) throws {
        let plan = checkpoint.tensorNames.map { name in
            PlannedTensor(name: name, dtype: checkpoint.info(name)!.dtype, shape: checkpoint.info(name)!.shape)
        }
        let writer = try CheckpointWriter(destination: destination, tensors: plan, maxShardBytes: maxShardBytes, overwrite: overwrite)
        do {
            for (i, planned) in plan.enumerated() {
                if let failAfter, i == failAfter { throw CancellationError() }
                try writer.write(planned.name, checkpoint.tensor(named: planned.name))
            }
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }

    static func expectSameTensors(_ a: Checkpoint, _ b: Checkpoint) throws {
        #expect(a.tensorNames == b.tensorNames)
        for name in a.tensorNames {
            let x = try a.tensor(named: name), y = try b.tensor(named: name)
            #expect(x.dtype == y.dtype && x.shape == y.shape && x.bytes.contentEquals(y.bytes), "\(name)")
        }
    }

    @Test("Sharded write with tiny shard sizes reads back identically", arguments: [1, 4_000, 20_000, 1_000_000])
    func shardedRoundTrip(maxShardBytes: Int) throws {
        let folder = TemporaryDirectory()
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/ft_c"))
        let out = folder.child("out")
        try Self.copy(source, to: out, maxShardBytes: maxShardBytes)
        let written = try Checkpoint(opening: out)
        try Self.expectSameTensors(source, written)
        for shard in written.shards {
            let size = shard.tensorInfos.reduce(0) { $0 + $1.byteCount }
            #expect(size <= maxShardBytes || shard.tensorInfos.count == 1, "\(shard.path) holds \(size) bytes")
            #expect(shard.header.metadata == ["format": "pt"])
            #expect(shard.header.dataStart % 8 == 0, "header padded to 8 bytes")
        }
        if maxShardBytes == 1 {
            #expect(written.shards.count == 39)
            #expect(folder.listing("out").first == "model-00001-of-00039.safetensors")
        }
        if maxShardBytes == 1_000_000 {
            #expect(folder.listing("out") == ["model.safetensors"])
        } else {
            #expect(written.indexPath != nil)
        }
        #expect(folder.listing() == ["out"], "no staging folder left behind")
    }

    @Test("The header is byte-for-byte the safetensors layout")
    func headerBytes() throws {
        let folder = TemporaryDirectory()
        let plan = [PlannedTensor(name: "w", dtype: .float32, shape: [2]), PlannedTensor(name: "b", dtype: .bfloat16, shape: [1])]
        let writer = try CheckpointWriter(destination: folder.child("o"), tensors: plan, maxShardBytes: nil, overwrite: false)
        try writer.write("w", Tensor(float32: [1, -2], shape: [2], dtype: .float32))
        try writer.write("b", Tensor(float32: [0.5], shape: [1], dtype: .bfloat16))
        try writer.finish()
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: folder.child("o/model.safetensors"))))
        let json = #"{"__metadata__":{"format":"pt"},"b":{"data_offsets":[8,10],"dtype":"BF16","shape":[1]},"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let expected = [UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header + [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0, 0x00, 0x3F]
        #expect(bytes == expected)
    }

    @Test("An existing non-empty output is refused without overwrite and left untouched")
    func refusesOverwrite() throws {
        let folder = TemporaryDirectory()
        try folder.write("out/keep.txt", Array("precious".utf8))
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        #expect(throws: CheckpointError.outputExists(path: folder.child("out"))) {
            try Self.copy(source, to: folder.child("out"), maxShardBytes: nil)
        }
        #expect(folder.listing("out") == ["keep.txt"])
        #expect(folder.listing() == ["out"])
    }

    @Test("overwrite replaces an existing output only once the new one is complete")
    func overwriteOnSuccess() throws {
        let folder = TemporaryDirectory()
        try folder.write("out/old.txt", Array("old".utf8))
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        // A failure midway with overwrite: the old output survives, nothing partial is left.
        #expect(throws: CancellationError.self) {
            try Self.copy(source, to: folder.child("out"), maxShardBytes: 50_000, overwrite: true, failAfter: 20)
        }
        #expect(folder.listing("out") == ["old.txt"])
        #expect(folder.listing() == ["out"])
        // Success with overwrite: replaced.
        try Self.copy(source, to: folder.child("out"), maxShardBytes: nil, overwrite: true)
        #expect(folder.listing("out") == ["model.safetensors"])
        #expect(folder.listing() == ["out"])
    }

    @Test("A failure midway leaves no output folder and no staging folder")
    func noPartialOutput() throws {
        let folder = TemporaryDirectory()
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        #expect(throws: CancellationError.self) {
            try Self.copy(source, to: folder.child("out"), maxShardBytes: 10_000, failAfter: 30)
        }
        #expect(folder.listing().isEmpty)
    }

    @Test("A writer released without finish() removes its staging folder")
    func releasedWriterCleansUp() throws {
        let folder = TemporaryDirectory()
        do {
            let writer = try CheckpointWriter(destination: folder.child("out"), tensors: [PlannedTensor(name: "x", dtype: .float32, shape: [1])],
                                              maxShardBytes: nil, overwrite: false)
            try writer.write("x", Tensor(float32: [1], shape: [1], dtype: .float32))
            #expect(folder.listing().count == 1 && folder.listing()[0].hasPrefix(".out.amalgam-partial-"))
        }
        #expect(folder.listing().isEmpty)
    }

    @Test("The interrupt path removes every open staging folder")
    func interruptCleanup() throws {
        let folder = TemporaryDirectory()
        let writer = try CheckpointWriter(destination: folder.child("out"), tensors: [PlannedTensor(name: "x", dtype: .float32, shape: [1])],
                                          maxShardBytes: nil, overwrite: false)
        #expect(folder.listing().count == 1)
        // What the SIGINT/SIGTERM handler does, limited to this test's folder (tests run in parallel).
        PartialOutputs.shared.removeAll { $0.hasPrefix(folder.path) }
        #expect(folder.listing().isEmpty)
        writer.abort()
    }

    @Test("Out-of-order, mis-shaped and missing tensors are errors")
    func misuse() throws {
        let folder = TemporaryDirectory()
        let plan = [PlannedTensor(name: "a", dtype: .float32, shape: [2]), PlannedTensor(name: "b", dtype: .float32, shape: [1])]
        let writer = try CheckpointWriter(destination: folder.child("o"), tensors: plan, maxShardBytes: nil, overwrite: false)
        #expect(throws: CheckpointWriterError.unexpectedTensor(expected: "a", got: "b")) {
            try writer.write("b", Tensor(float32: [1], shape: [1], dtype: .float32))
        }
        #expect(throws: CheckpointWriterError.wrongTensor(name: "a", expected: "F32 [2]", got: "F32 [1]")) {
            try writer.write("a", Tensor(float32: [1], shape: [1], dtype: .float32))
        }
        try writer.write("a", Tensor(float32: [1, 2], shape: [2], dtype: .float32))
        #expect(throws: CheckpointWriterError.incomplete(missing: ["b"])) { try writer.finish() }
        writer.abort()
        #expect(folder.listing().isEmpty)
        #expect(throws: CheckpointWriterError.duplicatePlannedTensor("a")) {
            try CheckpointWriter(destination: folder.child("p"), tensors: plan + [plan[0]], maxShardBytes: nil, overwrite: false)
        }
    }
}

@Suite("Shard sizes")
struct ByteCountTests {
    @Test("500M, 5G, 5GB, 2GiB and plain bytes parse; nonsense does not")
    func parse() {
        #expect(ByteCount.parse("500M") == 500_000_000)
        #expect(ByteCount.parse("5G") == 5_000_000_000)
        #expect(ByteCount.parse("5GB") == 5_000_000_000)
        #expect(ByteCount.parse("5gb") == 5_000_000_000)
        #expect(ByteCount.parse("2GiB") == 2_147_483_648)
        #expect(ByteCount.parse("1.5G") == 1_500_000_000)
        #expect(ByteCount.parse("4096") == 4096)
        #expect(ByteCount.parse("5B") == 5_000_000_000, "mergekit's B is billion")
        for bad in ["", "G", "5X", "-1G", "0", "1e3", "5 G B"] { #expect(ByteCount.parse(bad) == nil, "\(bad)") }
    }
}
