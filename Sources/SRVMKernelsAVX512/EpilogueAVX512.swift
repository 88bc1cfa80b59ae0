#if arch(x86_64)
import _Builtin_intrinsics.intel
import FixedPoint
import SRVMKernelsCommon
import SRVMKernelsAVX2

// The conv epilogue on 16 lanes (two blocks of 8 output channels) at a time: SPEC.md §5.2's
// requantization, bit-exact with FixedPoint.requantize, as RequantizeAVX2 derives it; the
// comparisons use sign bits of differences that cannot overflow (|remainder|, |threshold| ≤ 2^31 − 1,
// both ≥ 0) instead of mask registers, whose compare intrinsics are macros Swift cannot import.

@inline(__always) func load16(_ p: UnsafePointer<Int32>) -> __m512i { _mm512_loadu_si512(UnsafeRawPointer(p)) }

/// The requantization lanes of channels c ..< c + 16 of `t`, loaded once and applied to every
/// pixel of a tile: requantize(acc + bias, M(c, sign)) + offset, clamped.
struct EpilogueLanes16 {
    let t: RequantTables
    let bias: __m512i, mantissa: __m512i, right: __m512i, left: __m512i
    let negMantissa: __m512i, negRight: __m512i, negLeft: __m512i
    let offset: __m512i, lo: __m512i, hi: __m512i
    /// The positive multiplier's per-lane constants of requantize16, once per tile instead of
    /// once per pixel: the mantissa's odd lanes, the rounding mask 2^right − 1 and half of it.
    let mantissaOdd: __m512i, roundMask: __m512i, halfMask: __m512i
    /// The negative-side multiplier's masks (its lanes replace them where x < 0).
    let negRoundMask: __m512i, negHalfMask: __m512i

    /// Whether the clamp's upper bound needs its own vpminsd: not when the store narrows with
    /// saturation to a type whose maximum is that bound (`store`: the destination's type, when
    /// the caller stores with saturating narrows), nor the offset's add when it is zero.
    let clampsHigh: Bool, addsOffset: Bool

    @inline(__always) init(_ t: RequantTables, channel c: Int, saturatingStore store: StorageType? = nil) {
        self.t = t
        clampsHigh = !t.clampIsLeftTo(store)
        addsOffset = t.offset != 0
        let zero = _mm512_setzero_si512()
        bias = t.bias.map { load16($0 + c) } ?? zero
        mantissa = load16(t.mantissa + c); right = load16(t.rightShift + c)
        left = t.hasLeftShift ? load16(t.leftShift + c) : zero
        negMantissa = t.hasNegative ? load16(t.negMantissa + c) : mantissa
        negRight = t.hasNegative ? load16(t.negRightShift + c) : right
        negLeft = t.hasNegative && t.hasLeftShift ? load16(t.negLeftShift + c) : left
        offset = _mm512_set1_epi32(t.offset); lo = _mm512_set1_epi32(t.clampMin); hi = _mm512_set1_epi32(t.clampMax)
        let one = _mm512_set1_epi32(1)
        mantissaOdd = _mm512_srli_epi64(mantissa, 32)
        roundMask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one)
        halfMask = _mm512_srai_epi32(roundMask, 1)
        negRoundMask = _mm512_sub_epi32(_mm512_sllv_epi32(one, negRight), one)
        negHalfMask = _mm512_srai_epi32(negRoundMask, 1)
    }

    /// requantize(acc + bias, M(c, sign)) + offset, clamped, with the table's flags fixed by the
    /// caller (`V`), so a tile's pixel loop has no per-pixel tests; the bias is always added
    /// (zero lanes when the table has none).
    @inline(__always) func apply<V: EpilogueVariant>(_ x0: __m512i, _: V.Type) -> __m512i {
        var x = _mm512_add_epi32(x0, bias)
        return finish(&x, negative: V.negative, leftShift: V.leftShift)
    }

    @inline(__always) private func finish(_ x: inout __m512i, negative: Bool, leftShift: Bool) -> __m512i {
        var m = mantissa, mo = mantissaOdd, r = right, l = left, rm = roundMask, hm = halfMask
        if negative {
            // The lanes where x < 0 (vptestmd runs on port 5, beside the port-0 shifts) take
            // the negative side's constants, all precomputed.
            let neg = _mm512_test_epi32_mask(x, _mm512_set1_epi32(Int32.min))
            // The odd lanes' mantissas move down after the blend (a lane's sign picks its own).
            m = _mm512_mask_blend_epi32(neg, m, negMantissa); mo = oddLanesDown16(m)
            r = _mm512_mask_blend_epi32(neg, r, negRight)
            rm = _mm512_mask_blend_epi32(neg, rm, negRoundMask); hm = _mm512_mask_blend_epi32(neg, hm, negHalfMask)
            if leftShift { l = _mm512_mask_blend_epi32(neg, l, negLeft) }
        }
        if leftShift { x = saturatingShiftLeft16(x, l) }
        let q = requantize16(x, mantissa: m, mantissaOdd: mo, right: r, mask: rm, halfMask: hm)
        let low = _mm512_max_epi32(addsOffset ? _mm512_add_epi32(q, offset) : q, lo)
        return clampsHigh ? _mm512_min_epi32(low, hi) : low
    }
}

