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

/// requantize(x, M) for one multiplier with exponent ≤ 0 (`right` = −exponent in every lane).
@inline(__always) func requantize16(_ x: __m512i, mantissa: __m512i, right: __m512i) -> __m512i {
    let nudge = _mm512_set1_epi64(1 << 30)
    let even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, mantissa), nudge), 31)
    let odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mantissa, 32)), nudge), 1)
    let high = _mm512_mask_blend_epi32(0xAAAA, even, odd)
    let one = _mm512_set1_epi32(1)
    let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one)
    let remainder = _mm512_and_si512(high, mask)
    let threshold = _mm512_sub_epi32(_mm512_srai_epi32(mask, 1), _mm512_srai_epi32(high, 31))
    let roundUp = _mm512_srai_epi32(_mm512_sub_epi32(threshold, remainder), 31)   // −1 where remainder > threshold
    return _mm512_sub_epi32(_mm512_srav_epi32(high, right), roundUp)
}

/// One add operand's scaling, requantize(x << L, M): a plain left shift where that is exact
/// (see `exactAddShift`), else the 16-lane requantization.
struct AddOperandScale {
    let shift: Int32?
    let mantissa: __m512i, right: __m512i
    @inline(__always) init(_ m: QuantMultiplier, leftShift: Int, operandBytes: Int) {
        shift = exactAddShift(m, leftShift: leftShift, operandBytes: operandBytes).map(Int32.init)
        mantissa = _mm512_set1_epi32(m.mantissa); right = _mm512_set1_epi32(Int32(max(0, -Int(m.shift))))
    }
    @inline(__always) func apply(_ x: __m512i, _ L: __m128i) -> __m512i {
        if let s = shift { return _mm512_sll_epi32(x, _mm_cvtsi32_si128(s)) }
        return requantize16(_mm512_sll_epi32(x, L), mantissa: mantissa, right: right)
    }
}

/// addPixelsAVX2's result, 16 lanes at a time; every multiplier's exponent must be ≤ 0 and
/// neither operand a broadcast.
public func addPixelsAVX512(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, first: Int, pixels: Int,
                            a: ElementwiseOperand, b: ElementwiseOperand, leftShift: Int,
                            ma: QuantMultiplier, mb: QuantMultiplier, mo: QuantMultiplier, subtract: Bool, lo: Int32, hi: Int32) {
    precondition(ma.shift <= 0 && mb.shift <= 0 && mo.shift <= 0 && !a.broadcast && !b.broadcast, "addPixelsAVX512: no left shifts, no broadcasts")
    let sa = AddOperandScale(ma, leftShift: leftShift, operandBytes: a.type.byteWidth)
    let sb = AddOperandScale(mb, leftShift: leftShift, operandBytes: b.type.byteWidth)
    let om = _mm512_set1_epi32(mo.mantissa), or = _mm512_set1_epi32(Int32(-Int(mo.shift)))
    let vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi)
    let L = _mm_cvtsi32_si128(Int32(leftShift))
    let db = dstType.byteWidth, ab = a.type.byteWidth, bb = b.type.byteWidth
    let wide = stride / 16 * 16
    for p in first..<(first + pixels) {
        let pa = a.base + p * a.stride * ab, pb = b.base + p * b.stride * bb, pd = dst + p * stride * db
        var c = 0
        while c < wide {
            let ta = sa.apply(load16Lanes(pa + c * ab, a.type), L)
            let tb = sb.apply(load16Lanes(pb + c * bb, b.type), L)
            let s = subtract ? _mm512_sub_epi32(ta, tb) : _mm512_add_epi32(ta, tb)
            store16Lanes(_mm512_min_epi32(_mm512_max_epi32(requantize16(s, mantissa: om, right: or), vlo), vhi), pd + c * db, dstType)
            c += 16
        }
    }
    if wide < stride {
        // The last 8 channels of every pixel: the AVX2 kernel on an 8-channel view.
        let ta = ElementwiseOperand(base: a.base + wide * ab, type: a.type, stride: a.stride, broadcast: false)
        let tb = ElementwiseOperand(base: b.base + wide * bb, type: b.type, stride: b.stride, broadcast: false)
        addPixelsAVX2(dst: dst + wide * db, dstType, stride: 8, dstPixelStride: stride, first: first, pixels: pixels, a: ta, b: tb,
                      leftShift: leftShift, ma: ma, mb: mb, mo: mo, subtract: subtract, lo: lo, hi: hi)
    }
}
#endif

#if arch(x86_64)
/// requantizePixelsAVX2's result 16 lanes at a time; a pixel's last 8 channels (stride 8
/// mod 16) take the AVX2 lanes.
public func requantizePixelsAVX512(src: UnsafeRawPointer, _ srcType: StorageType, dst: UnsafeMutableRawPointer, _ dstType: StorageType,
                                   pixels: Int, stride: Int, srcStride: Int, tables t: RequantTables) {
    let sb = srcType.byteWidth, db = dstType.byteWidth
    let wide = stride / 16 * 16
    for p in 0..<pixels {
        let ps = src + p * srcStride * sb, pd = dst + p * stride * db
        var c = 0
        while c < wide {
            store16Lanes(requantizeLanesAVX512(load16Lanes(ps + c * sb, srcType), t, channel: c), pd + c * db, dstType)
            c += 16
        }
        if c < stride {
            storeLanesAVX2(requantizeLanesAVX2(loadLanesAVX2(ps + c * sb, srcType), t, channel: c), pd + c * db, count: 8, type: dstType)
        }
    }
}

/// mulPixelsAVX2's result 16 lanes at a time (a multiplier without left shift; b may be a
/// broadcast).
public func mulPixelsAVX512(dst: UnsafeMutableRawPointer, _ dstType: StorageType, stride: Int, first: Int, pixels: Int,
                            a: ElementwiseOperand, b: ElementwiseOperand, m: QuantMultiplier, lo: Int32, hi: Int32) {
    precondition(m.shift <= 0, "mulPixelsAVX512: no left shift")
    let mm = _mm512_set1_epi32(m.mantissa), mr = _mm512_set1_epi32(Int32(-Int(m.shift)))
    let q = RequantLanes(mantissa: m.mantissa, shift: m.shift)
    let vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi)
    let lo8 = _mm256_set1_epi32(lo), hi8 = _mm256_set1_epi32(hi)
    let db = dstType.byteWidth, ab = a.type.byteWidth, bb = b.type.byteWidth
    let wide = stride / 16 * 16
    for p in first..<(first + pixels) {
        let pa = a.base + p * a.stride * ab, pb = b.base + (b.broadcast ? 0 : p * b.stride) * bb, pd = dst + p * stride * db
        var c = 0
        while c < wide {
            let v = _mm512_mullo_epi32(load16Lanes(pa + c * ab, a.type), load16Lanes(pb + c * bb, b.type))
            store16Lanes(_mm512_min_epi32(_mm512_max_epi32(requantize16(v, mantissa: mm, right: mr), vlo), vhi), pd + c * db, dstType)
            c += 16
        }
        if c < stride {
            let v = _mm256_mullo_epi32(loadLanesAVX2(pa + c * ab, a.type), loadLanesAVX2(pb + c * bb, b.type))
            storeLanesAVX2(clampAVX2(requantizeAVX2(v, q, leftShifts: false), lo8, hi8), pd + c * db, count: 8, type: dstType)
        }
    }
}
#endif
