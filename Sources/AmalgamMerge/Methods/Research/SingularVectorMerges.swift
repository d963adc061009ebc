// Subspace merges of 2-D tensors through SVDs in Float64: TSV-M (Gargiulo et al., CVPR 2025,
// "Task Singular Vectors"), Iso-C and Iso-CTS (Marczak et al., ICML 2025, "No Task Left Behind").
// Every other tensor (norms, biases) gets the mean task vector, as in FusionBench.

import AmalgamCore
import AmalgamKernels

/// Row-major Float64 matrix helpers over BLAS and LAPACK.
enum Matrices {
    /// The thin SVD (through the Gram matrix where that is certified safe; see
    /// ``LinearAlgebra/svdViaGram(_:rows:columns:)``).
    static func svd(_ a: [Double], _ rows: Int, _ columns: Int, tensor: String, method: String) throws(MergeError) -> SingularValueDecomposition<Double> {
        do { return try LinearAlgebra.svdViaGram(a, rows: rows, columns: columns) } catch {
            throw .numeric(tensor: tensor, method: method, reason: error.description)
        }
    }

    /// The top `count` singular triplets (Gram-matrix eigenvectors; see ``LinearAlgebra/topSingularTriplets(_:rows:columns:count:)``).
    static func top(_ a: [Double], _ rows: Int, _ columns: Int, count: Int, tensor: String, method: String) throws(MergeError) -> SingularValueDecomposition<Double> {
        do { return try LinearAlgebra.topSingularTriplets(a, rows: rows, columns: columns, count: count) } catch {
            throw .numeric(tensor: tensor, method: method, reason: error.description)
        }
    }

    static func polar(_ a: [Double], _ rows: Int, _ columns: Int, tensor: String, method: String) throws(MergeError) -> PolarFactor {
        do { return try LinearAlgebra.polarFactor(a, rows: rows, columns: columns, allowTransform: rows != columns) } catch {
            throw .numeric(tensor: tensor, method: method, reason: error.description)
        }
    }

    /// `body(i)` for i in 0..<count on up to `threads` threads (independent decompositions within
    /// one tensor); results in order, the first error rethrown.
    static func parallel<T: Sendable>(_ count: Int, threads: Int, _ body: @escaping @Sendable (Int) throws(MergeError) -> T) throws(MergeError) -> [T] {
        let results = Parallel.mapChunks(count: count, chunkSize: 1, threads: max(threads, 1)) { range -> Result<T, MergeError> in
            do throws(MergeError) { return .success(try body(range.lowerBound)) } catch { return .failure(error) }
        }
        var values: [T] = []
        for result in results { values.append(try result.get()) }
        return values
    }

    /// op(a)·op(b) for row-major a (aRows×aColumns) and b (bRows×bColumns).
    static func multiply(_ a: [Double], _ aRows: Int, _ aColumns: Int, _ b: [Double], _ bRows: Int, _ bColumns: Int,
                         transposeA: Bool = false, transposeB: Bool = false) -> [Double] {
        let aOrientation: MatrixOrientation = transposeA ? .transposed : .asStored
        let bOrientation: MatrixOrientation = transposeB ? .transposed : .asStored
        let m = aOrientation == .asStored ? aRows : aColumns
        let n = bOrientation == .asStored ? bColumns : bRows
        var c = [Double](repeating: 0, count: m * n)
        BLAS.multiply(a, MatrixLayout(rows: aRows, columns: aColumns), aOrientation, b, MatrixLayout(rows: bRows, columns: bColumns), bOrientation,
                      into: &c, MatrixLayout(rows: m, columns: n))
        return c
    }

    /// Slot-concatenated singular triplets: U (m×r), s (r), Vᵀ (r×n), zero-initialised.
    struct Concatenation {
        let rows: Int, columns: Int, rank: Int
        var u: [Double], s: [Double], vt: [Double]

        init(rows: Int, columns: Int) {
            self.rows = rows
            self.columns = columns
            rank = min(rows, columns)
            u = [Double](repeating: 0, count: rows * rank)
            s = [Double](repeating: 0, count: rank)
            vt = [Double](repeating: 0, count: rank * columns)
        }

        /// Puts triplet `index` of `d` into `slot`.
        mutating func place(_ d: SingularValueDecomposition<Double>, index: Int, slot: Int) {
            place(u: d.u, uColumns: d.uColumns, s: d.s, vt: d.vt, index: index, slot: slot)
        }

