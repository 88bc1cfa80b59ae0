#if arch(x86_64)
import _Builtin_intrinsics.intel
import FixedPoint
import SRVMKernelsCommon
import SRVMKernelsAVX2

// add on 16 lanes at a time (the AVX2 kernel's formula and bytes, twice the lanes), for the
// requantizations without left shifts; a pixel's last 8 channels (stride 8 mod 16) take the
// AVX2 lanes.

/// 16 elements of `type` at `p`, widened to int32 lanes.
@inline(__always) func load16Lanes(_ p: UnsafeRawPointer, _ type: StorageType) -> __m512i {
    switch type {
    case .u8: return _mm512_cvtepu8_epi32(_mm_loadu_si128(p.assumingMemoryBound(to: __m128i.self)))
    case .i8: return _mm512_cvtepi8_epi32(_mm_loadu_si128(p.assumingMemoryBound(to: __m128i.self)))
    case .i16: return _mm512_cvtepi16_epi32(_mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self)))
    case .i32: return _mm512_loadu_si512(p)
    }
}

/// Stores 16 lanes already clamped into `type` (the narrowing moves truncate, exactly).
@inline(__always) func store16Lanes(_ v: __m512i, _ o: UnsafeMutableRawPointer, _ type: StorageType) {
    switch type {
    case .u8, .i8: _mm_storeu_si128(o.assumingMemoryBound(to: __m128i.self), _mm512_cvtepi32_epi8(v))
    case .i16: _mm256_storeu_si256(o.assumingMemoryBound(to: __m256i.self), _mm512_cvtepi32_epi16(v))
    case .i32: _mm512_storeu_si512(o, v)
    }
}

/// One add operand's scaling, requantize(x << L, M): a plain left shift where that is exact
/// (see `exactAddShift`), else the 16-lane requantization.
struct AddOperandScale {
    let shift: Int32?
    let q: UniformRequant16
    /// The largest |result|, for the output requantization's bound.
    let bound: Int64
    @inline(__always) init(_ m: QuantMultiplier, leftShift: Int, _ x: ElementwiseOperand) {
        shift = exactAddShift(m, leftShift: leftShift, operandBytes: x.type.byteWidth).map(Int32.init)
        q = UniformRequant16(m, inputBound: x.magnitude << Int64(leftShift))
        bound = addOperandBound(x.type, magnitude: x.magnitude, leftShift: leftShift, m)
    }
    /// Which of addPixelsFixed's forms computes this term (nil: only the general requantization,
    /// left to the flag-testing loop).
    var form: AddTermForm? { shift != nil ? .shift : (q.bounded ? .bounded : nil) }
    @inline(__always) func apply(_ x: __m512i, _ L: __m128i) -> __m512i {
        if let s = shift { return _mm512_sll_epi32(x, _mm_cvtsi32_si128(s)) }
        return q.apply(_mm512_sll_epi32(x, L))
    }
}

