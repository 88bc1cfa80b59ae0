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

    /// X·Xᵀ for X stored as `rows` rows of `count` samples each (row-major), in parallel.
    /// Entry (i, j) is the `DotLanes` sum of rows i and j, computed in cache-sized pieces: the pairs of a
    /// tile of rows × rows advance together through `count` one chunk at a time, each pair
    /// keeping its own lane accumulators between chunks, so every lane sums its products in
    /// the same order as one pass over the whole rows would (the same bits), while the tile's
    /// rows stay in L2 instead of streaming two 64 KB rows from memory for every pair.
    static func gram(_ x: [Float], rows: Int, count: Int) -> SymmetricMatrix {
        var h = SymmetricMatrix(n: rows)
        let tileRows = 16, chunk = 1024          // 2 x 16 rows x 4 KB: 128 KB per tile and chunk
        let blocks = (rows + tileRows - 1) / tileRows
        let tiles = (0..<blocks).flatMap { bi in (0...bi).map { (bi, $0) } }
        let full = count / 32 * 32
        h.a.withUnsafeMutableBufferPointer { hb in
            x.withUnsafeBufferPointer { xb in
                nonisolated(unsafe) let hp = hb.baseAddress!
                nonisolated(unsafe) let xp = xb.baseAddress!
                DispatchQueue.concurrentPerform(iterations: tiles.count) { t in
                    let (bi, bj) = tiles[t]
                    let iRows = (bi * tileRows)..<min(rows, (bi + 1) * tileRows)
                    let jRows = (bj * tileRows)..<min(rows, (bj + 1) * tileRows)
                    let pairs = iRows.flatMap { i in jRows.filter { $0 <= i }.map { (i, $0) } }
                    var acc = [DotLanes](repeating: DotLanes(), count: pairs.count)
                    var k0 = 0
                    while k0 < full {
                        let k1 = min(full, k0 + chunk)
                        for (p, (i, j)) in pairs.enumerated() { acc[p].add(xp + i * count, xp + j * count, k0, k1) }
                        k0 = k1
                    }
                    for (p, (i, j)) in pairs.enumerated() {
                        let v = Double(acc[p].finish(xp + i * count, xp + j * count, from: full, count))
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

/// Σ x[k]·y[k] over floats, 32 lanes at a time in two 16-lane accumulators (lane l sums the
/// products of the elements ≡ l mod 32 in order), fed in pieces of whole 32-element blocks;
/// `finish` adds the lanes and then the tail past the last whole block, one at a time.
private struct DotLanes {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()

    /// Blocks [k0, k1), both multiples of 32.
    @inline(__always)
    mutating func add(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ k0: Int, _ k1: Int) {
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        var a0 = acc0, a1 = acc1
        var k = k0
        while k < k1 {
            a0 += rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self) * ry.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            a1 += rx.loadUnaligned(fromByteOffset: k * 4 + 64, as: SIMD16<Float>.self) * ry.loadUnaligned(fromByteOffset: k * 4 + 64, as: SIMD16<Float>.self)
            k += 32
        }
        acc0 = a0; acc1 = a1
    }

    @inline(__always)
    func finish(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, from full: Int, _ count: Int) -> Float {
        var s = (acc0 + acc1).sum()
        var k = full
        while k < count { s += x[k] * y[k]; k += 1 }
        return s
    }
}
