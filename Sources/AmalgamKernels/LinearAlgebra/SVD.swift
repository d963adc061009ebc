// Singular value decompositions through LAPACK (`?gesdd`, divide and conquer, falling back to
// `?gesvd` if it does not converge): LAPACKE on Linux, Accelerate on Apple platforms.
//
// Matrices are row-major Swift arrays. LAPACK is column-major, and a row-major m×n matrix is the
// column-major n×m matrix Aᵀ = V·S·Uᵀ, so LAPACK is called on that view without a transposing
// copy: its "U" is our Vᵀ (row-major) and its "Vᵀ" is our U (row-major).
//
// Rank policy (deterministic results for rank-deficient inputs): singular values at or below
// `max(m, n) · ε · σ₀` are set to exactly zero and their singular vectors to zero vectors, since
// LAPACK's choice of those vectors is arbitrary (it differs between routines and builds). Polar
// factors are taken over the non-zero singular values only (the partial isometry P₊·Q₊ᵀ), which
// is the polar factor itself when the matrix has full rank.

#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// How many singular vectors to compute.
public enum SVDMode: Sendable {
    /// r = min(m, n) left and right vectors (U is m×r, Vᵀ is r×n).
    case thin
    /// All of them (U is m×m, Vᵀ is n×n); the singular values are still r.
    case full
}

/// A singular value decomposition A = U·diag(s)·Vᵀ of a row-major `rows × columns` matrix.
public struct SingularValueDecomposition<Scalar: BinaryFloatingPoint & Sendable>: Sendable {
    public let rows: Int
    public let columns: Int
    /// Row-major `rows × uColumns`.
    public var u: [Scalar]
    /// r = min(rows, columns) singular values, descending.
    public var s: [Scalar]
    /// Row-major `vtRows × columns`.
    public var vt: [Scalar]
    /// Columns of `u` (r for thin, rows for full).
    public let uColumns: Int
    /// Rows of `vt` (r for thin, columns for full).
    public let vtRows: Int
    /// The number of singular values above the zero tolerance; later ones are exactly zero and
    /// their vectors (within the first r) are zero vectors.
    public let numericalRank: Int

    /// r = min(rows, columns) (the number of singular values of a full decomposition).
    public var rank: Int { min(rows, columns) }

}

/// LAPACK failures (which only a non-finite input should cause).
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    case nonFinite(rows: Int, columns: Int)
    case noConvergence(rows: Int, columns: Int, info: Int)

    public var description: String {
        switch self {
        case .nonFinite(let m, let n): "SVD of a \(m)×\(n) matrix: it holds NaN or infinite values"
        case .noConvergence(let m, let n, let info): "SVD of a \(m)×\(n) matrix did not converge (LAPACK info \(info))"
        }
    }
}

public enum LinearAlgebra {
    /// The singular value decomposition of the row-major `rows × columns` matrix `a`, in Float64.
    public static func svd(_ a: [Double], rows: Int, columns: Int, mode: SVDMode = .thin) throws(LinearAlgebraError) -> SingularValueDecomposition<Double> {
        try decompose(a, rows: rows, columns: columns, mode: mode)
    }

    /// The same in Float32 (for methods that allow it, and to measure what Float64 costs).
    public static func svd(_ a: [Float], rows: Int, columns: Int, mode: SVDMode = .thin) throws(LinearAlgebraError) -> SingularValueDecomposition<Float> {
        try decompose(a, rows: rows, columns: columns, mode: mode)
    }

