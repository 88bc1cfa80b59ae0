import FixedPoint
import QSRFormat
import SRRuntime
import SRVMKernelsCommon
#if arch(x86_64)
import SRVMKernelsAVX2
import SRVMKernelsAVX512
#endif

/// The non-conv instructions on srvm's pixel layout (PixelLayout), row-parallel. Each
/// computes exactly SPEC.md §5.3's formula per element, over the real channels only.

/// Rows of an [H, W] output split across threads; small tensors stay on one thread.
@inline(__always) func parallelRows(_ l: PixelLayout, threads: Int, _ body: (Range<Int>) -> Void) {
    parallelRanges(l.height, threads: l.height * l.width * l.channels < 1 << 15 ? 1 : threads, body)
}

func requantizeHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout,
                   tables t: RequantTables, isa: PreparedISA, threads: Int) {
    #if arch(x86_64)
    if isa.hasAVX2 {
        parallelRows(d, threads: threads) { rows in
            let first = rows.lowerBound * d.width
            if isa == .avx512 {
                requantizePixelsAVX512(src: src + first * s.stride * s.type.byteWidth, s.type, dst: dst + first * d.stride * d.type.byteWidth, d.type,
                                       pixels: rows.count * d.width, stride: d.stride, srcStride: s.stride, tables: t)
                return
            }
            requantizePixelsAVX2(src: src + first * s.stride * s.type.byteWidth, s.type, dst: dst + first * d.stride * d.type.byteWidth, d.type,
                                 pixels: rows.count * d.width, stride: d.stride, srcStride: s.stride, tables: t)
        }
        return
    }
    #endif
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            for x in 0..<d.width {
                let si = (y * s.width + x) * s.stride, di = (y * d.width + x) * d.stride
                for c in 0..<d.channels {
                    let v = loadElement(src, si + c, s.type)
                    storeElement(clamp(requantize(v, t.multiplier(c, v)) &+ t.offset, t.clampMin, t.clampMax), dst, di + c, d.type)
                }
            }
        }
    }
}

func addHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, a: UnsafeRawPointer, _ la: PixelLayout, b: UnsafeRawPointer, _ lb: PixelLayout,
            leftShift: UInt8, ma: QuantMultiplier, mb: QuantMultiplier, mo: QuantMultiplier, subtract: Bool, lo: Int32, hi: Int32,
            magnitudes: (a: Int64, b: Int64)? = nil, isa: PreparedISA, threads: Int) {
    let L = Int32(leftShift)
    let broadcast = lb.height == 1 && lb.width == 1 && (d.height != 1 || d.width != 1)
    #if arch(x86_64)
    if isa.hasAVX2 {
        // The operands' proven magnitudes (where given) let more terms take the bounded form.
        let oa = ElementwiseOperand(base: a, type: la.type, stride: la.stride, broadcast: false, magnitude: magnitudes?.a)
        let ob = ElementwiseOperand(base: b, type: lb.type, stride: lb.stride, broadcast: broadcast, magnitude: magnitudes?.b)
        // 16 lanes where the CPU has AVX-512 and no multiplier shifts left.
        let wide = isa == .avx512 && ma.shift <= 0 && mb.shift <= 0 && mo.shift <= 0
        parallelRows(d, threads: threads) { rows in
            if wide {
                addPixelsAVX512(dst: dst, d.type, stride: d.stride, first: rows.lowerBound * d.width, pixels: rows.count * d.width,
                                a: oa, b: ob, leftShift: Int(leftShift), ma: ma, mb: mb, mo: mo, subtract: subtract, lo: lo, hi: hi)
            } else {
                addPixelsAVX2(dst: dst, d.type, stride: d.stride, first: rows.lowerBound * d.width, pixels: rows.count * d.width,
                              a: oa, b: ob, leftShift: Int(leftShift), ma: ma, mb: mb, mo: mo, subtract: subtract, lo: lo, hi: hi)
            }
        }
        return
    }
    #endif
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            for x in 0..<d.width {
                let p = y * d.width + x
                let ai = p * la.stride, bi = broadcast ? 0 : p * lb.stride, di = p * d.stride
                for c in 0..<d.channels {
                    let ta = requantize(loadElement(a, ai + c, la.type) << L, ma)
                    let tb = requantize(loadElement(b, bi + c, lb.type) << L, mb)
                    storeElement(clamp(requantize(subtract ? ta &- tb : ta &+ tb, mo), lo, hi), dst, di + c, d.type)
                }
            }
        }
    }
}

func mulHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, a: UnsafeRawPointer, _ la: PixelLayout, b: UnsafeRawPointer, _ lb: PixelLayout,
            m: QuantMultiplier, lo: Int32, hi: Int32, magnitudes: (a: Int64, b: Int64)? = nil, isa: PreparedISA, threads: Int) {
    let broadcast = lb.height == 1 && lb.width == 1 && (d.height != 1 || d.width != 1)
    #if arch(x86_64)
    if isa.hasAVX2 {
        // Proven magnitudes (IMDN's squares of i16 clamped to ±32767: below 2^30) take the bounded form.
        let oa = ElementwiseOperand(base: a, type: la.type, stride: la.stride, broadcast: false, magnitude: magnitudes?.a)
        let ob = ElementwiseOperand(base: b, type: lb.type, stride: lb.stride, broadcast: broadcast, magnitude: magnitudes?.b)
        parallelRows(d, threads: threads) { rows in
            if isa == .avx512 && m.shift <= 0 {
                mulPixelsAVX512(dst: dst, d.type, stride: d.stride, first: rows.lowerBound * d.width, pixels: rows.count * d.width,
                                a: oa, b: ob, m: m, lo: lo, hi: hi)
            } else {
                mulPixelsAVX2(dst: dst, d.type, stride: d.stride, first: rows.lowerBound * d.width, pixels: rows.count * d.width,
                              a: oa, b: ob, m: m, lo: lo, hi: hi)
            }
        }
        return
    }
    #endif
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            for x in 0..<d.width {
                let p = y * d.width + x
                let ai = p * la.stride, bi = broadcast ? 0 : p * lb.stride, di = p * d.stride
                for c in 0..<d.channels {
                    let v = loadElement(a, ai + c, la.type) &* loadElement(b, bi + c, lb.type)
                    storeElement(clamp(requantize(v, m), lo, hi), dst, di + c, d.type)
                }
            }
        }
    }
}

/// `exact`: store only the sources' channels (other channels of `d`'s pixels hold data already);
/// else a source's last 8-lane block may spill into the next source's channels, rewritten next.
func concatHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, sources: [(UnsafeRawPointer, PixelLayout, QuantMultiplier?)],
               lo: Int32, hi: Int32, exact: Bool = false, isa: PreparedISA, threads: Int) {
    #if arch(x86_64)
    if isa.hasAVX2 {
        let list = sources.map { ConcatSource(base: $0.0, type: $0.1.type, channels: $0.1.channels, stride: $0.1.stride, multiplier: $0.2) }
        list.withUnsafeBufferPointer { srcs in
            parallelRows(d, threads: threads) { rows in
                if isa == .avx512 {
                    concatPixelsAVX512(dst: dst, d.type, stride: d.stride, first: rows.lowerBound * d.width, pixels: rows.count * d.width,
                                       sources: srcs, lo: lo, hi: hi, exact: exact)
                } else {
                    concatPixelsAVX2(dst: dst, d.type, stride: d.stride, first: rows.lowerBound * d.width, pixels: rows.count * d.width,
                                     sources: srcs, lo: lo, hi: hi, exact: exact)
                }
            }
        }
        return
    }
    #endif
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            for x in 0..<d.width {
                let p = y * d.width + x
                var c0 = p * d.stride
                for (s, l, m) in sources {
                    let si = p * l.stride
                    if let m {
                        for c in 0..<l.channels { storeElement(clamp(requantize(loadElement(s, si + c, l.type), m), lo, hi), dst, c0 + c, d.type) }
                    } else if l.type == d.type && lo <= l.type.minValue && hi >= l.type.maxValue {
                        (dst + c0 * d.type.byteWidth).copyMemory(from: s + si * l.type.byteWidth, byteCount: l.channels * l.type.byteWidth)
                    } else {
                        for c in 0..<l.channels { storeElement(clamp(loadElement(s, si + c, l.type), lo, hi), dst, c0 + c, d.type) }
                    }
                    c0 += l.channels
                }
            }
        }
    }
}

func sliceHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout, start: Int, threads: Int) {
    let eb = d.type.byteWidth
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            for x in 0..<d.width {
                let p = y * d.width + x
                (dst + p * d.stride * eb).copyMemory(from: src + (p * s.stride + start) * eb, byteCount: d.channels * eb)
            }
        }
    }
}

/// y[c, h·b+i, w·b+j] = x[(i·b + j)·C' + c] (DCR) or x[c·b² + i·b + j] (CRD).
func depthToSpaceHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout, block b: Int, crd: Bool, threads: Int) {
    switch d.type {
    case .u8, .i8: depthToSpaceTyped(UInt8.self, dst: dst, d, src: src, s, block: b, crd: crd, threads: threads)
    case .i16: depthToSpaceTyped(UInt16.self, dst: dst, d, src: src, s, block: b, crd: crd, threads: threads)
    case .i32: depthToSpaceTyped(UInt32.self, dst: dst, d, src: src, s, block: b, crd: crd, threads: threads)
    }
}