/// addPixelsAVX2's result, 16 lanes at a time; every multiplier's exponent must be ≤ 0 and a
/// not a broadcast (b may be).
public func addPixelsAVX512(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, first: Int, pixels: Int,
                            a: ElementwiseOperand, b: ElementwiseOperand, leftShift: Int,
                            ma: QuantMultiplier, mb: QuantMultiplier, mo: QuantMultiplier, subtract: Bool, lo: Int32, hi: Int32) {
    precondition(ma.shift <= 0 && mb.shift <= 0 && mo.shift <= 0 && !a.broadcast, "addPixelsAVX512: no left shifts, a not broadcast")
    let sa = AddOperandScale(ma, leftShift: leftShift, a)
    let sb = AddOperandScale(mb, leftShift: leftShift, b)
    let qo = UniformRequant16(mo, inputBound: sa.bound + sb.bound)
    let vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi)
    let L = _mm_cvtsi32_si128(Int32(leftShift))
    let wide = stride / 16 * 16
    @inline(__always) func loop<A: LaneIO16, B: LaneIO16, D: LaneIO16>(_ ia: A, _ ib: B, _ id: D) {
        let ab = ia.bytes, bb = ib.bytes, db = id.bytes
        // A broadcast b (one pixel for all, IMDN's x − mean) is scaled once, not once per pixel.
        let scaledB: [__m512i] = b.broadcast ? Swift.stride(from: 0, to: wide, by: 16).map { sb.apply(ib.load(b.base + $0 &* bb), L) } : []
        var pa = a.base + first &* a.stride &* ab, pb = b.base + (b.broadcast ? 0 : first &* b.stride &* bb)
        var pd = dst + first &* stride &* db
        let aStep = a.stride &* ab, bStep = b.broadcast ? 0 : b.stride &* bb, dStep = stride &* db
        for _ in 0..<pixels {
            var c = 0
            while c < wide {
                let ta = sa.apply(ia.load(pa + c &* ab), L)
                let tb = b.broadcast ? scaledB[c / 16] : sb.apply(ib.load(pb + c &* bb), L)
                let s = subtract ? _mm512_sub_epi32(ta, tb) : _mm512_add_epi32(ta, tb)
                id.store(_mm512_min_epi32(_mm512_max_epi32(qo.apply(s), vlo), vhi), pd + c &* db)
                c &+= 16
            }
            pa += aStep; pb += bStep; pd += dStep
        }
    }
    if wide > 0 {
        let terms = AddTerms(a: sa, b: sb, out: qo, lo: vlo, hi: vhi, leftShift: L)
        let fast = !b.broadcast && sa.form != nil && sb.form != nil
        switch (a.type, b.type, dstType) {
        case (.i16, .i16, .i16) where fast:
            addPixelsFixed(I16Lanes(), I16Lanes(), I16Lanes(), a, b, dst, stride, first, pixels, wide, terms, subtract)
        case (.i16, .i16, .i8) where fast:
            addPixelsFixed(I16Lanes(), I16Lanes(), I8Lanes(), a, b, dst, stride, first, pixels, wide, terms, subtract)
        case (.i16, .i16, .i16): loop(I16Lanes(), I16Lanes(), I16Lanes())
        case (.i16, .i16, .i8): loop(I16Lanes(), I16Lanes(), I8Lanes())
        default: loop(AnyLanes16(type: a.type), AnyLanes16(type: b.type), AnyLanes16(type: dstType))
        }
    }
    if wide < stride {
        // The last 8 channels of every pixel: the AVX2 kernel (one call, not per pixel).
        addPixelsAVX2(dst: dst, dstType, stride: stride, firstChannel: wide, first: first, pixels: pixels, a: a, b: b,
                      leftShift: leftShift, ma: ma, mb: mb, mo: mo, subtract: subtract, lo: lo, hi: hi)
    }
}

/// How an add term is scaled in addPixelsFixed: a plain left shift, or the bounded requantization.
enum AddTermForm { case shift, bounded }

/// An add's constants for addPixelsFixed.
struct AddTerms {
    let a: AddOperandScale, b: AddOperandScale, out: UniformRequant16
    let lo: __m512i, hi: __m512i, leftShift: __m128i
}

// addPixelsFixed's loops are specialized by these marker types, so the term forms, the output
// requantization's form and the sign are fixed in the loop (the flag-testing loop tests each per
// vector: 40 instructions per 16 lanes where these take 27-32).
protocol AddTermKind { static func apply(_ s: AddOperandScale, _ x: __m512i, _ L: __m128i) -> __m512i }
enum ShiftedTerm: AddTermKind {
    @inline(__always) static func apply(_ s: AddOperandScale, _ x: __m512i, _ L: __m128i) -> __m512i {
        _mm512_sll_epi32(x, _mm_cvtsi32_si128(s.shift!))
    }
}
enum BoundedTerm: AddTermKind {
    @inline(__always) static func apply(_ s: AddOperandScale, _ x: __m512i, _ L: __m128i) -> __m512i {
        s.q.applyBounded(_mm512_sll_epi32(x, L))
    }
}
protocol AddOutputKind { static func apply(_ q: UniformRequant16, _ x: __m512i) -> __m512i }
enum BoundedOutput: AddOutputKind {
    @inline(__always) static func apply(_ q: UniformRequant16, _ x: __m512i) -> __m512i { q.applyBounded(x) }
}
enum GeneralOutput: AddOutputKind {
    @inline(__always) static func apply(_ q: UniformRequant16, _ x: __m512i) -> __m512i { q.applyGeneral(x) }
}
protocol AddSign { static var subtract: Bool { get } }
enum AddPlus: AddSign { static var subtract: Bool { false } }
enum AddMinus: AddSign { static var subtract: Bool { true } }

