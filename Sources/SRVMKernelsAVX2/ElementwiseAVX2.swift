#if arch(x86_64)
import _Builtin_intrinsics.intel
import FixedPoint
import SRVMKernelsCommon

// The element-wise instructions on 8 channels at a time (SPEC.md §5.3's formulas, the same
// roundings as FixedPoint). Tensors are in srvm's pixel layout: each pixel's channels
// contiguous, the channel stride a multiple of 8, so every 8-lane block lies inside one pixel;
// lanes past the real channels compute on unspecified padding and land in padding.

/// 8 elements of `type` at `p`, widened to int32 lanes.
@inline(__always) public func loadLanesAVX2(_ p: UnsafeRawPointer, _ type: StorageType) -> __m256i {
    switch type {
    case .u8: return _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.assumingMemoryBound(to: __m128i.self)))
    case .i8: return _mm256_cvtepi8_epi32(_mm_loadl_epi64(p.assumingMemoryBound(to: __m128i.self)))
    case .i16: return _mm256_cvtepi16_epi32(_mm_loadu_si128(p.assumingMemoryBound(to: __m128i.self)))
    case .i32: return _mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self))
    }
}

/// requantize: per-channel multipliers (and negative-side ones) from `t`, + offset, clamp.
/// `srcStride`: the source's channel stride when it is a view into a wider value (else `stride`).
/// `firstChannel`: start at this channel (a multiple of 8; the AVX-512 kernel leaves a pixel's last 8 here).
public func requantizePixelsAVX2(src: UnsafeRawPointer, _ srcType: StorageType, dst: UnsafeMutableRawPointer, _ dstType: StorageType,
                                 pixels: Int, stride: Int, srcStride: Int? = nil, firstChannel: Int = 0, tables t: RequantTables) {
    let sb = srcType.byteWidth, db = dstType.byteWidth, ss = srcStride ?? stride
    // Blocks of 64 pixels, 8 channels at a time across the block: a block of channels loads
    // its per-channel lanes once per 64 pixels, not once per pixel.
    var p0 = 0
    while p0 < pixels {
        let p1 = min(pixels, p0 + 64)
        var c = firstChannel
        while c < stride {
            let lanes = EpilogueLanes8(t, channel: c, saturatingStore: dstType)
            let ps = src + c * sb, pd = dst + c * db
            for p in p0..<p1 { storeLanesAVX2(lanes.apply(loadLanesAVX2(ps + p * ss * sb, srcType)), pd + p * stride * db, count: 8, type: dstType) }
            c += 8
        }
        p0 = p1
    }
}

/// One operand of add/mul: its base, type and channel stride; `broadcast` reads pixel 0 for every pixel.
public struct ElementwiseOperand {
    public var base: UnsafeRawPointer
    public var type: StorageType
    public var stride: Int
    public var broadcast: Bool
    /// The largest |element| (the proven range of the value; at most the type's), which bounds
    /// the add terms for the bounded requantization.
    public var magnitude: Int64
    public init(base: UnsafeRawPointer, type: StorageType, stride: Int, broadcast: Bool, magnitude: Int64? = nil) {
        self.base = base; self.type = type; self.stride = stride; self.broadcast = broadcast
        self.magnitude = min(magnitude ?? type.maxMagnitude, type.maxMagnitude)
    }
}

/// One add operand's scaling, requantize(x << L, M): a plain left shift where that is exact
/// (see `exactAddShift`), else the requantization; constants computed once per call.
struct AddOperandScaleAVX2 {
    let exactShift: __m128i?
    let q: UniformRequantAVX2
    let leftShift: __m128i
    /// The largest |result|, for the output requantization's bound.
    let bound: Int64
    @inline(__always) init(_ m: QuantMultiplier, leftShift L: Int, _ x: ElementwiseOperand) {
        exactShift = exactAddShift(m, leftShift: L, operandBytes: x.type.byteWidth).map { _mm_cvtsi32_si128(Int32($0)) }
        q = UniformRequantAVX2(m, inputBound: x.magnitude << Int64(L)); leftShift = _mm_cvtsi32_si128(Int32(L))
        bound = addOperandBound(x.type, magnitude: x.magnitude, leftShift: L, m)
    }
    @inline(__always) func apply(_ x: __m256i) -> __m256i {
        if let s = exactShift { return _mm256_sll_epi32(x, s) }
        return q.apply(_mm256_sll_epi32(x, leftShift))
    }
}