        /// Puts triplet `index` (column of the row-major `rows × uColumns` matrix `u`, value of `s`,
        /// row of the row-major `vt`) into `slot`.
        mutating func place(u left: [Double], uColumns: Int, s values: [Double], vt right: [Double], index: Int, slot: Int) {
            for row in 0..<rows { u[row * rank + slot] = left[row * uColumns + index] }
            s[slot] = values[index]
            for column in 0..<columns { vt[slot * columns + column] = right[index * columns + column] }
        }

        /// polar(U)·diag(s)·polar(Vᵀ), scaled by `scale`.
        ///
        /// One of U (m×r) and Vᵀ (r×n) is square (r = min(m, n)). The other one's polar factor
        /// may come back as its transform W (polar(U) = U·W, polar(Vᵀ) = W·Vᵀ), which is then
        /// folded into the r×r side: U·(W·D·polar(Vᵀ)) costs 2r²n + 2mrn against 2mr² + 2mrn
        /// for forming polar(U) (a third less for the 16384×768 embedding).
        /// `leftPolar`, when given, is polar(U) (rows × rank), already known to the caller.
        func reconstruct(scale: Double = 1, isotropic: Double? = nil, leftPolar: [Double]? = nil, tensor: String, method: String,
                         threads: Int = 1) throws(MergeError) -> [Double] {
            let (u, vt, rows, columns, rank) = (u, vt, rows, columns, rank)
            let factors: [PolarFactor]
            if let leftPolar {
                factors = [.factor(leftPolar), try Matrices.polar(vt, rank, columns, tensor: tensor, method: method)]
            } else {
                factors = try Matrices.parallel(2, threads: threads) { (side: Int) throws(MergeError) -> PolarFactor in
                    side == 0 ? try Matrices.polar(u, rows, rank, tensor: tensor, method: method)
                        : try Matrices.polar(vt, rank, columns, tensor: tensor, method: method)
                }
            }
            let weights = (0..<rank).map { scale * (isotropic ?? s[$0]) }
            /// Scales the columns of a row-major `height × rank` matrix by the weights.
            func weighted(_ matrix: [Double], height: Int) -> [Double] {
                var out = matrix
                for row in 0..<height { for slot in 0..<rank { out[row * rank + slot] *= weights[slot] } }
                return out
            }
            switch (factors[0], factors[1]) {
            case (.factor(let pu), .factor(let pv)):
                return Matrices.multiply(weighted(pu, height: rows), rows, rank, pv, rank, columns)
            case (.transform(let wu), .factor(let pv)):
                let right = Matrices.multiply(weighted(wu, height: rank), rank, rank, pv, rank, columns)
                return Matrices.multiply(u, rows, rank, right, rank, columns)
            case (.factor(let pu), .transform(let wv)):
                let left = Matrices.multiply(weighted(pu, height: rows), rows, rank, wv, rank, rank)
                return Matrices.multiply(left, rows, rank, vt, rank, columns)
            case (.transform(let wu), .transform(let wv)):
                let middle = Matrices.multiply(weighted(wu, height: rank), rank, rank, wv, rank, rank)
                return Matrices.multiply(Matrices.multiply(u, rows, rank, middle, rank, rank), rows, rank, vt, rank, columns)
            }
        }
    }
}

/// TSV-M: per task, the top ⌊r/T⌋ singular triplets; the concatenated left and right vectors are
/// orthogonalised (polar factors) and recombined with the singular values.
public enum TSVM: WholeModelMergeMethod {
    public typealias Statistics = Void
    public static let name = "tsv_m"
    public static let summary = "Task Singular Vectors merge: per-task top singular triplets, decorrelated by polar factors (matrices); mean elsewhere"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("alpha", .global, default: .number(1), doc: "scale of the merged task vector"),
        ParameterSpec("weight", .perModel, default: .number(1), doc: "scale of this model's task vector before the SVDs"),
    ]

    public static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        let context = tensor.context
        let tasks = tensor.models.indices.map { t in
            let weight = context.number("weight", model: t) ?? 1
            var vector = tensor.taskVector(t)
            if weight != 1 { for i in vector.indices { vector[i] *= weight } }
            return vector
        }
        let alpha = context.number("alpha") ?? 1
        guard tensor.isMatrix else { return [tensor.applying(TaskVectors.mean(tasks), scale: alpha)] }
        let (m, n) = tensor.matrixSize
        var cat = Matrices.Concatenation(rows: m, columns: n)
        let k = cat.rank / tasks.count
        let tensorName = tensor.name
        let decompositions: [SingularValueDecomposition<Double>] = k == 0 ? [] : try Matrices.parallel(tasks.count, threads: context.threads) { (t: Int) throws(MergeError) -> SingularValueDecomposition<Double> in
            try Matrices.top(tasks[t], m, n, count: k, tensor: tensorName, method: name)
        }
        for (t, d) in decompositions.enumerated() {
            for i in 0..<k { cat.place(d, index: i, slot: t * k + i) }
        }
        return [tensor.applying(try cat.reconstruct(tensor: tensor.name, method: name, threads: context.threads), scale: alpha)]
    }
}

