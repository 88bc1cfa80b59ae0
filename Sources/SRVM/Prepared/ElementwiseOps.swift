import FixedPoint
import QSRFormat
import SRRuntime
import SRVMKernelsCommon

/// The non-conv instructions on srvm's pixel layout (PixelLayout), row-parallel. Each
/// computes exactly SPEC.md §5.3's formula per element, over the real channels only.

/// Rows of an [H, W] output split across threads; small tensors stay on one thread.
@inline(__always) func parallelRows(_ l: PixelLayout, threads: Int, _ body: (Range<Int>) -> Void) {
    parallelRanges(l.height, threads: l.height * l.width * l.channels < 1 << 15 ? 1 : threads, body)
}

func requantizeHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout,
                   tables t: RequantTables, threads: Int) {
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
            leftShift: UInt8, ma: QuantMultiplier, mb: QuantMultiplier, mo: QuantMultiplier, subtract: Bool, lo: Int32, hi: Int32, threads: Int) {
    let L = Int32(leftShift)
    let broadcast = lb.height == 1 && lb.width == 1 && (d.height != 1 || d.width != 1)
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
            m: QuantMultiplier, lo: Int32, hi: Int32, threads: Int) {
    let broadcast = lb.height == 1 && lb.width == 1 && (d.height != 1 || d.width != 1)
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

func concatHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, sources: [(UnsafeRawPointer, PixelLayout, QuantMultiplier?)],
               lo: Int32, hi: Int32, threads: Int) {
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
    let eb = d.type.byteWidth
    parallelRows(d, threads: threads) { rows in
        for y in rows {
            let sy = y / b, i = y % b
            for x in 0..<d.width {
                let sx = x / b, j = x % b
                let so = (sy * s.width + sx) * s.stride, dOff = (y * d.width + x) * d.stride
                if !crd {
                    (dst + dOff * eb).copyMemory(from: src + (so + (i * b + j) * d.channels) * eb, byteCount: d.channels * eb)
                } else {
                    for c in 0..<d.channels {
                        storeElement(loadElement(src, so + c * b * b + i * b + j, s.type), dst, dOff + c, d.type)
                    }
                }
            }
        }
    }
}

/// Per-channel sums in Int64: per-thread row sums combined in row order (integer addition,
/// so the result does not depend on the split).
func reduceMeanHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, src: UnsafeRawPointer, _ s: PixelLayout,
                   m: QuantMultiplier, lo: Int32, hi: Int32, threads: Int) {
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
