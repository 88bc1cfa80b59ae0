import SRRuntime
import Foundation
import SRGraph

/// Buffers of values freed after their last use, keyed by element count, reused for later
/// outputs of the same size within one `run` (fresh multi-megabyte allocations come straight
/// from mmap, so every step would otherwise page-fault its whole output in). Only the thread
/// driving the run touches it. Writes into a reused array go through Array's mutating
/// accessors, so a buffer that is still shared (an Identity alias, say) is copied on write
/// rather than overwritten.
final class BufferPool {
    private var free: [Int: [[Float]]] = [:]
    /// For each element count, the last step that produces an output of that count: a freed
    /// buffer is kept only if a later step can use it, otherwise it goes straight back to
    /// malloc (holding it would only make other sizes come fresh from the OS).
    private let lastProducer: [Int: Int]
    /// Buffers smaller than this come cheaply from malloc's own free lists.
    static let minimumCount = 1 << 14

    init(lastProducer: [Int: Int]) { self.lastProducer = lastProducer }

    func take(_ count: Int) -> [Float]? {
        guard count >= Self.minimumCount else { return nil }
        return free[count]?.popLast()
    }

    /// Offers a buffer freed after step `step`.
    func give(_ buffer: [Float], after step: Int) {
        guard buffer.count >= Self.minimumCount, let last = lastProducer[buffer.count], last > step else { return }
        free[buffer.count, default: []].append(buffer)
    }
}

/// An uninitialized-or-reused float array of `count` elements that `body` fills completely.
@inline(__always)
func makeFloats(_ count: Int, pool: BufferPool?, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    if var reused = pool?.take(count) {
        reused.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        return reused
    }
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { body(buffer.baseAddress!) }
        initialized = count
    }
}

/// Copies `count` floats, split over the threads when large (each thread moves its own
/// contiguous part).
func parallelCopy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int, threads: Int) {
    let parts = count < 4 * parallelElementThreshold ? 1 : threads
    parallelRanges(parts, threads: parts) { r in
        for p in r {
            let lo = count * p / parts, hi = count * (p + 1) / parts
            (dst + lo).update(from: src + lo, count: hi - lo)
        }
    }
}

/// Outer size (axes before `axis`) and inner size (axes after it).
private func outerInner(_ shape: [Int], _ axis: Int) -> (Int, Int) {
    (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
}

/// Concat as block copies: each input contributes `outer` runs of shape[axis]*inner floats.
/// With one outer index (axis 1 of a batch-1 NCHW tensor) that is one memcpy per input.
func concatFast(_ xs: [Tensor], axis: Int, outputShape: [Int], threads: Int, pool: BufferPool?) -> Tensor {
    let (outer, inner) = outerInner(outputShape, axis)
    let total = outputShape.reduce(1, *)
    let runOut = outputShape[axis] * inner
    let out = makeFloats(total, pool: pool) { dst in
        var start = 0
        for x in xs {
            let run = x.shape[axis] * inner
            x.floats.withUnsafeBufferPointer { xb in
                guard run > 0, let src = xb.baseAddress else { return }
                if outer == 1 {
                    parallelCopy(dst + start, src, run, threads: threads)
                } else {
                    let t = outer * run < parallelElementThreshold ? 1 : threads
                    parallelRanges(outer, threads: t) { r in
                        for o in r { (dst + o * runOut + start).update(from: src + o * run, count: run) }
                    }
                }
            }
            start += run
        }
    }
    return Tensor(shape: outputShape, floats: out)
}

/// Split as block copies, the mirror of `concatFast`.
func splitFast(_ x: Tensor, axis: Int, outputShapes: [[Int]], threads: Int, pool: BufferPool?) -> [Tensor] {
    let (outer, inner) = outerInner(x.shape, axis)
    let runIn = x.shape[axis] * inner
    return x.floats.withUnsafeBufferPointer { xb in
        var start = 0
        return outputShapes.map { shape in
            let run = shape[axis] * inner
            let offset = start
            start += run
            let out = makeFloats(outer * run, pool: pool) { dst in
                guard run > 0, let src = xb.baseAddress else { return }
                if outer == 1 {
                    parallelCopy(dst, src + offset, run, threads: threads)
                } else {
                    let t = outer * run < parallelElementThreshold ? 1 : threads
                    parallelRanges(outer, threads: t) { r in
                        for o in r { (dst + o * run).update(from: src + o * runIn + offset, count: run) }
                    }
                }
            }
            return Tensor(shape: shape, floats: out)
        }
    }
}

/// Sum of `n` floats in Double with eight independent accumulators (so the adds pipeline);
/// each float converts to Double exactly, so this differs from a sequential Double sum only
/// by Double rounding, far below the final Float rounding.
@inline(__always)
private func sumAsDouble(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    var i = 0
    while i + 8 <= n {
        s0 += Double(p[i]); s1 += Double(p[i + 1]); s2 += Double(p[i + 2]); s3 += Double(p[i + 3])
        s4 += Double(p[i + 4]); s5 += Double(p[i + 5]); s6 += Double(p[i + 6]); s7 += Double(p[i + 7])
        i += 8
    }
    while i < n { s0 += Double(p[i]); i += 1 }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

/// ReduceMean over trailing axes (e.g. [2,3] of NCHW): each leading index owns one contiguous
/// run, summed on its own; runs are spread over the threads. Other axis sets return nil.
func reduceMeanFast(_ x: Tensor, axes: [Int]?, outputShape: [Int], threads: Int) -> Tensor? {
    let rank = x.shape.count
    let reduced = Set((axes ?? Array(0..<rank)).map { $0 < 0 ? $0 + rank : $0 })
    guard !reduced.isEmpty, reduced == Set((rank - reduced.count)..<rank) else { return nil }
    let inner = x.shape[(rank - reduced.count)...].reduce(1, *)
    guard inner > 0 else { return nil }
    let outer = x.count / inner
    let out = x.floats.withUnsafeBufferPointer { xb in
        let src = xb.baseAddress!
        return makeFloats(outer, pool: nil) { dst in
            let t = x.count < parallelElementThreshold ? 1 : threads
            parallelRanges(outer, threads: t) { r in
                for o in r { dst[o] = Float(sumAsDouble(src + o * inner, inner) / Double(inner)) }
            }
        }
    }
    return Tensor(shape: outputShape, floats: out)
}
