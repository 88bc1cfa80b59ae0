import FixedPoint
import QSRFormat

/// conv (SPEC.md §5.3): acc[o,y,x] = B[o] + Σ W[o,c,ky,kx] · X[g·C/G + c, y·sy − pt + ky·dy, x·sx − pl + kx·dx]
/// with X = pad[c] (or 0) outside the input; dst = clamp(requantize(acc, M(o, acc < 0)), lo, hi).
/// Reference kernel: the input is copied once into a padded plane per channel; then for each
/// output pixel the input patch (channels × taps of the group) is gathered into a vector and
/// each output channel is one dot product with its weight row (in the file's [O][C/G][kh][kw]
/// order), summed in Int32.
func convKernel(dst: TensorView, src: TensorView, params q: ConvParameters, weights: [Int32], bias: [Int32],
                requant r: Requantization, padValues: [Int32]?) {
    // The padded copy and the weights are held as Int16 whenever every value fits (always, for
    // u8/i8/i16 sources and int4/int8 weights): a dot product of 16-bit vectors widened to
    // Int32 is what baseline x86-64 does 8 products at a time (pmaddwd); the sum is the same
    // Int32 sum either way.
    let fits16 = { (v: Int32) in v >= Int32(Int16.min) && v <= Int32(Int16.max) }
    if src.type != .i32, weights.allSatisfy(fits16), padValues?.allSatisfy(fits16) ?? true {
        convPixels(Int16.self, dst: dst, src: src, params: q, weights: weights, bias: bias, requant: r, padValues: padValues)
    } else {
        convPixels(Int32.self, dst: dst, src: src, params: q, weights: weights, bias: bias, requant: r, padValues: padValues)
    }
}

private func convPixels<T: FixedWidthInteger & SignedInteger>(
    _: T.Type, dst: TensorView, src: TensorView, params q: ConvParameters, weights: [Int32], bias: [Int32],
    requant r: Requantization, padValues: [Int32]?) {
    let C = src.c, H = src.h, W = src.w
    let pt = Int(q.padTop), pl = Int(q.padLeft)
    let Hp = H + pt + Int(q.padBottom), Wp = W + pl + Int(q.padRight)
    let kh = Int(q.kernelHeight), kw = Int(q.kernelWidth)
    let sy = Int(q.strideY), sx = Int(q.strideX), dy = Int(q.dilationY), dx = Int(q.dilationX)
    let O = dst.c, Ho = dst.h, Wo = dst.w
    let G = Int(q.group), cg = C / G, og = O / G
    let planeP = Hp * Wp, K = cg * kh * kw

    let padded = UnsafeMutablePointer<T>.allocate(capacity: C * planeP)
    defer { padded.deallocate() }
    for c in 0..<C {
        let p = padded + c * planeP
        p.update(repeating: T(padValues?[c] ?? 0), count: planeP)
        for y in 0..<H {
            let row = p + (y + pt) * Wp + pl
            let s = (c * H + y) * W
            for x in 0..<W { row[x] = T(truncatingIfNeeded: src.load(s + x)) }
        }
    }
    let narrowWeights = weights.map { T(truncatingIfNeeded: $0) }
    let patch = UnsafeMutablePointer<T>.allocate(capacity: max(1, K))
    defer { patch.deallocate() }
    let positive = (0..<O).map { r.positive.count == 1 ? r.positive[0] : r.positive[$0] }
    let negative = (0..<O).map { o in r.negative.map { $0.count == 1 ? $0[0] : $0[o] } ?? positive[o] }
    let lo = r.clampMin, hi = r.clampMax
    narrowWeights.withUnsafeBufferPointer { wts in
        for y in 0..<Ho {
            for x in 0..<Wo {
                for g in 0..<G {
                    var k = 0
                    for c in 0..<cg {
                        let plane = padded + (g * cg + c) * planeP
                        for ky in 0..<kh {
                            let row = plane + (y * sy + ky * dy) * Wp + x * sx
                            for kx in 0..<kw { patch[k] = row[kx * dx]; k += 1 }
                        }
                    }
                    for o in (g * og)..<((g + 1) * og) {
                        let w = wts.baseAddress! + o * K
                        var a = bias[o]
                        for k in 0..<K { a &+= Int32(truncatingIfNeeded: w[k]) &* Int32(truncatingIfNeeded: patch[k]) }
                        let m = a < 0 ? negative[o] : positive[o]
                        dst.store((o * Ho + y) * Wo + x, clamp(requantize(a, m) &+ r.offset, lo, hi))
                    }
                }
            }
        }
    }
}
