import AmalgamCore
import AmalgamKernels
import Testing

@Suite("DType")
struct DTypeTests {
    @Test("Every dtype round-trips through its safetensors and config spellings")
    func spellings() {
        for dtype in DType.allCases {
            #expect(DType(rawValue: dtype.rawValue) == dtype)
            #expect(DType(configName: dtype.configName) == dtype)
        }
        #expect(DType(configName: "torch.bfloat16") == .bfloat16)
        #expect(DType(configName: "fp16") == .float16)
        #expect(DType(configName: "bfloat17") == nil)
        #expect(DType.allCases.map(\.byteWidth) == [8, 4, 2, 2, 1, 1, 8, 4, 2, 1, 1, 1])
    }

    @Test("Tensors round-trip values through every writable dtype exactly when representable")
    func tensorRoundTrip() throws {
        let values: [Float] = [0, 1, -2, 0.5, 1024, -0.25]
        for dtype in DType.allCases where dtype.isWritableFromFloat32 {
            let tensor = try Tensor(float32: values, shape: [2, 3], dtype: dtype)
            #expect(tensor.float32Values() == values, "\(dtype)")
        }
        #expect(throws: TensorError.notWritable(.int8)) { try Tensor(float32: [1], shape: [1], dtype: .int8) }
        #expect(throws: TensorError.shapeMismatch(shape: [2, 2], count: 3)) { try Tensor(float32: [1, 2, 3], shape: [2, 2], dtype: .float32) }
    }
}

@Suite("Shape and tensor names")
struct ShapeAndNameTests {
    @Test("Element counts, scalars and overflow")
    func shapes() {
        #expect(Shape([4096, 11008]).elementCount == 45_088_768)
        #expect(Shape([]).elementCount == 1)
        #expect(Shape([3, 0]).elementCount == 0)
        #expect(Shape([Int.max, 2]).checkedElementCount == nil)
        #expect(Shape([2, 3]).description == "[2, 3]")
    }

    @Test("Layer indices are found after layer containers and can be replaced")
    func layerIndex() {
        #expect(TensorName("model.layers.12.mlp.up_proj.weight").layerIndex == 12)
        #expect(TensorName("transformer.h.3.attn.c_attn.weight").layerIndex == 3)
        #expect(TensorName("model.embed_tokens.weight").layerIndex == nil)
        #expect(TensorName("model.layers.2.self_attn.q_proj.weight").replacingLayerIndex(with: 7)
                == TensorName("model.layers.7.self_attn.q_proj.weight"))
        #expect(TensorName("lm_head.weight").replacingLayerIndex(with: 1) == nil)
    }

    @Test("Natural order puts layer 2 before layer 10")
    func naturalOrder() {
        let names = ["model.layers.10.a", "model.layers.2.a", "model.layers.2.b", "lm_head.weight"].map { TensorName($0) }
        #expect(names.sorted().map(\.rawValue) == ["lm_head.weight", "model.layers.2.a", "model.layers.2.b", "model.layers.10.a"])
    }
}

@Suite("Seeded randomness")
struct SeededRandomTests {
    @Test("A value depends only on (seed, stream, index), not on the order it is asked for")
    func counterBased() {
        let stream = SeededRandom(seed: 42, stream: "model.layers.0.mlp.up_proj.weight")
        let forward = (0..<1000).map { stream.bits(at: $0) }
        let backward = (0..<1000).reversed().map { stream.bits(at: $0) }
        #expect(forward == backward.reversed())
        #expect(SeededRandom(seed: 42, stream: "model.layers.0.mlp.up_proj.weight").bits(at: 17) == forward[17])
        #expect(SeededRandom(seed: 43, stream: "model.layers.0.mlp.up_proj.weight").bits(at: 17) != forward[17])
        #expect(SeededRandom(seed: 42, stream: "model.layers.1.mlp.up_proj.weight").bits(at: 17) != forward[17])
    }

    @Test("Uniform draws look uniform: mean near 1/2, each decile near 10%", arguments: [UInt64(1), 2, 3])
    func uniform(seed: UInt64) {
        let stream = SeededRandom(seed: seed, stream: "t")
        let n = 100_000
        var deciles = [Int](repeating: 0, count: 10)
        var sum = 0.0
        for i in 0..<n {
            let u = stream.uniform(at: i)
            #expect(u >= 0 && u < 1)
            sum += Double(u)
            deciles[Int(u * 10)] += 1
        }
        #expect(abs(sum / Double(n) - 0.5) < 0.005)
        #expect(deciles.allSatisfy { abs($0 - n / 10) < 600 })
    }

    @Test("SeededGenerator repeats for a seed")
    func generator() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
    }
}

@Suite("Suggestions")
struct SuggestionTests {
    @Test("Closest name within a third of the length")
    func closest() {
        #expect(editDistance("kitten", "sitting") == 3)
        #expect(closestName(to: "ties", in: ["task_arithmetic", "ties", "slerp"]) == "ties")
        #expect(closestName(to: "tiess", in: ["task_arithmetic", "ties", "slerp"]) == "ties")
        #expect(closestName(to: "zzzz", in: ["ties", "slerp"]) == nil)
    }
}