    /// The top `count` singular triplets of the row-major `rows × columns` matrix `a`, in Float64,
    /// from the eigenvectors of its smaller Gram matrix (AᵀA or AAᵀ, LAPACK `dsyevr` for the
    /// selected eigenpairs only). Much cheaper than a full SVD when `count` is a fraction of the
    /// rank; accurate to about ε·σ₀²/(σᵢ·gap) for triplet i, so meant for leading triplets. The
    /// rank policy here: σᵢ ≤ √(max(m, n)·ε)·σ₀ counts as zero (the Gram matrix cannot resolve
    /// smaller ones), with zero vectors. The result has `count` columns in U and rows in Vᵀ.
    public static func topSingularTriplets(_ a: [Double], rows m: Int, columns n: Int, count k: Int) throws(LinearAlgebraError) -> SingularValueDecomposition<Double> {
        precondition(a.count == m * n && k >= 0 && k <= min(m, n), "topSingularTriplets: bad arguments")
        guard a.allSatisfy({ $0.isFinite }) else { throw .nonFinite(rows: m, columns: n) }
        var u = [Double](repeating: 0, count: m * k)
        var vt = [Double](repeating: 0, count: k * n)
        var s = [Double](repeating: 0, count: k)
        guard k > 0 else {
            return SingularValueDecomposition(rows: m, columns: n, u: u, s: s, vt: vt, uColumns: 0, vtRows: 0, numericalRank: 0)
        }
        let tall = m >= n
        let side = tall ? n : m
        // Gram matrix of the smaller side (row-major; symmetric, so layout does not matter).
        var gram = BLAS.gram(a, rows: m, columns: n, transposeFirst: tall)
        var values = [Double](repeating: 0, count: side)
        var vectors = [Double](repeating: 0, count: side * k)   // column-major side × k, ascending
        let info = Double.syevr(n: side, &gram, lower: side - k + 1, upper: side, &values, &vectors)
        guard info == 0 else { throw .noConvergence(rows: m, columns: n, info: info) }
        let largest = max(values[k - 1], 0)
        let tolerance = Double(max(m, n)) * Double.ulpOfOne * largest
        var rank = 0
        for j in 0..<k {
            let column = k - 1 - j            // descending order
            let lambda = values[column]
            guard lambda > tolerance else { break }
            rank += 1
            let sigma = lambda.squareRoot()
            s[j] = sigma
            // The Gram side's vector is a right (tall) or left (wide) singular vector.
            let known = (0..<side).map { vectors[column * side + $0] }
            if tall {
                for c in 0..<n { vt[j * n + c] = known[c] }
            } else {
                for r in 0..<m { u[r * k + j] = known[r] }
            }
        }
        // The other side: U = A·V/σ (tall) or Vᵀ = Uᵀ·A/σ (wide), for the non-zero triplets.
        if rank > 0 {
            if tall {
                var product = [Double](repeating: 0, count: m * rank)
                BLAS.multiply(a, MatrixLayout(rows: m, columns: n), .asStored, vt, MatrixLayout(rows: rank, columns: n), .transposed,
                              into: &product, MatrixLayout(rows: m, columns: rank))
                for r in 0..<m { for j in 0..<rank { u[r * k + j] = product[r * rank + j] / s[j] } }
            } else {
                var product = [Double](repeating: 0, count: rank * n)
                BLAS.multiply(u, MatrixLayout(rows: m, columns: rank, stride: k), .transposed, a, MatrixLayout(rows: m, columns: n), .asStored,
                              into: &product, MatrixLayout(rows: rank, columns: n))
                for j in 0..<rank { for c in 0..<n { vt[j * n + c] = product[j * n + c] / s[j] } }
            }
        }
        return SingularValueDecomposition(rows: m, columns: n, u: u, s: s, vt: vt, uColumns: k, vtRows: k, numericalRank: rank)
    }

    /// The zero tolerance of the rank policy for singular values `s` (descending) of an m×n matrix.
    public static func zeroTolerance<T: BinaryFloatingPoint>(_ s: [T], rows: Int, columns: Int) -> T {
        guard let top = s.first else { return 0 }
        return T(max(rows, columns)) * T.ulpOfOne * top
    }