/// requantize(x, M) after any left shift (per lane; SPEC.md §5.2): the rounding doubling high
/// multiply by `mantissa`, then the rounding right shift by `right`, with the per-lane constants
/// given: mantissaOdd holds the odd lanes' mantissas in the even dwords, mask = 2^right − 1,
/// halfMask = mask >> 1.
/// The high multiply takes the high dword of 2·x·M + 2^31 (= floor((x·M + 2^30) / 2^31), the
/// 64-bit sum cannot overflow: |x·M| < 2^62): the odd lanes' dwords are already in place and
/// the even lanes' come down with a shuffle, so the only port-0 operations (512-bit shifts and
/// multiplies share it) are the two multiplies and the rounding shift's three.
@inline(__always) func requantize16(_ x: __m512i, mantissa: __m512i, mantissaOdd: __m512i, right: __m512i,
                                    mask: __m512i, halfMask: __m512i) -> __m512i {
    let nudge = _mm512_set1_epi64(1 << 31)
    let even = _mm512_mul_epi32(x, mantissa), odd = _mm512_mul_epi32(oddLanesDown16(x), mantissaOdd)
    let even2 = _mm512_add_epi64(_mm512_add_epi64(even, even), nudge), odd2 = _mm512_add_epi64(_mm512_add_epi64(odd, odd), nudge)
    let high = _mm512_mask_blend_epi32(0xAAAA, oddLanesDown16(even2), odd2)
    let remainder = _mm512_and_si512(high, mask)
    let threshold = _mm512_sub_epi32(halfMask, _mm512_srai_epi32(high, 31))
    let roundUp = _mm512_srai_epi32(_mm512_sub_epi32(threshold, remainder), 31)   // −1 where remainder > threshold
    return _mm512_sub_epi32(_mm512_srav_epi32(high, right), roundUp)
}

/// Each 64-bit lane's high dword copied into its low one (vmovshdup: a shuffle, not a shift).
@inline(__always) func oddLanesDown16(_ v: __m512i) -> __m512i { _mm512_castps_si512(_mm512_movehdup_ps(_mm512_castsi512_ps(v))) }

/// requantize16 for one multiplier in every lane, its constants computed once per call (the
/// element-wise kernels).
struct UniformRequant16 {
    let mantissa: __m512i, mantissaOdd: __m512i, right: __m512i, mask: __m512i, halfMask: __m512i
    @inline(__always) init(_ m: QuantMultiplier) {
        mantissa = _mm512_set1_epi32(m.mantissa); mantissaOdd = mantissa
        let k = Int32(max(0, -Int(m.shift)))
        right = _mm512_set1_epi32(k)
        mask = _mm512_set1_epi32(Int32((Int64(1) << k) - 1)); halfMask = _mm512_srai_epi32(mask, 1)
    }
    @inline(__always) func apply(_ x: __m512i) -> __m512i {
        requantize16(x, mantissa: mantissa, mantissaOdd: mantissaOdd, right: right, mask: mask, halfMask: halfMask)
    }
}


/// saturate_int32(x · 2^k) per lane (k in 0...30), without mask registers: x is clamped to
/// [−2^31 >> k, (2^31 − 1) >> k] and shifted (exact, and −2^31 exactly at the low end); lanes
/// that were above the high bound get the k low bits set, making 2^31 − 1. The differences
/// taken for the sign tests cannot overflow (x ≥ 0 on the high side, x ≤ 0 on the low side).
@inline(__always) func saturatingShiftLeft16(_ x: __m512i, _ k: __m512i) -> __m512i {
    let hi = _mm512_srav_epi32(_mm512_set1_epi32(Int32.max), k)
    let lo = _mm512_srav_epi32(_mm512_set1_epi32(Int32.min), k)
    let over = _mm512_srai_epi32(_mm512_sub_epi32(hi, _mm512_max_epi32(x, _mm512_setzero_si512())), 31)   // −1 where x > hi
    let shifted = _mm512_sllv_epi32(_mm512_min_epi32(_mm512_max_epi32(x, lo), hi), k)
    let one = _mm512_set1_epi32(1)
    return _mm512_or_si512(shifted, _mm512_and_si512(over, _mm512_sub_epi32(_mm512_sllv_epi32(one, k), one)))
}

