import FixedPoint
import QSRFormat

/// concat: sources stacked along channels, each requantized by its multiplier (nil: copied)
/// and clamped to [lo, hi].
func concatKernel(dst: TensorView, sources: [TensorView], multipliers: [QuantMultiplier?], lo: Int32, hi: Int32) {
    var offset = 0
    for (src, m) in zip(sources, multipliers) {
        for k in 0..<src.count {
            let x = src.load(k)
            dst.store(offset + k, clamp(m.map { requantize(x, $0) } ?? x, lo, hi))
        }
        offset += src.count
    }
}

/// slice_channels: dst = src channels [start, start + C_dst).
func sliceKernel(dst: TensorView, src: TensorView, start: Int) {
    let first = start * src.plane
    for k in 0..<dst.count { dst.store(k, src.load(first + k)) }
}

/// depth_to_space: y[c, h·b+i, w·b+j] = x[(i·b + j)·C' + c] (DCR) or x[c·b² + i·b + j] (CRD).
func depthToSpaceKernel(dst: TensorView, src: TensorView, block b: Int, crd: Bool) {
    let Cd = dst.c
    for c in 0..<Cd {
        for i in 0..<b {
            for j in 0..<b {
                let sc = crd ? c * b * b + i * b + j : (i * b + j) * Cd + c
                for y in 0..<src.h {
                    let s = (sc * src.h + y) * src.w
                    let d = (c * dst.h + y * b + i) * dst.w + j
                    for x in 0..<src.w { dst.store(d + x * b, src.load(s + x)) }
                }
            }
        }
    }
}
