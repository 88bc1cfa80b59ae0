import SRRuntime
import Foundation
import SRGraph
#if arch(x86_64)
import FloatKernelsAVX2
#endif

/// Vectorizable loops for the elementwise ops and DepthToSpace on the shapes SR nets use
/// (same shape, scalar operand, per-channel operand). Anything else returns nil and the engine
/// uses the reference kernel. The closures are inlined into tight loops over raw pointers,
/// which the compiler vectorizes.

@inline(__always)
private func chunked(_ count: Int, threads: Int, _ body: (Int, Int) -> Void) {
    if count < parallelElementThreshold || threads == 1 { body(0, count); return }
    parallelRanges(count, threads: threads) { r in body(r.lowerBound, r.upperBound) }
}

func unaryFast(_ op: Op, _ x: Tensor, threads: Int, pool: BufferPool? = nil) -> Tensor? {
    let n = x.count
    let out = x.floats.withUnsafeBufferPointer { xb -> [Float]? in
        let src = xb.baseAddress!
        switch op {
        case .relu:
            return makeFloats(n, pool: pool) { dst in chunked(n, threads: threads) { lo, hi in
                for i in lo..<hi { let v = src[i]; dst[i] = v < 0 ? 0 : v } } }
        case .leakyRelu(let alpha):
            return makeFloats(n, pool: pool) { dst in chunked(n, threads: threads) { lo, hi in
                for i in lo..<hi { let v = src[i]; dst[i] = v < 0 ? alpha * v : v } } }
        case .clip(let a, let b):
            return makeFloats(n, pool: pool) { dst in chunked(n, threads: threads) { lo, hi in
                for i in lo..<hi { let v = src[i]; dst[i] = v.isNaN ? v : Swift.min(Swift.max(v, a), b) } } }
        default: return nil
        }
    }
    return out.map { Tensor(shape: x.shape, floats: $0) }
}

@inline(__always)
private func binaryLoops(_ a: UnsafePointer<Float>, _ aStep: Int, _ b: UnsafePointer<Float>, _ bStep: Int,
                         _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ op: Op) {
    // aStep/bStep are 1 (a vector) or 0 (a scalar repeated); specialised loops per case keep
    // the compiler's vectorizer on the contiguous path.
    switch (op, aStep, bStep) {
    case (.add, 1, 1): for i in 0..<count { dst[i] = a[i] + b[i] }
    case (.add, 1, 0): let s = b[0]; for i in 0..<count { dst[i] = a[i] + s }
    case (.add, 0, 1): let s = a[0]; for i in 0..<count { dst[i] = s + b[i] }
    case (.sub, 1, 1): for i in 0..<count { dst[i] = a[i] - b[i] }
    case (.sub, 1, 0): let s = b[0]; for i in 0..<count { dst[i] = a[i] - s }
    case (.sub, 0, 1): let s = a[0]; for i in 0..<count { dst[i] = s - b[i] }
    case (.mul, 1, 1): for i in 0..<count { dst[i] = a[i] * b[i] }
    case (.mul, 1, 0): let s = b[0]; for i in 0..<count { dst[i] = a[i] * s }
    case (.mul, 0, 1): let s = a[0]; for i in 0..<count { dst[i] = s * b[i] }
    case (.div, 1, 1): for i in 0..<count { dst[i] = a[i] / b[i] }
    case (.div, 1, 0): let s = b[0]; for i in 0..<count { dst[i] = a[i] / s }
    case (.div, 0, 1): let s = a[0]; for i in 0..<count { dst[i] = s / b[i] }
    default:
        let f = binaryFunction(op)
        for i in 0..<count { dst[i] = f(a[i * aStep], b[i * bStep]) }
    }
}

/// How an operand maps onto the output: whole (same shape), one value, or one value per
/// leading index with the remaining `inner` elements sharing it (e.g. [1,C,1,1] vs [N,C,H,W]).
private enum Operand { case full, scalar, perOuter(inner: Int) }

private func classify(_ s: [Int], _ out: [Int]) -> Operand? {
    if s == out { return .full }
    if s.reduce(1, *) == 1 { return .scalar }
    // Right-align, then: matching leading dims followed only by ones.
    let padded = [Int](repeating: 1, count: out.count - s.count) + s
    guard let lastReal = padded.lastIndex(where: { $0 != 1 }) else { return .scalar }
    for i in 0...lastReal where padded[i] != out[i] { return nil }
    return .perOuter(inner: out[(lastReal + 1)...].reduce(1, *))
}

