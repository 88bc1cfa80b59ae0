import FixedPoint
import QSRFormat

/// requantize: dst = clamp(requantize(src, M(c, src < 0)), lo, hi).
func requantizeKernel(dst: TensorView, src: TensorView, requant r: Requantization) {
    for c in 0..<dst.c {
        let base = c * dst.plane
        for i in base..<(base + dst.plane) {
            let x = src.load(i)
            dst.store(i, clamp(requantize(x, r.multiplier(channel: c, accumulator: x)) &+ r.offset, r.clampMin, r.clampMax))
        }
    }
}

/// Index of b's element for a's element (c, i): b is [C,H,W] or broadcast [C,1,1].
@inline(__always) private func broadcastIndex(_ b: TensorView, _ c: Int, _ i: Int) -> Int {
    b.plane == 1 ? c : c * b.plane + i
}

/// add: clamp(requantize(requantize(a·2^L, Ma) ± requantize(b·2^L, Mb), Mo), lo, hi).
/// The validator bounds L by the operand types and Ma, Mb by 1/2, so nothing overflows.
func addKernel(dst: TensorView, a: TensorView, b: TensorView, leftShift: UInt8, ma: QuantMultiplier, mb: QuantMultiplier,
               mo: QuantMultiplier, subtract: Bool, lo: Int32, hi: Int32) {
    let L = Int32(leftShift)
    for c in 0..<dst.c {
        for i in 0..<dst.plane {
            let k = c * dst.plane + i
            let ta = requantize(a.load(k) << L, ma)
            let tb = requantize(b.load(broadcastIndex(b, c, i)) << L, mb)
            dst.store(k, clamp(requantize(subtract ? ta &- tb : ta &+ tb, mo), lo, hi))
        }
    }
}

/// mul: clamp(requantize(a·b, M), lo, hi).
func mulKernel(dst: TensorView, a: TensorView, b: TensorView, m: QuantMultiplier, lo: Int32, hi: Int32) {
    for c in 0..<dst.c {
        for i in 0..<dst.plane {
            let k = c * dst.plane + i
            dst.store(k, clamp(requantize(a.load(k) &* b.load(broadcastIndex(b, c, i)), m), lo, hi))
        }
    }
}

/// sqrt: clamp(roundedSquareRoot(max(0, requantize(src, M))), lo, hi).
func sqrtKernel(dst: TensorView, src: TensorView, m: QuantMultiplier, lo: Int32, hi: Int32) {
    for k in 0..<dst.count {
        let v = max(0, requantize(src.load(k), m))
        dst.store(k, clamp(Int32(roundedSquareRoot(Int64(v))), lo, hi))
    }
}

/// lookup: dst = T[src − qmin(src)]; a source outside the table is an error, not a wild read.
func lookupKernel(dst: TensorView, src: TensorView, srcMin: Int32, table: [Int32]) throws {
    for k in 0..<dst.count {
        let index = Int(src.load(k)) - Int(srcMin)
        guard index >= 0, index < table.count else {
            throw VMError("lookup: source value \(src.load(k)) is outside the table's range [\(srcMin), \(Int(srcMin) + table.count - 1)]")
        }
        dst.store(k, table[index])
    }
}

/// reduce_mean: dst[c] = clamp(requantize(roundingDivide(Σ src[c,·,·]·2^15, H·W), M), lo, hi), 64-bit sum.
func reduceMeanKernel(dst: TensorView, src: TensorView, m: QuantMultiplier, lo: Int32, hi: Int32) {
    for c in 0..<src.c {
        var sum: Int64 = 0
        for i in (c * src.plane)..<((c + 1) * src.plane) { sum += Int64(src.load(i)) }
        let mean = fixedPointMean(sum: sum, count: src.plane)
        dst.store(c, clamp(requantize(mean, m), lo, hi))
    }
}