/// addPixelsAVX512's loop for operands that are not broadcast and terms of AddTermForm: the
/// forms chosen once per call.
@inline(__always) func addPixelsFixed<A: LaneIO16, B: LaneIO16, D: LaneIO16>(
    _ ia: A, _ ib: B, _ id: D, _ a: ElementwiseOperand, _ b: ElementwiseOperand, _ dst: UnsafeMutableRawPointer,
    _ stride: Int, _ first: Int, _ pixels: Int, _ wide: Int, _ t: AddTerms, _ subtract: Bool) {
    func sign<TA: AddTermKind, TB: AddTermKind, O: AddOutputKind>(_: TA.Type, _: TB.Type, _: O.Type) {
        if subtract {
            addLoopFixed(ia, ib, id, a, b, dst, stride, first, pixels, wide, t, TA.self, TB.self, O.self, AddMinus.self)
        } else {
            addLoopFixed(ia, ib, id, a, b, dst, stride, first, pixels, wide, t, TA.self, TB.self, O.self, AddPlus.self)
        }
    }
    func output<TA: AddTermKind, TB: AddTermKind>(_: TA.Type, _: TB.Type) {
        if t.out.bounded { sign(TA.self, TB.self, BoundedOutput.self) } else { sign(TA.self, TB.self, GeneralOutput.self) }
    }
    func termB<TA: AddTermKind>(_: TA.Type) {
        if t.b.form == .shift { output(TA.self, ShiftedTerm.self) } else { output(TA.self, BoundedTerm.self) }
    }
    if t.a.form == .shift { termB(ShiftedTerm.self) } else { termB(BoundedTerm.self) }
}

@inline(__always) func addLoopFixed<A: LaneIO16, B: LaneIO16, D: LaneIO16, TA: AddTermKind, TB: AddTermKind,
                                    O: AddOutputKind, S: AddSign>(
    _ ia: A, _ ib: B, _ id: D, _ a: ElementwiseOperand, _ b: ElementwiseOperand, _ dst: UnsafeMutableRawPointer,
    _ stride: Int, _ first: Int, _ pixels: Int, _ wide: Int, _ t: AddTerms,
    _: TA.Type, _: TB.Type, _: O.Type, _: S.Type) {
    let ab = ia.bytes, bb = ib.bytes, db = id.bytes
    var pa = a.base + first &* a.stride &* ab, pb = b.base + first &* b.stride &* bb
    var pd = dst + first &* stride &* db
    let aStep = a.stride &* ab, bStep = b.stride &* bb, dStep = stride &* db
    let (sa, sb, qo, lo, hi, L) = (t.a, t.b, t.out, t.lo, t.hi, t.leftShift)
    for _ in 0..<pixels {
        var c = 0
        while c < wide {
            let ta = TA.apply(sa, ia.load(pa + c &* ab), L)
            let tb = TB.apply(sb, ib.load(pb + c &* bb), L)
            let s = S.subtract ? _mm512_sub_epi32(ta, tb) : _mm512_add_epi32(ta, tb)
            id.store(_mm512_min_epi32(_mm512_max_epi32(O.apply(qo, s), lo), hi), pd + c &* db)
            c &+= 16
        }
        pa += aStep; pb += bStep; pd += dStep
    }
}
#endif