    /// The polar factor of the row-major `rows × columns` matrix `a`: P₊·Q₊ᵀ over its non-zero
    /// singular pairs (the nearest matrix with orthonormal columns or rows when `a` has full rank).
    ///
    /// Computed from the eigendecomposition of the smaller Gram matrix G (AᵀA or AAᵀ): the factor
    /// is A·G^(−1/2) (or G^(−1/2)·A) over the eigenvalues above the zero tolerance. That loses
    /// accuracy as ε·κ², so when the non-zero part is worse conditioned than κ = 10³ the SVD is
    /// used instead (accuracy ε·κ).
    public static func polar(_ a: [Double], rows: Int, columns: Int) throws(LinearAlgebraError) -> [Double] {
        precondition(a.count == rows * columns, "polar: \(a.count) values for a \(rows)×\(columns) matrix")
        guard a.allSatisfy({ $0.isFinite }) else { throw .nonFinite(rows: rows, columns: columns) }
        let tall = rows >= columns
        let side = min(rows, columns)
        if side == 0 { return a }
        var gram = BLAS.gram(a, rows: rows, columns: columns, transposeFirst: tall)
        var values = [Double](repeating: 0, count: side)
        var vectors = [Double](repeating: 0, count: side * side)   // column-major, ascending
        let info = Double.syevr(n: side, &gram, lower: 1, upper: side, &values, &vectors)
        let largest = max(values.last ?? 0, 0)
        // Zero tolerance on σ² = λ: σ ≤ max(m, n)·ε·σ₀ as in the SVD policy, but G cannot resolve
        // λ below about side·ε·λ₀ either.
        let sigmaTolerance = Double(max(rows, columns)) * Double.ulpOfOne * largest.squareRoot()
        let tolerance = max(sigmaTolerance * sigmaTolerance, Double(side) * Double.ulpOfOne * largest)
        let kept = values.filter { $0 > tolerance }
        guard info == 0, largest > 0, let smallest = kept.first, smallest >= 1e-6 * largest else {
            let d = try svd(a, rows: rows, columns: columns)
            return product(d.u, rows: rows, inner: d.numericalRank, uStride: d.uColumns, d.vt, columns: columns)
        }
        // W = Q₊·diag(λ^(−1/2))·Q₊ᵀ, then A·W (tall) or W·A (wide).
        var scaled = [Double](repeating: 0, count: side * side)   // row-major side × side: Q₊ with scaled columns
        var basis = [Double](repeating: 0, count: side * side)
        for column in 0..<side where values[column] > tolerance {
            let factor = 1 / values[column].squareRoot()
            for row in 0..<side {
                basis[row * side + column] = vectors[column * side + row]
                scaled[row * side + column] = vectors[column * side + row] * factor
            }
        }
        var w = [Double](repeating: 0, count: side * side)
        BLAS.multiply(scaled, MatrixLayout(rows: side, columns: side), .asStored, basis, MatrixLayout(rows: side, columns: side), .transposed,
                      into: &w, MatrixLayout(rows: side, columns: side))
        var out = [Double](repeating: 0, count: rows * columns)
        if tall {
            BLAS.multiply(a, MatrixLayout(rows: rows, columns: columns), .asStored, w, MatrixLayout(rows: side, columns: side), .asStored,
                          into: &out, MatrixLayout(rows: rows, columns: columns))
        } else {
            BLAS.multiply(w, MatrixLayout(rows: side, columns: side), .asStored, a, MatrixLayout(rows: rows, columns: columns), .asStored,
                          into: &out, MatrixLayout(rows: rows, columns: columns))
        }
        return out
    }