/// add: clamp(requantize(requantize(a << L, Ma) ± requantize(b << L, Mb), Mo), lo, hi) for
/// pixels `first..<first + pixels` (the destination's channels `0..<stride`, in blocks of 8;
/// `firstChannel`: start at this channel, a multiple of 8).
public func addPixelsAVX2(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, firstChannel: Int = 0,
                          first: Int, pixels: Int, a: ElementwiseOperand, b: ElementwiseOperand, leftShift: Int,
                          ma: QuantMultiplier, mb: QuantMultiplier, mo: QuantMultiplier, subtract: Bool, lo: Int32, hi: Int32) {
    let sa = AddOperandScaleAVX2(ma, leftShift: leftShift, a)
    let sb = AddOperandScaleAVX2(mb, leftShift: leftShift, b)
    let qo = UniformRequantAVX2(mo, inputBound: sa.bound + sb.bound)
    let vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi)
    let db = dstType.byteWidth, ab = a.type.byteWidth, bb = b.type.byteWidth
    for p in first..<(first + pixels) {
        let pa = a.base + (a.broadcast ? 0 : p * a.stride) * ab, pb = b.base + (b.broadcast ? 0 : p * b.stride) * bb
        let pd = dst + p * stride * db
        var c = firstChannel
        while c < stride {
            let ta = sa.apply(loadLanesAVX2(pa + c * ab, a.type)), tb = sb.apply(loadLanesAVX2(pb + c * bb, b.type))
            let s = subtract ? _mm256_sub_epi32(ta, tb) : _mm256_add_epi32(ta, tb)
            storeLanesAVX2(clampAVX2(qo.apply(s), vlo, vhi), pd + c * db, count: 8, type: dstType)
            c += 8
        }
    }
}

/// mul: clamp(requantize(a · b, M), lo, hi) (products wrap in int32 as the reference's &*).
/// `firstChannel`: start at this channel, a multiple of 8.
public func mulPixelsAVX2(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, firstChannel: Int = 0, first: Int, pixels: Int,
                          a: ElementwiseOperand, b: ElementwiseOperand, m: QuantMultiplier, lo: Int32, hi: Int32) {
    let q = UniformRequantAVX2(m, inputBound: a.magnitude * b.magnitude)
    let vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi)
    let db = dstType.byteWidth, ab = a.type.byteWidth, bb = b.type.byteWidth
    for p in first..<(first + pixels) {
        let pa = a.base + (a.broadcast ? 0 : p * a.stride) * ab, pb = b.base + (b.broadcast ? 0 : p * b.stride) * bb
        let pd = dst + p * stride * db
        var c = firstChannel
        while c < stride {
            let v = _mm256_mullo_epi32(loadLanesAVX2(pa + c * ab, a.type), loadLanesAVX2(pb + c * bb, b.type))
            storeLanesAVX2(clampAVX2(q.apply(v), vlo, vhi), pd + c * db, count: 8, type: dstType)
            c += 8
        }
    }
}

/// One concat source: `channels` real channels at `stride`, requantized by `multiplier` (or copied).
public struct ConcatSource {
    public var base: UnsafeRawPointer
    public var type: StorageType
    public var channels: Int
    public var stride: Int
    public var multiplier: QuantMultiplier?
    public init(base: UnsafeRawPointer, type: StorageType, channels: Int, stride: Int, multiplier: QuantMultiplier?) {
        self.base = base; self.type = type; self.channels = channels; self.stride = stride; self.multiplier = multiplier
    }
}