#if arch(x86_64)
/// requantizePixelsAVX2's result 16 lanes at a time: blocks of 64 pixels, 16 channels at a
/// time across the block, so each block of channels sets up its per-channel lanes once per 64
/// pixels (not once per pixel), with the table's flags fixed outside the loops (EpilogueVariant).
/// A pixel's last 8 channels (stride 8 mod 16) take masked loads and stores.
public func requantizePixelsAVX512(src: UnsafeRawPointer, _ srcType: StorageType, dst: UnsafeMutableRawPointer, _ dstType: StorageType,
                                   pixels: Int, stride: Int, srcStride: Int, tables t: RequantTables) {
    switch (srcType, dstType) {
    case (.i16, .i8): requantizePixels(I16Lanes(), I8Lanes(), src, dst, pixels, stride, srcStride, t)
    case (.i16, .u8): requantizePixels(I16Lanes(), U8Lanes(), src, dst, pixels, stride, srcStride, t)
    case (.i16, .i16): requantizePixels(I16Lanes(), I16Lanes(), src, dst, pixels, stride, srcStride, t)
    default: requantizePixels(AnyLanes16(type: srcType), AnyLanes16(type: dstType), src, dst, pixels, stride, srcStride, t)
    }
}

@inline(__always) private func requantizePixels<S: LaneIO16, D: LaneIO16>(
    _ s: S, _ d: D, _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ pixels: Int, _ stride: Int, _ srcStride: Int, _ t: RequantTables) {
    switch (t.hasNegative, t.hasLeftShift) {
    case (false, false) where t.boundedInputs: requantizePixels(s, d, src, dst, pixels, stride, srcStride, t, PositiveBounded.self)
    case (true, false) where t.boundedInputs: requantizePixels(s, d, src, dst, pixels, stride, srcStride, t, NegativeBounded.self)
    case (false, false): requantizePixels(s, d, src, dst, pixels, stride, srcStride, t, PositiveOnly.self)
    case (true, false): requantizePixels(s, d, src, dst, pixels, stride, srcStride, t, WithNegative.self)
    case (false, true): requantizePixels(s, d, src, dst, pixels, stride, srcStride, t, WithLeftShift.self)
    case (true, true): requantizePixels(s, d, src, dst, pixels, stride, srcStride, t, WithBoth.self)
    }
}

@inline(__always) private func requantizePixels<S: LaneIO16, D: LaneIO16, V: EpilogueVariant>(
    _ s: S, _ d: D, _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer,
    _ pixels: Int, _ stride: Int, _ srcStride: Int, _ t: RequantTables, _ variant: V.Type) {
    let sb = s.bytes, db = d.bytes
    let sStep = srcStride &* sb, dStep = stride &* db
    var p0 = 0
    while p0 < pixels {
        let n = min(pixels &- p0, 64)
        var c = 0
        while c < stride {
            // The tables hold at least stride + 8 lanes, so a last block of 8 loads in bounds.
            let lanes = EpilogueLanes16(t, channel: c)
            var ps = src + (p0 &* srcStride &+ c) &* sb, pd = dst + (p0 &* stride &+ c) &* db
            if c &+ 16 <= stride {
                for _ in 0..<n { d.store(lanes.apply(s.load(ps), V.self), pd); ps += sStep; pd += dStep }
            } else {
                let mask = __mmask16((1 << (stride &- c)) &- 1)
                for _ in 0..<n { d.store(lanes.apply(s.load(ps, mask: mask), V.self), pd, mask: mask); ps += sStep; pd += dStep }
            }
            c &+= 16
        }
        p0 &+= n
    }
}

