// Cost of one SVD per matrix shape, Float64 (the default) against Float32, one thread per SVD
// (as the research methods run them: tensors in parallel, single-threaded BLAS), and the Float64
// thin SVD through the Gram matrix that the methods try first (uniform random matrices: the
// square ones fail its plain orthonormality check and need its repair step; in numpy at
// 768×768, κ ≈ 1.4·10⁴, max|UᵀU − I| is 2.9·10⁻¹⁰ before the repair and 2.7·10⁻¹⁵ after).
//
//   swift run -c release SVDBenchmark [ROWSxCOLUMNS ...]
// Default shapes: 768x768 2048x768 16384x768 (the benchmark model), 4096x4096 4096x14336 (Llama-3-8B).

import AmalgamKernels
import Foundation

func values(_ count: Int, seed: UInt64) -> [Double] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * 2 - 1
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

BLAS.setThreads(1)
let arguments = CommandLine.arguments.dropFirst()
let shapes = (arguments.isEmpty ? ["768x768", "2048x768", "16384x768", "4096x4096", "4096x14336"] : Array(arguments)).map { text in
    let parts = text.split(separator: "x").compactMap { Int($0) }
    return (parts[0], parts[1])
}
print("| matrix | thin SVD, Float64 | thin SVD, Float32 | Float32 saves | Float64 via the Gram matrix (certified, else the SVD) |")
print("|---|---:|---:|---:|---:|")
for (m, n) in shapes {
    let a = values(m * n, seed: UInt64(m + n))
    let single = a.map(Float.init)
    let double = try seconds { _ = try LinearAlgebra.svd(a, rows: m, columns: n) }
    let float = try seconds { _ = try LinearAlgebra.svd(single, rows: m, columns: n) }
    let gram = try seconds { _ = try LinearAlgebra.svdViaGram(a, rows: m, columns: n) }
    print(String(format: "| %d × %d | %.2f s | %.2f s | %.0f%% | %.2f s |", m, n, double, float, 100 * (1 - float / double), gram))
}