func binaryFast(_ op: Op, _ a: Tensor, _ b: Tensor, outputShape: [Int], threads: Int,
                pool: BufferPool? = nil) -> Tensor? {
    if case .pow = op { return powFast(a, b, outputShape: outputShape, threads: threads, pool: pool) }
    guard a.dtype == .float32, b.dtype == .float32,
          let ca = classify(a.shape, outputShape), let cb = classify(b.shape, outputShape) else { return nil }
    let n = outputShape.reduce(1, *)
    let out: [Float] = a.floats.withUnsafeBufferPointer { ab in b.floats.withUnsafeBufferPointer { bb in
        let ap = ab.baseAddress!, bp = bb.baseAddress!
        return makeFloats(n, pool: pool) { dst in
            switch (ca, cb) {
            case (.full, .full), (.full, .scalar), (.scalar, .full), (.scalar, .scalar):
                let aStep = { if case .full = ca { return 1 } else { return 0 } }()
                let bStep = { if case .full = cb { return 1 } else { return 0 } }()
                chunked(n, threads: threads) { lo, hi in
                    binaryLoops(ap + lo * aStep, aStep, bp + lo * bStep, bStep, dst + lo, hi - lo, op)
                }
            case (.full, .perOuter(let inner)):
                parallelRanges(n / inner, threads: n < parallelElementThreshold ? 1 : threads) { r in
                    for o in r { binaryLoops(ap + o * inner, 1, bp + o, 0, dst + o * inner, inner, op) }
                }
            case (.perOuter(let inner), .full):
                parallelRanges(n / inner, threads: n < parallelElementThreshold ? 1 : threads) { r in
                    for o in r { binaryLoops(ap + o, 0, bp + o * inner, 1, dst + o * inner, inner, op) }
                }
            default:
                // Both operands broadcast: rare; plain per-element path through full index math.
                let r = broadcastBinaryReference(a, b, outputShape: outputShape, binaryFunction(op))
                r.floats.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: n) }
            }
        }
    } }
    return Tensor(shape: outputShape, floats: out)
}

/// DepthToSpace as row copies: each output row (c, y*b+i) interleaves b input rows.
func depthToSpaceFast(_ x: Tensor, blockSize bs: Int, mode: DepthToSpaceMode, threads: Int,
                      pool: BufferPool? = nil) -> Tensor {
    let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3]
    let c = cin / (bs * bs), ow = w * bs
    let out = x.floats.withUnsafeBufferPointer { xb in
        makeFloats(x.count, pool: pool) { dst in
            let src = xb.baseAddress!
            parallelRanges(n * c * h, threads: x.count < parallelElementThreshold ? 1 : threads) { r in
                for row in r {
                    let b0 = row / (c * h), oc = (row / h) % c, y = row % h
                    for i in 0..<bs {
                        let orow = dst + ((b0 * c + oc) * h * bs + y * bs + i) * ow
                        for j in 0..<bs {
                            let ic = mode == .dcr ? (i * bs + j) * c + oc : oc * bs * bs + i * bs + j
                            let irow = src + ((b0 * cin + ic) * h + y) * w
                            for xi in 0..<w { orow[xi * bs + j] = irow[xi] }
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [n, c, h * bs, w * bs], floats: out)
}

/// Pow by a constant scalar exponent 2 or 1, the forms SR nets use (IMDN's contrast layer
/// squares deviations). x*x is the correctly rounded square (IEEE multiplication), including
/// infinities, NaN and signed zeros. Note that it is not always bit-identical to glibc's powf(x, 2):
/// powf is accurate to about 0.8 ulp, not correctly rounded, and differs from x*x by one ulp on
/// about 0.07% of inputs (12122 of the 2^24 floats in [1, 4), e.g. 1.0002441), x*x being the
/// nearer (or, on exact ties, the even) one. So the fast path is at least as accurate as the
/// reference, within float rounding of it (ONNX Runtime's CPU Pow matched x*x bit for bit on
/// 172961 inputs in [1, 4), so this also tracks ORT more closely).
/// x^1 is x exactly. Any other exponent (or a tensor exponent, or a broadcast base) returns
/// nil and runs the powf reference.
func powFast(_ a: Tensor, _ b: Tensor, outputShape: [Int], threads: Int, pool: BufferPool?) -> Tensor? {
    guard a.dtype == .float32, b.dtype == .float32, b.count == 1, a.shape == outputShape else { return nil }
    let e = b.floats[0]
    guard e == 2 || e == 1 else { return nil }
    let n = a.count
    guard n > 0 else { return nil }
    let out = a.floats.withUnsafeBufferPointer { ab in
        let src = ab.baseAddress!
        return makeFloats(n, pool: pool) { dst in
            chunked(n, threads: threads) { lo, hi in
                if e == 2 {
                    for i in lo..<hi { let v = src[i]; dst[i] = v * v }
                } else {
                    (dst + lo).update(from: src + lo, count: hi - lo)
                }
            }
        }
    }
    return Tensor(shape: outputShape, floats: out)
}

/// FakeQuantize on a whole tensor, threaded; the same bits as `FakeQuant.apply` (the
/// reference), through the AVX2 kernel where the CPU has it. Per-channel grids (axis 1) apply
/// channel c's grid to every plane of channel c.
func fakeQuantizeFast(_ q: FakeQuant, _ x: Tensor, isa: ConvISA, threads: Int, pool: BufferPool?) -> Tensor {
    let n = x.count
    let c = q.channelAlphas == nil ? 1 : x.shape[1]
    let plane = q.channelAlphas == nil ? n : x.shape.dropFirst(2).reduce(1, *)
    let grids = (0..<c).map { q.channel($0) }
    let out = x.floats.withUnsafeBufferPointer { xb -> [Float] in
        let src = xb.baseAddress!
        return makeFloats(n, pool: pool) { dst in chunked(n, threads: threads) { lo, hi in
            var i = lo
            while i < hi {
                // The run of elements [i, end) that share one grid.
                let end = Swift.min(hi, (i / plane + 1) * plane)
                let grid = grids[(i / plane) % c]
                var done = 0
                #if arch(x86_64)
                if isa != .portable {
                    let (l, a, s) = grid.clampAndStep
                    done = fakeQuantizeAVX2(src + i, dst + i, count: end - i, lo: l, alpha: a, scale: s)
                }
                #endif
                for k in (i + done)..<end { dst[k] = grid.apply(src[k]) }
                i = end
            }
        } }
    }
    return Tensor(shape: x.shape, floats: out)
}