/// mulPixelsAVX2's result 16 lanes at a time (a multiplier without left shift; b may be a
/// broadcast).
public func mulPixelsAVX512(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, first: Int, pixels: Int,
                            a: ElementwiseOperand, b: ElementwiseOperand, m: QuantMultiplier, lo: Int32, hi: Int32) {
    precondition(m.shift <= 0, "mulPixelsAVX512: no left shift")
    let q = UniformRequant16(m, inputBound: a.magnitude * b.magnitude)
    let vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi)
    let wide = stride / 16 * 16
    @inline(__always) func loop<A: LaneIO16, B: LaneIO16, D: LaneIO16>(_ ia: A, _ ib: B, _ id: D) {
        let ab = ia.bytes, bb = ib.bytes, db = id.bytes
        var pa = a.base + (a.broadcast ? 0 : first &* a.stride &* ab), pb = b.base + (b.broadcast ? 0 : first &* b.stride &* bb)
        var pd = dst + first &* stride &* db
        let aStep = a.broadcast ? 0 : a.stride &* ab, bStep = b.broadcast ? 0 : b.stride &* bb, dStep = stride &* db
        for _ in 0..<pixels {
            var c = 0
            while c < wide {
                let v = _mm512_mullo_epi32(ia.load(pa + c &* ab), ib.load(pb + c &* bb))
                id.store(_mm512_min_epi32(_mm512_max_epi32(q.apply(v), vlo), vhi), pd + c &* db)
                c &+= 16
            }
            pa += aStep; pb += bStep; pd += dStep
        }
    }
    if wide > 0 {
        switch (a.type, b.type, dstType) {
        case (.i16, .i16, .i16): loop(I16Lanes(), I16Lanes(), I16Lanes())
        case (.i16, .u8, .i16): loop(I16Lanes(), U8Lanes(), I16Lanes())
        case (.i16, .u8, .i8): loop(I16Lanes(), U8Lanes(), I8Lanes())
        default: loop(AnyLanes16(type: a.type), AnyLanes16(type: b.type), AnyLanes16(type: dstType))
        }
    }
    if wide < stride {
        // The last 8 channels of every pixel: the AVX2 kernel (one call, not per pixel).
        mulPixelsAVX2(dst: dst, dstType, stride: stride, firstChannel: wide, first: first, pixels: pixels, a: a, b: b, m: m, lo: lo, hi: hi)
    }
}
#endif

#if arch(x86_64)
/// The first `mask` lanes of 16 elements of `type` at `p`, widened (no byte past them is read).
@inline(__always) func load16Lanes(_ p: UnsafeRawPointer, _ type: StorageType, mask: __mmask16) -> __m512i {
    switch type {
    case .u8: return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, p))
    case .i8: return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, p))
    case .i16: return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(mask, p))
    case .i32: return _mm512_maskz_loadu_epi32(mask, p)
    }
}

/// Stores the first `mask` lanes of 16 already clamped into `type`.
@inline(__always) func store16Lanes(_ v: __m512i, _ o: UnsafeMutableRawPointer, _ type: StorageType, mask: __mmask16) {
    switch type {
    case .u8, .i8: _mm_mask_storeu_epi8(o, mask, _mm512_cvtepi32_epi8(v))
    case .i16: _mm256_mask_storeu_epi16(o, mask, _mm512_cvtepi32_epi16(v))
    case .i32: _mm512_mask_storeu_epi32(o, mask, v)
    }
}

/// concatPixelsAVX2's result (same arguments, same bytes), 16 lanes at a time: source by source
/// over blocks of 64 pixels, each source's multiplier set up once per call (a left shift
/// saturates first, as in SPEC.md §5.2).
public func concatPixelsAVX512(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, first: Int, pixels: Int,
                               sources: UnsafeBufferPointer<ConcatSource>, lo: Int32, hi: Int32, exact: Bool = false) {
    let vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi)
    var p0 = first
    while p0 < first + pixels {
        let p1 = min(first + pixels, p0 + 64)
        var c0 = 0
        for s in sources {
            switch (s.type, dstType) {
            case (.i16, .i16): concatSource(s, I16Lanes(), I16Lanes(), dst: dst, stride: stride, c0: c0, pixels: p0..<p1, vlo: vlo, vhi: vhi, exact: exact)
            default: concatSource(s, AnyLanes16(type: s.type), AnyLanes16(type: dstType), dst: dst, stride: stride, c0: c0,
                                  pixels: p0..<p1, vlo: vlo, vhi: vhi, exact: exact)
            }
            c0 += s.channels
        }
        p0 = p1
    }
}

