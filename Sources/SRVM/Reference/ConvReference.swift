import FixedPoint
import QSRFormat

/// conv (SPEC.md §5.3): acc[o,y,x] = B[o] + Σ W[o,c,ky,kx] · X[g·C/G + c, y·sy − pt + ky·dy, x·sx − pl + kx·dx]
/// with X = pad[c] (or 0) outside the input; dst = clamp(requantize(acc, M(o, acc < 0)), lo, hi).
/// Reference kernel: the input is widened once into a padded Int32 copy, then each output row
/// accumulates per output channel in an Int32 row buffer whose inner loop runs along x.
func convKernel(dst: TensorView, src: TensorView, params q: ConvParameters, weights: [Int32], bias: [Int32],
                requant r: Requantization, padValues: [Int32]?) {
    let C = src.c, H = src.h, W = src.w
    let pt = Int(q.padTop), pl = Int(q.padLeft)
    let Hp = H + pt + Int(q.padBottom), Wp = W + pl + Int(q.padRight)
    let kh = Int(q.kernelHeight), kw = Int(q.kernelWidth)
    let sy = Int(q.strideY), sx = Int(q.strideX), dy = Int(q.dilationY), dx = Int(q.dilationX)
    let O = dst.c, Ho = dst.h, Wo = dst.w
    let G = Int(q.group), cg = C / G, og = O / G
    let planeP = Hp * Wp

    let padded = UnsafeMutablePointer<Int32>.allocate(capacity: C * planeP)
    defer { padded.deallocate() }
    for c in 0..<C {
        let p = padded + c * planeP
        p.update(repeating: padValues?[c] ?? 0, count: planeP)
        for y in 0..<H {
            let row = p + (y + pt) * Wp + pl
            let s = (c * H + y) * W
            for x in 0..<W { row[x] = src.load(s + x) }
        }
    }
    let acc = UnsafeMutablePointer<Int32>.allocate(capacity: Wo)
    defer { acc.deallocate() }
    let lo = r.clampMin, hi = r.clampMax
    weights.withUnsafeBufferPointer { wts in
        for o in 0..<O {
            let g = o / og
            let pos = r.positive.count == 1 ? r.positive[0] : r.positive[o]
            let neg = r.negative.map { $0.count == 1 ? $0[0] : $0[o] } ?? pos
            let wo = wts.baseAddress! + o * cg * kh * kw
            for y in 0..<Ho {
                acc.update(repeating: bias[o], count: Wo)
                for c in 0..<cg {
                    let plane = padded + (g * cg + c) * planeP
                    for ky in 0..<kh {
                        let row = plane + (y * sy + ky * dy) * Wp
                        for kx in 0..<kw {
                            let wv = wo[(c * kh + ky) * kw + kx]
                            if wv == 0 { continue }
                            let tap = row + kx * dx
                            if sx == 1 {
                                for x in 0..<Wo { acc[x] &+= wv &* tap[x] }
                            } else {
                                for x in 0..<Wo { acc[x] &+= wv &* tap[x * sx] }
                            }
                        }
                    }
                }
                let out = (o * Ho + y) * Wo
                for x in 0..<Wo {
                    let a = acc[x]
                    dst.store(out + x, clamp(requantize(a, a < 0 ? neg : pos) &+ r.offset, lo, hi))
                }
            }
        }
    }
}
