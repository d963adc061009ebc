// Conversion throughput: bf16 → f32 and f32 → bf16 (and the f16 pair), on 1 and 2 threads.
//
// Two measurements per conversion, best of 7 over a buffer far larger than the caches:
//   - "into buffer": the kernel writing into preallocated memory (the executor's steady state);
//   - "new array": the allocating API, which also pays the kernel's first-touch page faults.
// Rates are GB/s of the stored (16-bit) side, so decode and encode are comparable.
//
// Usage: swift run -c release --package-path Benchmarks ConversionBenchmark [megabytes of Float32]

import AmalgamKernels
import Dispatch

let megabytes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 256 : 256
let elements = megabytes * 1_048_576 / 4
let repetitions = 7

var values = [Float](repeating: 0, count: elements)
for i in 0..<elements { values[i] = Float(i % 65_521) * 0.001 - 30 }
let stored: [ScalarFormat: ByteRegion] = [
    .bfloat16: Convert.encode(values, as: .bfloat16, threads: 2).region,
    .float16: Convert.encode(values, as: .float16, threads: 2).region,
]
var floatBuffer = [Float](repeating: 0, count: elements)
var halfBuffer = [UInt8](repeating: 0, count: elements * 2)

func best(_ body: () -> Void) -> Double {
    var result = Double.infinity
    for _ in 0..<repetitions {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        result = min(result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return result
}

func rate(_ seconds: Double) -> String {
    let gbps = Double(elements * 2) / seconds / 1e9
    return String(Double(Int(gbps * 100)) / 100)
}

print("Buffer: \(elements) elements (\(elements * 2 / 1_048_576) MiB stored, \(elements * 4 / 1_048_576) MiB as Float32)")
print("")
print("| conversion | threads | into buffer: ms | into buffer: GB/s | new array: ms | new array: GB/s |")
print("|---|---|---|---|---|---|")
for (name, format) in [("bf16", ScalarFormat.bfloat16), ("f16", .float16)] {
    for threads in [1, 2] {
        let source = stored[format]!
        let decodeInto = best {
            floatBuffer.withUnsafeMutableBufferPointer { Convert.decode(source, as: format, elements: 0..<elements, into: $0, threads: threads) }
        }
        var sink = 0
        let decodeNew = best { sink &+= Convert.decode(source, as: format, threads: threads).count }
        print("| \(name) → f32 | \(threads) | \(Int(decodeInto * 1000)) | \(rate(decodeInto)) | \(Int(decodeNew * 1000)) | \(rate(decodeNew)) |")
        let encodeInto = best {
            halfBuffer.withUnsafeMutableBytes { Convert.encode(values, as: format, into: $0, threads: threads) }
        }
        let encodeNew = best { sink &+= Convert.encode(values, as: format, threads: threads).count }
        print("| f32 → \(name) | \(threads) | \(Int(encodeInto * 1000)) | \(rate(encodeInto)) | \(Int(encodeNew * 1000)) | \(rate(encodeNew)) |")
        precondition(sink > 0)
    }
}