/// One concat source's channels at channel offset `c0` of `pixels`, in the lane IO of its type
/// and the destination's.
@inline(__always) private func concatSource<S: LaneIO16, D: LaneIO16>(
    _ s: ConcatSource, _ io: S, _ od: D, dst: UnsafeMutableRawPointer, stride: Int, c0: Int, pixels: Range<Int>,
    vlo: __m512i, vhi: __m512i, exact: Bool) {
    let sb = io.bytes, db = od.bytes
    let shift = Int(s.multiplier?.shift ?? 0)
    // Not an optional: unwrapping one in the pixel loop copied its five vectors each time.
    let scaled = s.multiplier != nil
    let left = shift > 0
    let q = UniformRequant16(s.multiplier ?? QuantMultiplier(mantissa: 1 << 30, shift: 0), inputBound: left ? .max : s.type.maxMagnitude)
    let ml = _mm512_set1_epi32(Int32(max(0, shift)))
    let sStep = s.stride &* sb, dStep = stride &* db
    var c = 0
    while c < s.channels {
        let n = min(16, s.channels &- c)
        // Whole 16 lanes where they stay in the pixel (a spill into the next source's
        // channels is rewritten by it), unless `exact`.
        let full = n == 16 || (!exact && c0 &+ c &+ 16 <= stride)
        let loadMask = __mmask16(truncatingIfNeeded: (1 << n) &- 1)
        let storeMask: __mmask16 = full ? 0xFFFF : loadMask
        var ps = s.base + (pixels.lowerBound &* s.stride &+ c) &* sb, pd = dst + (pixels.lowerBound &* stride &+ c0 &+ c) &* db
        for _ in pixels {
            var v = n == 16 ? io.load(ps) : io.load(ps, mask: loadMask)
            if left { v = saturatingShiftLeft16(v, ml) }
            if scaled { v = q.apply(v) }
            v = _mm512_min_epi32(_mm512_max_epi32(v, vlo), vhi)
            if storeMask == 0xFFFF { od.store(v, pd) } else { od.store(v, pd, mask: storeMask) }
            ps += sStep; pd += dStep
        }
        c &+= 16
    }
}
#endif

#if arch(x86_64)
/// channelSumsAVX2's sums (same arguments, same totals), up to 64 channels per pass over the
/// pixels in four 16-lane registers (the AVX2 kernel keeps one lane block per 8 channels in
/// memory). Runs of at most 65536 pixels sum in int32, exactly as there.
public func channelSumsAVX512(src: UnsafeRawPointer, _ type: StorageType, pixels: Int, stride: Int, into sums: UnsafeMutablePointer<Int64>) {
    let eb = type.byteWidth
    @inline(__always) func mask(_ n: Int, _ from: Int) -> __mmask16 {
        n <= from ? 0 : n - from >= 16 ? 0xFFFF : __mmask16((1 << (n - from)) - 1)
    }
    var lanes = [Int32](repeating: 0, count: 64)
    var p0 = 0
    while p0 < pixels {
        let p1 = min(pixels, p0 + 65536)
        var c = 0
        while c < stride {
            let n = min(64, stride - c)
            let m0 = mask(n, 0), m1 = mask(n, 16), m2 = mask(n, 32), m3 = mask(n, 48)
            var a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0
            let base = src + c * eb
            if n == 64 {
                for p in p0..<p1 {
                    let row = base + p &* stride &* eb
                    a0 = _mm512_add_epi32(a0, load16Lanes(row, type)); a1 = _mm512_add_epi32(a1, load16Lanes(row + 16 * eb, type))
                    a2 = _mm512_add_epi32(a2, load16Lanes(row + 32 * eb, type)); a3 = _mm512_add_epi32(a3, load16Lanes(row + 48 * eb, type))
                }
            } else {
                for p in p0..<p1 {
                    let row = base + p &* stride &* eb
                    a0 = _mm512_add_epi32(a0, load16Lanes(row, type, mask: m0)); a1 = _mm512_add_epi32(a1, load16Lanes(row + 16 * eb, type, mask: m1))
                    a2 = _mm512_add_epi32(a2, load16Lanes(row + 32 * eb, type, mask: m2)); a3 = _mm512_add_epi32(a3, load16Lanes(row + 48 * eb, type, mask: m3))
                }
            }
            lanes.withUnsafeMutableBytes { l in
                _mm512_storeu_si512(l.baseAddress!, a0); _mm512_storeu_si512(l.baseAddress! + 64, a1)
                _mm512_storeu_si512(l.baseAddress! + 128, a2); _mm512_storeu_si512(l.baseAddress! + 192, a3)
            }
            for i in 0..<n { sums[c + i] += Int64(lanes[i]) }
            c += 64
        }
        p0 = p1
    }
}
#endif