    /// `u[:, :inner] · vt[:inner, :]` (row-major; `u` has `uStride` columns).
    public static func product(_ u: [Double], rows: Int, inner: Int, uStride: Int, _ vt: [Double], columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * columns)
        guard inner > 0 else { return out }
        BLAS.multiply(u, MatrixLayout(rows: rows, columns: inner, stride: uStride), .asStored, vt, MatrixLayout(rows: inner, columns: columns), .asStored,
                      into: &out, MatrixLayout(rows: rows, columns: columns))
        return out
    }

    private static func decompose<T: LAPACKScalar>(_ a: [T], rows m: Int, columns n: Int, mode: SVDMode) throws(LinearAlgebraError) -> SingularValueDecomposition<T> {
        precondition(m >= 0 && n >= 0 && a.count == m * n, "svd: \(a.count) values for a \(m)×\(n) matrix")
        let r = min(m, n)
        let uColumns = mode == .thin ? r : m
        let vtRows = mode == .thin ? r : n
        if r == 0 {
            return SingularValueDecomposition(rows: m, columns: n, u: [T](repeating: 0, count: m * uColumns), s: [],
                                              vt: [T](repeating: 0, count: vtRows * n), uColumns: uColumns, vtRows: vtRows, numericalRank: 0)
        }
        guard a.allSatisfy({ $0.isFinite }) else { throw .nonFinite(rows: m, columns: n) }
        var work = a
        var s = [T](repeating: 0, count: r)
        // Column-major view: the n×m matrix Aᵀ. Its left vectors (n × vtRows, leading dimension n)
        // are our Vᵀ rows; its right vectors (uColumns × m, leading dimension uColumns) are our U.
        var vt = [T](repeating: 0, count: vtRows * n)
        var u = [T](repeating: 0, count: m * uColumns)
        var info = T.gesdd(full: mode == .full, rows: n, columns: m, &work, &s, &vt, &u)
        if info > 0 {
            work = a
            info = T.gesvd(full: mode == .full, rows: n, columns: m, &work, &s, &vt, &u)
        }
        guard info == 0 else { throw .noConvergence(rows: m, columns: n, info: info) }
        // The rank policy.
        let tolerance = zeroTolerance(s, rows: m, columns: n)
        let rank = s.firstIndex(where: { !($0 > tolerance) }) ?? r
        for i in rank..<r {
            s[i] = 0
            for row in 0..<m { u[row * uColumns + i] = 0 }
            for column in 0..<n { vt[i * n + column] = 0 }
        }
        return SingularValueDecomposition(rows: m, columns: n, u: u, s: s, vt: vt, uColumns: uColumns, vtRows: vtRows, numericalRank: rank)
    }
}

/// The two LAPACK precisions.
protocol LAPACKScalar: BinaryFloatingPoint & Sendable {
    /// `?gesdd` on the column-major `rows × columns` matrix `a`: left vectors into `u`
    /// (leading dimension `rows`), right vectors' transpose into `vt`; returns LAPACK's info.
    static func gesdd(full: Bool, rows: Int, columns: Int, _ a: inout [Self], _ s: inout [Self], _ u: inout [Self], _ vt: inout [Self]) -> Int
    /// The same through `?gesvd`.
    static func gesvd(full: Bool, rows: Int, columns: Int, _ a: inout [Self], _ s: inout [Self], _ u: inout [Self], _ vt: inout [Self]) -> Int
}

#if canImport(Accelerate)
// Accelerate's Fortran-style LAPACK, with a workspace query first.
extension Double: LAPACKScalar {
    static func gesdd(full: Bool, rows: Int, columns: Int, _ a: inout [Double], _ s: inout [Double], _ u: inout [Double], _ vt: inout [Double]) -> Int {
        var jobz = Int8(UInt8(ascii: full ? "A" : "S"))
        var m = __CLPK_integer(rows), n = __CLPK_integer(columns), lda = __CLPK_integer(max(rows, 1))
        let r = min(rows, columns)
        var ldu = __CLPK_integer(max(rows, 1)), ldvt = __CLPK_integer(max(full ? columns : r, 1))
        var info = __CLPK_integer(0), lwork = __CLPK_integer(-1)
        var query = 0.0
        var iwork = [__CLPK_integer](repeating: 0, count: 8 * r)
        dgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(query)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info)
        return Int(info)
    }

    static func gesvd(full: Bool, rows: Int, columns: Int, _ a: inout [Double], _ s: inout [Double], _ u: inout [Double], _ vt: inout [Double]) -> Int {
        var job = Int8(UInt8(ascii: full ? "A" : "S"))
        var jobv = job
        var m = __CLPK_integer(rows), n = __CLPK_integer(columns), lda = __CLPK_integer(max(rows, 1))
        let r = min(rows, columns)
        var ldu = __CLPK_integer(max(rows, 1)), ldvt = __CLPK_integer(max(full ? columns : r, 1))
        var info = __CLPK_integer(0), lwork = __CLPK_integer(-1)
        var query = 0.0
        dgesvd_(&job, &jobv, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(query)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesvd_(&job, &jobv, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &info)
        return Int(info)
    }
}