/// concat: each source's channels, requantized (or not) and clamped, at consecutive channel
/// offsets. A block of 8 may spill unspecified lanes into the next source's channels, which
/// that source then overwrites (same pixel, same thread); a block that would cross the
/// destination pixel stores only its real lanes. `exact`: every block stores only its real
/// lanes (convs stored the pixel's other channels already).
public func concatPixelsAVX2(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, first: Int, pixels: Int,
                             sources: UnsafeBufferPointer<ConcatSource>, lo: Int32, hi: Int32, exact: Bool = false) {
    let vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi)
    // Source by source over blocks of 64 pixels, each source's multiplier set up once per block
    // (not once per pixel); a source's spill into the next one's channels is still rewritten by
    // it (same pixels, same thread, later).
    var p0 = first
    while p0 < first + pixels {
        let block = p0..<min(first + pixels, p0 + 64)
        var c0 = 0
        for s in sources {
            if let m = s.multiplier {
                let q = UniformRequantAVX2(m, inputBound: s.type.maxMagnitude)
                concatSourceAVX2(s, at: c0, block, dst: dst, dstType, stride: stride, vlo: vlo, vhi: vhi, exact: exact) { q.apply($0) }
            } else {
                concatSourceAVX2(s, at: c0, block, dst: dst, dstType, stride: stride, vlo: vlo, vhi: vhi, exact: exact) { $0 }
            }
            c0 += s.channels
        }
        p0 = block.upperBound
    }
}

/// One concat source's channels at channel offset `c0` of `pixels`, block of 8 by block of 8.
@inline(__always) private func concatSourceAVX2(_ s: ConcatSource, at c0: Int, _ pixels: Range<Int>, dst: UnsafeMutableRawPointer,
                                                _ dstType: StorageType, stride: Int, vlo: __m256i, vhi: __m256i, exact: Bool,
                                                _ scale: (__m256i) -> __m256i) {
    let sb = s.type.byteWidth, db = dstType.byteWidth
    var c = 0
    while c < s.channels {
        let n = c0 + c + 8 <= stride && !exact ? 8 : min(8, s.channels - c)
        var ps = s.base + (pixels.lowerBound * s.stride + c) * sb, pd = dst + (pixels.lowerBound * stride + c0 + c) * db
        for _ in pixels {
            storeLanesAVX2(clampAVX2(scale(loadLanesAVX2(ps, s.type)), vlo, vhi), pd, count: n, type: dstType)
            ps += s.stride * sb; pd += stride * db
        }
        c += 8
    }
}
#endif

#if arch(x86_64)
/// reduce_mean's per-channel sums over `pixels` pixels, added into `sums` (Int64, one per
/// channel of `stride`). Each run of at most 65536 pixels sums in int32 lanes first (|x| ≤
/// 32768, so a run cannot overflow), then widens: the totals are exact, as the reference's.
public func channelSumsAVX2(src: UnsafeRawPointer, _ type: StorageType, pixels: Int, stride: Int, into sums: UnsafeMutablePointer<Int64>) {
    let blocks = stride / 8
    withUnsafeTemporaryAllocation(of: __m256i.self, capacity: blocks) { lanes in
        let eb = type.byteWidth
        var p0 = 0
        while p0 < pixels {
            let p1 = min(pixels, p0 + 65536)
            for k in 0..<blocks { lanes[k] = _mm256_setzero_si256() }
            for p in p0..<p1 {
                let row = src + p * stride * eb
                for k in 0..<blocks { lanes[k] = _mm256_add_epi32(lanes[k], loadLanesAVX2(row + k * 8 * eb, type)) }
            }
            let values = UnsafeRawPointer(lanes.baseAddress!).assumingMemoryBound(to: Int32.self)
            for c in 0..<stride { sums[c] += Int64(values[c]) }
            p0 = p1
        }
    }
}
#endif

#if arch(x86_64)
/// dst[i] = src[i] + offset (mod 256) for `count` bytes (whole 32-byte blocks, then bytes).
public func offsetBytesAVX2(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, offset: UInt8) {
    let o = _mm256_set1_epi8(Int8(bitPattern: offset))
    var i = 0
    while i + 32 <= count {
        let v = _mm256_loadu_si256((src + i).assumingMemoryBound(to: __m256i.self))
        _mm256_storeu_si256((dst + i).assumingMemoryBound(to: __m256i.self), _mm256_add_epi8(v, o))
        i += 32
    }
    while i < count {
        dst.storeBytes(of: src.load(fromByteOffset: i, as: UInt8.self) &+ offset, toByteOffset: i, as: UInt8.self)
        i += 1
    }
}
#endif