/// The element copy of depth_to_space for one element width (a copy never changes bits, so
/// the width is all that matters); CRD's strided channel gather is a plain indexed loop.
private func depthToSpaceTyped<T: FixedWidthInteger>(_: T.Type, dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer,
                                                     _ s: PixelLayout, block b: Int, crd: Bool, threads: Int) {
    let out = dst.assumingMemoryBound(to: T.self), inp = src.assumingMemoryBound(to: T.self)
    let C = d.channels, bb = b * b
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            let sy = y / b, i = y % b
            for x in 0..<d.width {
                let sx = x / b, j = x % b
                let so = (sy * s.width + sx) * s.stride, o = out + (y * d.width + x) * d.stride
                if crd {
                    let first = inp + so + i * b + j
                    for c in 0..<C { o[c] = first[c * bb] }
                } else {
                    let first = inp + so + (i * b + j) * C
                    for c in 0..<C { o[c] = first[c] }
                }
            }
        }
    }
}

/// Per-channel sums in Int64: per-thread row sums combined in row order (integer addition,
/// so the result does not depend on the split).
func reduceMeanHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout,
                   m: QuantMultiplier, lo: Int32, hi: Int32, isa: PreparedISA, threads: Int) {
    #if arch(x86_64)
    if isa.hasAVX2 && s.type != .i32 {
        // Per-thread sums of contiguous row ranges, added in range order (integers: any split is exact).
        let parts = max(1, min(threads, s.height))
        var partial = [Int64](repeating: 0, count: parts * s.stride)
        partial.withUnsafeMutableBufferPointer { sums in
            nonisolated(unsafe) let base = sums.baseAddress!   // each part writes its own stride of sums
            parallelRanges(parts, threads: parts) { range in
                for part in range {
                    let y0 = s.height * part / parts, y1 = s.height * (part + 1) / parts
                    let from = src + y0 * s.width * s.stride * s.type.byteWidth, pixels = (y1 - y0) * s.width
                    if isa == .avx512 {
                        channelSumsAVX512(src: from, s.type, pixels: pixels, stride: s.stride, into: base + part * s.stride)
                    } else {
                        channelSumsAVX2(src: from, s.type, pixels: pixels, stride: s.stride, into: base + part * s.stride)
                    }
                }
            }
        }
        let count = s.height * s.width
        for c in 0..<s.channels {
            var sum: Int64 = 0
            for p in 0..<parts { sum += partial[p * s.stride + c] }
            storeElement(clamp(requantize(fixedPointMean(sum: sum, count: count), m), lo, hi), dst, c, d.type)
        }
        return
    }
    #endif
    let parts = s.height * s.width * s.channels < 1 << 15 ? 1 : max(1, min(threads, s.height))
    var partial = [[Int64]](repeating: [Int64](repeating: 0, count: s.channels), count: parts)
    partial.withUnsafeMutableBufferPointer { sums in
        let base = sums.baseAddress!
        parallelRanges(parts, threads: parts) { range in
            for part in range {
                var local = [Int64](repeating: 0, count: s.channels)
                let y0 = s.height * part / parts, y1 = s.height * (part + 1) / parts
                for y in y0..<y1 {
                    for x in 0..<s.width {
                        let si = (y * s.width + x) * s.stride
                        for c in 0..<s.channels { local[c] += Int64(loadElement(src, si + c, s.type)) }
                    }
                }
                base[part] = local
            }
        }
    }
    let count = s.height * s.width
    for c in 0..<s.channels {
        var sum: Int64 = 0
        for p in partial { sum += p[c] }
        storeElement(clamp(requantize(fixedPointMean(sum: sum, count: count), m), lo, hi), dst, c, d.type)
    }
}

func sqrtHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout,
             m: QuantMultiplier, lo: Int32, hi: Int32, threads: Int) {
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            for x in 0..<d.width {
                let p = y * d.width + x
                for c in 0..<d.channels {
                    let v = max(0, requantize(loadElement(src, p * s.stride + c, s.type), m))
                    storeElement(clamp(Int32(roundedSquareRoot(Int64(v))), lo, hi), dst, p * d.stride + c, d.type)
                }
            }
        }
    }
}

/// lookup: a source outside the table is an error (reported after the pass), not a wild read.
func lookupHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout,
               srcMin: Int32, table: [Int32]) throws {
    for y in 0..<d.height {
        for x in 0..<d.width {
            let p = y * d.width + x
            for c in 0..<d.channels {
                let v = loadElement(src, p * s.stride + c, s.type)
                let index = Int(v) - Int(srcMin)
                guard index >= 0, index < table.count else {
                    throw VMError("lookup: source value \(v) is outside the table's range [\(srcMin), \(Int(srcMin) + table.count - 1)]")
                }
                storeElement(table[index], dst, p * d.stride + c, d.type)
            }
        }
    }
}

extension StorageType {
    var minValue: Int32 { switch self { case .u8: return 0; case .i8: return -128; case .i16: return -32768; case .i32: return .min } }
    var maxValue: Int32 { switch self { case .u8: return 255; case .i8: return 127; case .i16: return 32767; case .i32: return .max } }
}