extension Double {
    /// `dsyevr`: eigenpairs `lower...upper` (1-based, ascending) of the symmetric n×n `a`;
    /// vectors column-major into `z` (n × count).
    static func syevr(n: Int, _ a: inout [Double], lower: Int, upper: Int, _ w: inout [Double], _ z: inout [Double]) -> Int {
        var jobz = Int8(UInt8(ascii: "V")), range = Int8(UInt8(ascii: lower == 1 && upper == n ? "A" : "I")), uplo = Int8(UInt8(ascii: "U"))
        var order = __CLPK_integer(n), lda = __CLPK_integer(max(n, 1)), il = __CLPK_integer(lower), iu = __CLPK_integer(upper)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var found = __CLPK_integer(0), ldz = __CLPK_integer(max(n, 1)), info = __CLPK_integer(0)
        var isuppz = [__CLPK_integer](repeating: 0, count: 2 * max(n, 1))
        var lwork = __CLPK_integer(-1), liwork = __CLPK_integer(-1)
        var workQuery = 0.0
        var iworkQuery = __CLPK_integer(0)
        dsyevr_(&jobz, &range, &uplo, &order, &a, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &isuppz,
                &workQuery, &lwork, &iworkQuery, &liwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(workQuery)
        liwork = iworkQuery
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [__CLPK_integer](repeating: 0, count: Int(liwork))
        dsyevr_(&jobz, &range, &uplo, &order, &a, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &isuppz,
                &work, &lwork, &iwork, &liwork, &info)
        return Int(info)
    }
}

extension Float: LAPACKScalar {
    static func gesdd(full: Bool, rows: Int, columns: Int, _ a: inout [Float], _ s: inout [Float], _ u: inout [Float], _ vt: inout [Float]) -> Int {
        var jobz = Int8(UInt8(ascii: full ? "A" : "S"))
        var m = __CLPK_integer(rows), n = __CLPK_integer(columns), lda = __CLPK_integer(max(rows, 1))
        let r = min(rows, columns)
        var ldu = __CLPK_integer(max(rows, 1)), ldvt = __CLPK_integer(max(full ? columns : r, 1))
        var info = __CLPK_integer(0), lwork = __CLPK_integer(-1)
        var query: Float = 0
        var iwork = [__CLPK_integer](repeating: 0, count: 8 * r)
        sgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(query)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info)
        return Int(info)
    }

    static func gesvd(full: Bool, rows: Int, columns: Int, _ a: inout [Float], _ s: inout [Float], _ u: inout [Float], _ vt: inout [Float]) -> Int {
        var job = Int8(UInt8(ascii: full ? "A" : "S"))
        var jobv = job
        var m = __CLPK_integer(rows), n = __CLPK_integer(columns), lda = __CLPK_integer(max(rows, 1))
        let r = min(rows, columns)
        var ldu = __CLPK_integer(max(rows, 1)), ldvt = __CLPK_integer(max(full ? columns : r, 1))
        var info = __CLPK_integer(0), lwork = __CLPK_integer(-1)
        var query: Float = 0
        sgesvd_(&job, &jobv, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &info)
        guard info == 0 else { return Int(info) }
        lwork = __CLPK_integer(query)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesvd_(&job, &jobv, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &info)
        return Int(info)
    }
}
#else
// LAPACKE (column-major calls; LAPACKE allocates the workspace). Debian's LAPACKE uses 32-bit
// integers (`lapack_int` is a C macro, so Swift does not see it).
typealias LapackInt = Int32

