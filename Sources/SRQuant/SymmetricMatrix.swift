import Foundation

/// Dense symmetric positive definite matrices in Double, for the weight-rounding pass's
/// second-order error model (small: K = input channels × kernel taps + 1, at most a few
/// thousand). Row-major n×n storage.
struct SymmetricMatrix {
    var n: Int
    var a: [Double]

    init(n: Int) { self.n = n; a = [Double](repeating: 0, count: n * n) }

    subscript(i: Int, j: Int) -> Double {
        get { a[i * n + j] }
        set { a[i * n + j] = newValue }
    }

    /// X·Xᵀ for X stored as `rows` rows of `count` samples each (row-major), in parallel over rows.
    static func gram(_ x: [Float], rows: Int, count: Int) -> SymmetricMatrix {
        var h = SymmetricMatrix(n: rows)
        h.a.withUnsafeMutableBufferPointer { hb in
            x.withUnsafeBufferPointer { xb in
                nonisolated(unsafe) let hp = hb.baseAddress!
                nonisolated(unsafe) let xp = xb.baseAddress!
                DispatchQueue.concurrentPerform(iterations: rows) { i in
                    let xi = xp + i * count
                    for j in 0...i {
                        let v = Double(dot(xi, xp + j * count, count))
                        hp[i * rows + j] = v
                        hp[j * rows + i] = v
                    }
                }
            }
        }
        return h
    }

    /// Lower-triangular L with self = L·Lᵀ; nil when the matrix is not positive definite.
    func cholesky() -> SymmetricMatrix? {
        var l = SymmetricMatrix(n: n)
        for j in 0..<n {
            var d = self[j, j]
            for k in 0..<j { d -= l[j, k] * l[j, k] }
            guard d > 0 else { return nil }
            let ljj = d.squareRoot()
            l[j, j] = ljj
            for i in (j + 1)..<max(j + 1, n) {
                var s = self[i, j]
                for k in 0..<j { s -= l[i, k] * l[j, k] }
                l[i, j] = s / ljj
            }
        }
        return l
    }

    /// The inverse of an SPD matrix through its Cholesky factor.
    func inverse() -> SymmetricMatrix? {
        guard let l = cholesky() else { return nil }
        // L⁻¹ (lower), then A⁻¹ = L⁻ᵀ·L⁻¹.
        var li = SymmetricMatrix(n: n)
        for j in 0..<n {
            li[j, j] = 1 / l[j, j]
            for i in (j + 1)..<max(j + 1, n) {
                var s = 0.0
                for k in j..<i { s -= l[i, k] * li[k, j] }
                li[i, j] = s / l[i, i]
            }
        }
        var inv = SymmetricMatrix(n: n)
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for k in i..<n { s += li[k, i] * li[k, j] }
                inv[i, j] = s; inv[j, i] = s
            }
        }
        return inv
    }
}

/// Σ x[k]·y[k] over `count` floats, 16 lanes at a time.
@inline(__always)
private func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var k = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
    while k + 32 <= count {
        acc0 += rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self) * ry.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
        acc1 += rx.loadUnaligned(fromByteOffset: k * 4 + 64, as: SIMD16<Float>.self) * ry.loadUnaligned(fromByteOffset: k * 4 + 64, as: SIMD16<Float>.self)
        k += 32
    }
    var s = (acc0 + acc1).sum()
    while k < count { s += x[k] * y[k]; k += 1 }
    return s
}