/// The requantization flags a tile's pixel loop is specialized for (EpilogueLanes16.apply).
protocol EpilogueVariant { static var negative: Bool { get }; static var leftShift: Bool { get } }
enum PositiveOnly: EpilogueVariant { static var negative: Bool { false }; static var leftShift: Bool { false } }
enum WithNegative: EpilogueVariant { static var negative: Bool { true }; static var leftShift: Bool { false } }
enum WithLeftShift: EpilogueVariant { static var negative: Bool { false }; static var leftShift: Bool { true } }
enum WithBoth: EpilogueVariant { static var negative: Bool { true }; static var leftShift: Bool { true } }

/// requantizeTileAVX2's work (same arguments, same bytes) two blocks at a time.
public func requantizeTileAVX512(_ acc: UnsafePointer<Int32>, pixels: Int, blocks: Int, _ t: RequantTables, channel: Int,
                                 validChannels: Int, out: UnsafeMutableRawPointer, pixelBytes: Int, type: StorageType) {
    switch (t.hasNegative, t.hasLeftShift) {
    case (false, false): requantizeTile(acc, pixels, blocks, t, channel, validChannels, out, pixelBytes, type, PositiveOnly.self)
    case (true, false): requantizeTile(acc, pixels, blocks, t, channel, validChannels, out, pixelBytes, type, WithNegative.self)
    case (false, true): requantizeTile(acc, pixels, blocks, t, channel, validChannels, out, pixelBytes, type, WithLeftShift.self)
    case (true, true): requantizeTile(acc, pixels, blocks, t, channel, validChannels, out, pixelBytes, type, WithBoth.self)
    }
}

@inline(__always) private func requantizeTile<V: EpilogueVariant>(
    _ acc: UnsafePointer<Int32>, _ pixels: Int, _ blocks: Int, _ t: RequantTables, _ channel: Int, _ validChannels: Int,
    _ out: UnsafeMutableRawPointer, _ pixelBytes: Int, _ type: StorageType, _ variant: V.Type) {
    let eb = type.byteWidth
    // Block pair by block pair, its lanes loaded once for all the tile's pixels; the store type
    // is chosen once per pair, outside the pixel loop. The stores narrow with saturation (the
    // same bytes for clamped values), which lets a clamp at the type's maximum skip its vpminsd.
    var m = 0
    while m < blocks {
        let count = min(16, validChannels &- m &* 8)
        if count <= 0 { break }
        let lanes = EpilogueLanes16(t, channel: channel &+ m &* 8, saturatingStore: type)
        // A lone last block reads 8 more sums than it owns: the tile's buffer holds them, and they are never stored.
        let sums = acc + m &* 8, rowInts = blocks &* 8
        let o = out + m &* 8 &* eb
        @inline(__always) func value(_ p: Int) -> __m512i { lanes.apply(load16(sums + p &* rowInts), V.self) }
        if count == 16 {
            switch type {
            case .u8:
                for p in 0..<pixels { _mm_storeu_si128((o + p &* pixelBytes).assumingMemoryBound(to: __m128i.self), _mm512_cvtusepi32_epi8(value(p))) }
            case .i8:
                for p in 0..<pixels { _mm_storeu_si128((o + p &* pixelBytes).assumingMemoryBound(to: __m128i.self), _mm512_cvtsepi32_epi8(value(p))) }
            case .i16:
                for p in 0..<pixels { _mm256_storeu_si256((o + p &* pixelBytes).assumingMemoryBound(to: __m256i.self), _mm512_cvtsepi32_epi16(value(p))) }
            case .i32:
                for p in 0..<pixels { _mm512_storeu_si512(o + p &* pixelBytes, value(p)) }
            }
        } else {
            // The last channels: masked stores write only the real ones.
            let mask = __mmask16((1 << count) &- 1)
            switch type {
            case .u8:
                for p in 0..<pixels { _mm_mask_storeu_epi8(o + p &* pixelBytes, mask, _mm512_cvtusepi32_epi8(value(p))) }
            case .i8:
                for p in 0..<pixels { _mm_mask_storeu_epi8(o + p &* pixelBytes, mask, _mm512_cvtsepi32_epi8(value(p))) }
            case .i16:
                for p in 0..<pixels { _mm256_mask_storeu_epi16(o + p &* pixelBytes, mask, _mm512_cvtsepi32_epi16(value(p))) }
            case .i32:
                for p in 0..<pixels { _mm512_mask_storeu_epi32(o + p &* pixelBytes, mask, value(p)) }
            }
        }
        m &+= 2
    }
}
#endif
