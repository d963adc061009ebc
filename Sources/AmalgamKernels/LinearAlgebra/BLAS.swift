// Matrix products through BLAS: OpenBLAS on Linux (the CBLAS system-library target), Accelerate on
// Apple platforms. The API takes Swift arrays plus offsets and leading dimensions, checks every
// access range up front, and hides the pointers. All matrices are row-major.

#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Whether a matrix operand is used as stored or transposed.
public enum MatrixOrientation: Sendable {
    case asStored
    case transposed
}

/// A row-major matrix view into a `[Float]`: `rows × columns` starting at `offset`, rows `stride` apart.
public struct MatrixLayout: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var offset: Int
    public var stride: Int

    public init(rows: Int, columns: Int, offset: Int = 0, stride: Int? = nil) {
        self.rows = rows
        self.columns = columns
        self.offset = offset
        self.stride = stride ?? max(columns, 1)
    }

    /// The last element index the view touches, plus one (0 for an empty view).
    var end: Int { rows == 0 || columns == 0 ? offset : offset + (rows - 1) * stride + columns }

    func check(_ count: Int, _ what: String) {
        precondition(rows >= 0 && columns >= 0 && offset >= 0, "\(what): negative dimension or offset")
        precondition(stride >= max(columns, 1), "\(what): stride \(stride) below column count \(columns)")
        precondition(end <= count, "\(what): view ends at \(end) but storage holds \(count)")
    }
}

public enum BLAS {
    /// The number of threads the BLAS library may use for one call.
    public static var threads: Int {
        #if canImport(Accelerate)
        return 1
        #else
        return Int(openblas_get_num_threads())
        #endif
    }

    /// Sets the BLAS library's own thread count (OpenBLAS); a no-op on Accelerate.
    public static func setThreads(_ count: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(max(1, count)))
        #endif
    }

    /// `c ← alpha · op(a) · op(b) + beta · c`, Float32, where `op` is the given orientation.
    /// `a` and `b` describe the stored matrices; the product shape follows from the orientations.
    public static func multiply(
        _ a: [Float], _ aLayout: MatrixLayout, _ aOrientation: MatrixOrientation = .asStored,
        _ b: [Float], _ bLayout: MatrixLayout, _ bOrientation: MatrixOrientation = .asStored,
        into c: inout [Float], _ cLayout: MatrixLayout,
        alpha: Float = 1, beta: Float = 0
    ) {
        let (m, n, k) = productShape(
            a: (aLayout, aOrientation, a.count), b: (bLayout, bOrientation, b.count), c: (cLayout, c.count)
        )
        if m == 0 || n == 0 { return }
        if k == 0 {
            scaleView(&c, cLayout, by: beta)
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(
                        CblasRowMajor,
                        aOrientation == .asStored ? CblasNoTrans : CblasTrans,
                        bOrientation == .asStored ? CblasNoTrans : CblasTrans,
                        Int32(m), Int32(n), Int32(k), alpha,
                        pa.baseAddress! + aLayout.offset, Int32(aLayout.stride),
                        pb.baseAddress! + bLayout.offset, Int32(bLayout.stride),
                        beta, pc.baseAddress! + cLayout.offset, Int32(cLayout.stride)
                    )
                }
            }
        }
    }

    /// `c ← alpha · op(a) · op(b) + beta · c` in Float64.
    public static func multiply(
        _ a: [Double], _ aLayout: MatrixLayout, _ aOrientation: MatrixOrientation = .asStored,
        _ b: [Double], _ bLayout: MatrixLayout, _ bOrientation: MatrixOrientation = .asStored,
        into c: inout [Double], _ cLayout: MatrixLayout,
        alpha: Double = 1, beta: Double = 0
    ) {
        let (m, n, k) = productShape(
            a: (aLayout, aOrientation, a.count), b: (bLayout, bOrientation, b.count), c: (cLayout, c.count)
        )
        if m == 0 || n == 0 { return }
        if k == 0 {
            scaleView(&c, cLayout, by: beta)
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(
                        CblasRowMajor,
                        aOrientation == .asStored ? CblasNoTrans : CblasTrans,
                        bOrientation == .asStored ? CblasNoTrans : CblasTrans,
                        Int32(m), Int32(n), Int32(k), alpha,
                        pa.baseAddress! + aLayout.offset, Int32(aLayout.stride),
                        pb.baseAddress! + bLayout.offset, Int32(bLayout.stride),
                        beta, pc.baseAddress! + cLayout.offset, Int32(cLayout.stride)
                    )
                }
            }
        }
    }

    /// The Gram matrix of the row-major `rows × columns` matrix `a`: aᵀ·a (columns × columns) when
    /// `transposeFirst`, else a·aᵀ (rows × rows), as a full symmetric row-major matrix (`dsyrk`,
    /// half the work of a general product).
    public static func gram(_ a: [Double], rows: Int, columns: Int, transposeFirst: Bool) -> [Double] {
        precondition(rows >= 0 && columns >= 0 && a.count == rows * columns, "gram: \(a.count) values for \(rows)×\(columns)")
        let n = transposeFirst ? columns : rows
        let k = transposeFirst ? rows : columns
        var c = [Double](repeating: 0, count: n * n)
        guard n > 0, k > 0 else { return c }
        a.withUnsafeBufferPointer { pa in
            c.withUnsafeMutableBufferPointer { pc in
                cblas_dsyrk(CblasRowMajor, CblasUpper, transposeFirst ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), 1,
                            pa.baseAddress!, Int32(max(columns, 1)), 0, pc.baseAddress!, Int32(n))
            }
        }
        for i in 0..<n { for j in 0..<i { c[i * n + j] = c[j * n + i] } }
        return c
    }

    /// Checks the three views against their storage and each other; returns (m, n, k).
    private static func productShape(
        a: (layout: MatrixLayout, orientation: MatrixOrientation, count: Int),
        b: (layout: MatrixLayout, orientation: MatrixOrientation, count: Int),
        c: (layout: MatrixLayout, count: Int)
    ) -> (m: Int, n: Int, k: Int) {
        a.layout.check(a.count, "multiply operand a")
        b.layout.check(b.count, "multiply operand b")
        c.layout.check(c.count, "multiply result c")
        let m = a.orientation == .asStored ? a.layout.rows : a.layout.columns
        let k = a.orientation == .asStored ? a.layout.columns : a.layout.rows
        let kb = b.orientation == .asStored ? b.layout.rows : b.layout.columns
        let n = b.orientation == .asStored ? b.layout.columns : b.layout.rows
        precondition(k == kb, "multiply: inner dimensions \(k) and \(kb) differ")
        precondition(c.layout.rows == m && c.layout.columns == n, "multiply: result is \(c.layout.rows)×\(c.layout.columns), product is \(m)×\(n)")
        return (m, n, k)
    }

    private static func scaleView<T: BinaryFloatingPoint>(_ c: inout [T], _ layout: MatrixLayout, by beta: T) {
        for row in 0..<layout.rows {
            let start = layout.offset + row * layout.stride
            for index in start..<(start + layout.columns) { c[index] = beta == 0 ? 0 : c[index] * beta }
        }
    }
}