/// Iso-C: the summed task matrix with its spectrum flattened to the mean singular value.
public enum IsoC: WholeModelMergeMethod {
    public typealias Statistics = Void
    public static let name = "iso_c"
    public static let summary = "Isotropic merge in the common subspace: Σ τ with every singular value set to their mean (matrices); mean elsewhere"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [ParameterSpec("scaling_factor", .global, default: .number(1), doc: "scale of the merged task vector")]

    public static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        let scale = tensor.context.number("scaling_factor") ?? 1
        let tasks = tensor.taskVectors
        guard tensor.isMatrix else { return [tensor.applying(TaskVectors.mean(tasks), scale: scale)] }
        let (m, n) = tensor.matrixSize
        let d = try Matrices.svd(TaskVectors.sum(tasks), m, n, tensor: tensor.name, method: name)
        let meanSingular = d.s.reduce(0, +) / Double(max(d.rank, 1))
        var delta = LinearAlgebra.product(d.u, rows: m, inner: d.numericalRank, uStride: d.uColumns, d.vt, columns: n)
        for i in delta.indices { delta[i] *= meanSingular }
        return [tensor.applying(delta, scale: scale)]
    }
}

/// Iso-CTS: the common subspace of Σ τ plus, per task, the top directions of what the common
/// column space leaves out; all with one isotropic singular value.
public enum IsoCTS: WholeModelMergeMethod {
    public typealias Statistics = Void
    public static let name = "iso_cts"
    public static let summary = "Isotropic merge in common and task-specific subspaces (matrices); mean elsewhere"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("scaling_factor", .global, default: .number(1), doc: "scale of the merged task vector"),
        ParameterSpec("common_space_fraction", .global, default: .number(0.8), range: 0...1, doc: "fraction of the rank given to the common subspace"),
    ]

    /// (common dimensions c, dimensions per task p) for rank r and T tasks, as FusionBench
    /// computes them (Python's round-half-to-even).
    public static func subspaceSizes(rank r: Int, tasks: Int, fraction: Double) -> (common: Int, perTask: Int) {
        let c0 = Int((Double(r) * fraction).rounded(.down))
        let perTaskTotal = min(Int((Double(r - c0) / Double(tasks)).rounded(.toNearestOrEven)) * tasks, r / tasks * tasks)
        return (r - perTaskTotal, perTaskTotal / tasks)
    }

    public static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        let context = tensor.context
        let scale = context.number("scaling_factor") ?? 1
        let tasks = tensor.taskVectors
        guard tensor.isMatrix else { return [tensor.applying(TaskVectors.mean(tasks), scale: scale)] }
        let (m, n) = tensor.matrixSize
        var cat = Matrices.Concatenation(rows: m, columns: n)
        let (c, p) = subspaceSizes(rank: cat.rank, tasks: tasks.count, fraction: context.number("common_space_fraction") ?? 0.8)
        let common = try Matrices.svd(TaskVectors.sum(tasks), m, n, tensor: tensor.name, method: name)
        let specific = p == 0 ? nil : try specificTriplets(tasks, common: common, rows: m, columns: n, commonDimensions: c, perTask: p,
                                                           threads: context.threads, tensor: tensor.name)
        if let specific {
            for (t, d) in specific.triplets.enumerated() {
                for i in 0..<p { cat.place(u: specific.left[t], uColumns: d.uColumns, s: d.s, vt: d.vt, index: i, slot: t * p + i) }
            }
        }
        for j in 0..<c { cat.place(common, index: j, slot: tasks.count * p + j) }
        let isotropic = cat.s.reduce(0, +) / Double(max(cat.rank, 1))
        let leftPolar = try specific.flatMap { (specific: SpecificSubspaces) throws(MergeError) -> [Double]? in
            try leftPolarOnComplement(specific, common: common, rows: m, commonDimensions: c, perTask: p, tensor: tensor.name)
        }
        return [tensor.applying(try cat.reconstruct(isotropic: isotropic, leftPolar: leftPolar, tensor: tensor.name, method: name,
                                                    threads: context.threads), scale: scale)]
    }

    /// Iso-CTS's task-specific directions: for each task, the top `p` triplets of
    /// R_t = τ_t − U_c·(U_cᵀ·τ_t), U_c the first `c` left singular vectors of Σ τ (`common`).
    struct SpecificSubspaces {
        /// Per task: the left vectors (m × p, row-major, `triplets[t].uColumns` columns) and the
        /// decomposition that holds the singular values and right vectors.
        var left: [[Double]]
        var triplets: [SingularValueDecomposition<Double>]
        /// On the complement route: U_⊥ (m × (m − c), row-major); the left vectors are U_⊥·A_t
        /// with A_t = `triplets[t].u`.
        var complementBasis: [Double]?
    }

    /// The task-specific triplets (see ``SpecificSubspaces``).
    ///
    /// When U is a complete orthogonal basis (m ≤ n and Σ τ of full rank, so every column is a
    /// singular vector), R_t = U_⊥·Q_t with U_⊥ the other m − c columns and Q_t = U_⊥ᵀ·τ_t, and
    /// R_t's triplets are Q_t's with U_⊥ applied to the left vectors: an (m − c) × n problem
    /// instead of two m×c×n products and an m×n one (for a 768×768 matrix and four tasks,
    /// 152 × 768). Otherwise, or when `allowComplement` is off (tests), R_t is formed.
    static func specificTriplets(_ tasks: [[Double]], common: SingularValueDecomposition<Double>, rows m: Int, columns n: Int,
                                 commonDimensions c: Int, perTask p: Int, threads: Int, tensor: String,
                                 allowComplement: Bool = true) throws(MergeError) -> SpecificSubspaces {
        let complement = allowComplement && common.uColumns == m && common.numericalRank == m && c > 0 && c < m
        let width = complement ? m - c : c
        let offset = complement ? c : 0
        var basis = [Double](repeating: 0, count: m * width)
        for row in 0..<m { for j in 0..<width { basis[row * width + j] = common.u[row * common.uColumns + offset + j] } }
        let results = try Matrices.parallel(tasks.count, threads: threads) { [basis] (t: Int) throws(MergeError) -> (u: [Double], d: SingularValueDecomposition<Double>) in
            if complement {
                let q = Matrices.multiply(basis, m, width, tasks[t], m, n, transposeA: true)   // (m − c) × n
                let d = try Matrices.top(q, width, n, count: p, tensor: tensor, method: name)
                return (Matrices.multiply(basis, m, width, d.u, width, d.uColumns), d)           // m × p
            }
            var residual = tasks[t]
            if c > 0 {
                let projected = Matrices.multiply(basis, m, c, Matrices.multiply(basis, m, c, residual, m, n, transposeA: true), c, n)
                for i in residual.indices { residual[i] -= projected[i] }
            }
            let d = try Matrices.top(residual, m, n, count: p, tensor: tensor, method: name)
            return (d.u, d)
        }
        return SpecificSubspaces(left: results.map(\.u), triplets: results.map(\.d), complementBasis: complement ? basis : nil)
    }

    /// polar(U) of the concatenation [U_⊥·A_1, …, U_⊥·A_T, U_c] on the complement route (nil off
    /// it), where U_⊥·A_cat (A_cat = [A_1 … A_T], square (m − c) × (m − c)) and U_c span
    /// orthogonal subspaces: the polar factor is [U_⊥·polar(A_cat), U_c] (U_c already has
    /// orthonormal columns, since Σ τ has full rank), an (m − c)-sized problem instead of an
    /// m-sized one.
    static func leftPolarOnComplement(_ specific: SpecificSubspaces, common: SingularValueDecomposition<Double>,
                                      rows m: Int, commonDimensions c: Int, perTask p: Int, tensor: String) throws(MergeError) -> [Double]? {
        guard let basis = specific.complementBasis else { return nil }
        let width = m - c, tasks = specific.triplets.count
        precondition(tasks * p == width, "leftPolarOnComplement: \(tasks) × \(p) specific directions for a complement of \(width)")
        var stacked = [Double](repeating: 0, count: width * width)
        for (t, d) in specific.triplets.enumerated() {
            for row in 0..<width { for i in 0..<p { stacked[row * width + t * p + i] = d.u[row * d.uColumns + i] } }
        }
        guard case .factor(let small) = try Matrices.polar(stacked, width, width, tensor: tensor, method: name) else {
            preconditionFailure("polar of a square matrix is always a factor")
        }
        let rotated = Matrices.multiply(basis, m, width, small, width, width)   // m × (m − c)
        var factor = [Double](repeating: 0, count: m * m)
        for row in 0..<m {
            for j in 0..<width { factor[row * m + j] = rotated[row * width + j] }
            for j in 0..<c { factor[row * m + width + j] = common.u[row * common.uColumns + j] }
        }
        return factor
    }
}
