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
    /// The bounded form's lanes (requantizeBounded16): h = 2^(r−1) (0 for r = 0) and the shift
    /// that makes x's sign bit the correction n (31, or 32 for r = 0: none), per side, and the
    /// positive side's 64-bit nudges 2^31 + h·2^32 for the even and the odd channels.
    let half: __m512i, signShift: __m512i, negHalf: __m512i, negSignShift: __m512i
    let nudgeEven: __m512i, nudgeOdd: __m512i

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
        // Only the form the table takes (EpilogueVariant) gets its lanes: this runs once per
        // block pair of every tile.
        if t.boundedInputs && !t.hasLeftShift {
            roundMask = zero; halfMask = zero; negRoundMask = zero; negHalfMask = zero
            let thirtyTwo = _mm512_set1_epi32(32)
            half = _mm512_srli_epi32(_mm512_sllv_epi32(one, right), 1)
            signShift = _mm512_sub_epi32(thirtyTwo, _mm512_min_epu32(right, one))
            negHalf = t.hasNegative ? _mm512_srli_epi32(_mm512_sllv_epi32(one, negRight), 1) : half
            negSignShift = t.hasNegative ? _mm512_sub_epi32(thirtyTwo, _mm512_min_epu32(negRight, one)) : signShift
            (nudgeEven, nudgeOdd) = boundedNudges16(half)
        } else {
            roundMask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one)
            halfMask = _mm512_srai_epi32(roundMask, 1)
            negRoundMask = t.hasNegative ? _mm512_sub_epi32(_mm512_sllv_epi32(one, negRight), one) : roundMask
            negHalfMask = t.hasNegative ? _mm512_srai_epi32(negRoundMask, 1) : halfMask
            half = zero; signShift = zero; negHalf = zero; negSignShift = zero; nudgeEven = zero; nudgeOdd = zero
        }
    }

    /// requantize(acc + bias, M(c, sign)) + offset, clamped, with the table's flags fixed by the
    /// caller (`V`), so a tile's pixel loop has no per-pixel tests; the bias is always added
    /// (zero lanes when the table has none).
    @inline(__always) func apply<V: EpilogueVariant>(_ x0: __m512i, _: V.Type) -> __m512i {
        var x = _mm512_add_epi32(x0, bias)
        return finish(&x, negative: V.negative, leftShift: V.leftShift, bounded: V.bounded)
    }

    /// requantizeBounded16 with this tile's lanes; the negative side's lanes where x < 0 (its
    /// h is added after the high multiply, as the 64-bit nudges cannot follow a 32-bit mask).
    @inline(__always) private func finishBounded(_ x: __m512i, negative: Bool) -> __m512i {
        guard negative else {
            return requantizeBounded16(x, mantissa: mantissa, mantissaOdd: mantissaOdd, nudgeEven: nudgeEven, nudgeOdd: nudgeOdd,
                                       half: nil, signShift: signShift, right: right)
        }
        let neg = _mm512_test_epi32_mask(x, _mm512_set1_epi32(Int32.min))
        let m = _mm512_mask_blend_epi32(neg, mantissa, negMantissa)
        let nudge = _mm512_set1_epi64(1 << 31)
        return requantizeBounded16(x, mantissa: m, mantissaOdd: oddLanesDown16(m), nudgeEven: nudge, nudgeOdd: nudge,
                                   half: _mm512_mask_blend_epi32(neg, half, negHalf),
                                   signShift: _mm512_mask_blend_epi32(neg, signShift, negSignShift),
                                   right: _mm512_mask_blend_epi32(neg, right, negRight))
    }

    /// + offset, then the clamp (its upper bound only where the store does not saturate to it).
    @inline(__always) private func clamped(_ q: __m512i) -> __m512i {
        let low = _mm512_max_epi32(addsOffset ? _mm512_add_epi32(q, offset) : q, lo)
        return clampsHigh ? _mm512_min_epi32(low, hi) : low
    }

    @inline(__always) private func finish(_ x: inout __m512i, negative: Bool, leftShift: Bool, bounded: Bool) -> __m512i {
        if bounded { return clamped(finishBounded(x, negative: negative)) }
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
        return clamped(requantize16(x, mantissa: m, mantissaOdd: mo, right: r, mask: rm, halfMask: hm))
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

/// requantize(x, M) for |x| < 2^30 without a left shift (requantizeBoundedInput, bit-exact with
/// requantize16 there) in 10 operations instead of 15: the doubled x times the mantissa plus the
/// 64-bit nudge 2^31 + h·2^32 has y + h in its high dword; x's sign bit shifted down (by 31, or
/// by 32 to nothing where r = 0) is the correction n; one arithmetic shift by r rounds. `half`:
/// h per lane, added after the high multiply (the nudges then carry only 2^31), or nil when the
/// nudges carry it.
@inline(__always) func requantizeBounded16(_ x: __m512i, mantissa: __m512i, mantissaOdd: __m512i, nudgeEven: __m512i,
                                           nudgeOdd: __m512i, half: __m512i?, signShift: __m512i, right: __m512i) -> __m512i {
    let x2 = _mm512_add_epi32(x, x)
    let even = _mm512_add_epi64(_mm512_mul_epi32(x2, mantissa), nudgeEven)
    let odd = _mm512_add_epi64(_mm512_mul_epi32(oddLanesDown16(x2), mantissaOdd), nudgeOdd)
    var high = _mm512_mask_blend_epi32(0xAAAA, oddLanesDown16(even), odd)
    if let half { high = _mm512_add_epi32(high, half) }
    return _mm512_srav_epi32(_mm512_sub_epi32(high, _mm512_srlv_epi32(x, signShift)), right)
}

/// The 64-bit nudges 2^31 + h·2^32 of requantizeBounded16 for the even and the odd lanes of `half`.
@inline(__always) func boundedNudges16(_ half: __m512i) -> (even: __m512i, odd: __m512i) {
    let low = _mm512_set1_epi64(1 << 31)
    let evenUp = _mm512_castps_si512(_mm512_moveldup_ps(_mm512_castsi512_ps(half)))
    return (_mm512_mask_blend_epi32(0xAAAA, low, evenUp), _mm512_mask_blend_epi32(0xAAAA, low, half))
}

/// Each 64-bit lane's high dword copied into its low one (vmovshdup: a shuffle, not a shift).
@inline(__always) func oddLanesDown16(_ v: __m512i) -> __m512i { _mm512_castps_si512(_mm512_movehdup_ps(_mm512_castsi512_ps(v))) }

/// requantize16 for one multiplier in every lane, its constants computed once per call (the
/// element-wise kernels).
/// `inputBound`: the largest |x| it will see; below 2^30 it takes the bounded form.
struct UniformRequant16 {
    let mantissa: __m512i, mantissaOdd: __m512i, right: __m512i, mask: __m512i, halfMask: __m512i
    let bounded: Bool, nudge: __m512i, signShift: __m512i
    @inline(__always) init(_ m: QuantMultiplier, inputBound: Int64 = .max) {
        mantissa = _mm512_set1_epi32(m.mantissa); mantissaOdd = mantissa
        let k = Int32(max(0, -Int(m.shift)))
        right = _mm512_set1_epi32(k)
        mask = _mm512_set1_epi32(Int32((Int64(1) << k) - 1)); halfMask = _mm512_srai_epi32(mask, 1)
        bounded = inputBound < boundedRequantLimit && m.shift <= 0
        let h: Int64 = k > 0 ? 1 << (k - 1) : 0
        nudge = _mm512_set1_epi64((1 << 31) + (h << 32)); signShift = _mm512_set1_epi32(k > 0 ? 31 : 32)
    }
    @inline(__always) func apply(_ x: __m512i) -> __m512i { bounded ? applyBounded(x) : applyGeneral(x) }
    /// The bounded form (only where `bounded`).
    @inline(__always) func applyBounded(_ x: __m512i) -> __m512i {
        requantizeBounded16(x, mantissa: mantissa, mantissaOdd: mantissaOdd, nudgeEven: nudge, nudgeOdd: nudge,
                            half: nil, signShift: signShift, right: right)
    }
    @inline(__always) func applyGeneral(_ x: __m512i) -> __m512i {
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
/// `bounded`: the table's inputs are below 2^30 and it has no left shift (requantizeBounded16).
protocol EpilogueVariant { static var negative: Bool { get }; static var leftShift: Bool { get }; static var bounded: Bool { get } }
extension EpilogueVariant { static var bounded: Bool { false } }
enum PositiveOnly: EpilogueVariant { static var negative: Bool { false }; static var leftShift: Bool { false } }
enum WithNegative: EpilogueVariant { static var negative: Bool { true }; static var leftShift: Bool { false } }
enum WithLeftShift: EpilogueVariant { static var negative: Bool { false }; static var leftShift: Bool { true } }
enum WithBoth: EpilogueVariant { static var negative: Bool { true }; static var leftShift: Bool { true } }
enum PositiveBounded: EpilogueVariant { static var negative: Bool { false }; static var leftShift: Bool { false }; static var bounded: Bool { true } }
enum NegativeBounded: EpilogueVariant { static var negative: Bool { true }; static var leftShift: Bool { false }; static var bounded: Bool { true } }

/// requantizeTileAVX2's work (same arguments, same bytes) two blocks at a time.
public func requantizeTileAVX512(_ acc: UnsafePointer<Int32>, pixels: Int, blocks: Int, _ t: RequantTables, channel: Int,
                                 validChannels: Int, out: UnsafeMutableRawPointer, pixelBytes: Int, type: StorageType) {
    switch (t.hasNegative, t.hasLeftShift) {
    case (false, false) where t.boundedInputs:
        requantizeTile(acc, pixels, blocks, t, channel, validChannels, out, pixelBytes, type, PositiveBounded.self)
    case (true, false) where t.boundedInputs:
        requantizeTile(acc, pixels, blocks, t, channel, validChannels, out, pixelBytes, type, NegativeBounded.self)
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