extension Double: LAPACKScalar {
    static func gesdd(full: Bool, rows: Int, columns: Int, _ a: inout [Double], _ s: inout [Double], _ u: inout [Double], _ vt: inout [Double]) -> Int {
        let r = min(rows, columns)
        return Int(LAPACKE_dgesdd(LAPACK_COL_MAJOR, Int8(UInt8(ascii: full ? "A" : "S")), LapackInt(rows), LapackInt(columns),
                                  &a, LapackInt(max(rows, 1)), &s, &u, LapackInt(max(rows, 1)), &vt, LapackInt(max(full ? columns : r, 1))))
    }

    static func gesvd(full: Bool, rows: Int, columns: Int, _ a: inout [Double], _ s: inout [Double], _ u: inout [Double], _ vt: inout [Double]) -> Int {
        let r = min(rows, columns)
        let job = Int8(UInt8(ascii: full ? "A" : "S"))
        var superb = [Double](repeating: 0, count: max(r - 1, 1))
        return Int(LAPACKE_dgesvd(LAPACK_COL_MAJOR, job, job, LapackInt(rows), LapackInt(columns), &a, LapackInt(max(rows, 1)),
                                  &s, &u, LapackInt(max(rows, 1)), &vt, LapackInt(max(full ? columns : r, 1)), &superb))
    }
}

extension Double {
    /// `dsyevr`: eigenpairs `lower...upper` (1-based, ascending) of the symmetric n×n `a`;
    /// vectors column-major into `z` (n × count).
    static func syevr(n: Int, _ a: inout [Double], lower: Int, upper: Int, _ w: inout [Double], _ z: inout [Double]) -> Int {
        var found = LapackInt(0)
        var isuppz = [LapackInt](repeating: 0, count: 2 * max(n, 1))
        let range = Int8(UInt8(ascii: lower == 1 && upper == n ? "A" : "I"))   // all: MRRR, no bisection
        return Int(LAPACKE_dsyevr(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "V")), range, Int8(UInt8(ascii: "U")),
                                  LapackInt(n), &a, LapackInt(max(n, 1)), 0, 0, LapackInt(lower), LapackInt(upper), 0,
                                  &found, &w, &z, LapackInt(max(n, 1)), &isuppz))
    }
}

extension Float: LAPACKScalar {
    static func gesdd(full: Bool, rows: Int, columns: Int, _ a: inout [Float], _ s: inout [Float], _ u: inout [Float], _ vt: inout [Float]) -> Int {
        let r = min(rows, columns)
        return Int(LAPACKE_sgesdd(LAPACK_COL_MAJOR, Int8(UInt8(ascii: full ? "A" : "S")), LapackInt(rows), LapackInt(columns),
                                  &a, LapackInt(max(rows, 1)), &s, &u, LapackInt(max(rows, 1)), &vt, LapackInt(max(full ? columns : r, 1))))
    }

    static func gesvd(full: Bool, rows: Int, columns: Int, _ a: inout [Float], _ s: inout [Float], _ u: inout [Float], _ vt: inout [Float]) -> Int {
        let r = min(rows, columns)
        let job = Int8(UInt8(ascii: full ? "A" : "S"))
        var superb = [Float](repeating: 0, count: max(r - 1, 1))
        return Int(LAPACKE_sgesvd(LAPACK_COL_MAJOR, job, job, LapackInt(rows), LapackInt(columns), &a, LapackInt(max(rows, 1)),
                                  &s, &u, LapackInt(max(rows, 1)), &vt, LapackInt(max(full ? columns : r, 1)), &superb))
    }
}
#endif
