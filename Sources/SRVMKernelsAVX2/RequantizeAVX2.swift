#if arch(x86_64)
import _Builtin_intrinsics.intel
import FixedPoint
import SRVMKernelsCommon

/// SPEC.md §5.2's requantization on 8 int32 lanes, bit-exact with FixedPoint.requantize.
///
/// SRDHM(x, M0) = (x·M0 + N) / 2^31 truncated, N = 2^30 or 1 − 2^30 by the product's sign.
/// Both cases equal floor((x·M0 + 2^30) / 2^31) (for a negative product, truncation toward
/// zero of v = p + 1 − 2^30 is floor((v + 2^31 − 1) / 2^31)), and M0 is never −2^31, so the
/// saturating case cannot occur. vpmuldq forms the products of even lanes (odd lanes are
/// shuffled down first) and floor(v / 2^31) is the high dword of 2·p + 2^31
/// (highDwordsOfDoubledProducts).
/// RDBPOT(x, k) = (x >> k) + (x & mask > (mask >> 1) + [x < 0]), mask = 2^k − 1, per lane k.
public struct RequantLanes {
    public var mantissa: __m256i
    public var leftShift: __m256i
    public var rightShift: __m256i
    @inline(__always) public init(mantissa: __m256i, leftShift: __m256i, rightShift: __m256i) {
        self.mantissa = mantissa; self.leftShift = leftShift; self.rightShift = rightShift
    }
    /// Loads lanes from per-channel tables at `index`.
    @inline(__always) public init(_ m: UnsafePointer<Int32>, _ l: UnsafePointer<Int32>, _ r: UnsafePointer<Int32>, at index: Int) {
        mantissa = _mm256_loadu_si256(UnsafeRawPointer(m + index).assumingMemoryBound(to: __m256i.self))
        leftShift = _mm256_loadu_si256(UnsafeRawPointer(l + index).assumingMemoryBound(to: __m256i.self))
        rightShift = _mm256_loadu_si256(UnsafeRawPointer(r + index).assumingMemoryBound(to: __m256i.self))
    }
}

/// saturate_int32(x · 2^k) per lane (k in 0...30).
@inline(__always) public func saturatingShiftLeftAVX2(_ x: __m256i, _ k: __m256i) -> __m256i {
    let shifted = _mm256_sllv_epi32(x, k)
    let hi = _mm256_srav_epi32(_mm256_set1_epi32(Int32.max), k)
    let lo = _mm256_srav_epi32(_mm256_set1_epi32(Int32.min), k)
    let over = _mm256_cmpgt_epi32(x, hi), under = _mm256_cmpgt_epi32(lo, x)
    let r = _mm256_blendv_epi8(shifted, _mm256_set1_epi32(Int32.max), over)
    return _mm256_blendv_epi8(r, _mm256_set1_epi32(Int32.min), under)
}

@inline(__always) public func roundingDoublingHighMulAVX2(_ x: __m256i, _ m: __m256i) -> __m256i {
    highDwordsOfDoubledProducts(_mm256_mul_epi32(x, m), _mm256_mul_epi32(oddLanesDown8(x), oddLanesDown8(m)))
}

/// floor((p + 2^30) / 2^31) of the even lanes' products `even` and the odd lanes' `odd` (64-bit),
/// in their lanes: the high dword of 2p + 2^31 (no overflow: |p| < 2^62). The odd lanes' high
/// dwords are in place and the even lanes' come down with a shuffle, not a shift (shifts and
/// multiplies share the same two ports).
@inline(__always) public func highDwordsOfDoubledProducts(_ even: __m256i, _ odd: __m256i) -> __m256i {
    let nudge = _mm256_set1_epi64x(1 << 31)
    let even2 = _mm256_add_epi64(_mm256_add_epi64(even, even), nudge), odd2 = _mm256_add_epi64(_mm256_add_epi64(odd, odd), nudge)
    // _mm256_blend_epi32 is a macro Swift cannot import; blendv with a constant mask is one uop.
    return _mm256_blendv_epi8(oddLanesDown8(even2), odd2, _mm256_set_epi32(-1, 0, -1, 0, -1, 0, -1, 0))
}

/// Each 64-bit lane's high dword copied into its low one (vmovshdup: a shuffle, not a shift).
@inline(__always) public func oddLanesDown8(_ v: __m256i) -> __m256i { _mm256_castps_si256(_mm256_movehdup_ps(_mm256_castsi256_ps(v))) }

@inline(__always) public func roundingShiftRightAVX2(_ x: __m256i, _ k: __m256i) -> __m256i {
    let one = _mm256_set1_epi32(1)
    let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, k), one)
    let remainder = _mm256_and_si256(x, mask)
    let threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_srai_epi32(x, 31))
    return _mm256_sub_epi32(_mm256_srav_epi32(x, k), _mm256_cmpgt_epi32(remainder, threshold))
}

/// requantize(x, M) per lane; `leftShifts` false skips the (rare) saturating left shift when
/// every lane's exponent is ≤ 0.
@inline(__always) public func requantizeAVX2(_ x: __m256i, _ q: RequantLanes, leftShifts: Bool) -> __m256i {
    let v = leftShifts ? saturatingShiftLeftAVX2(x, q.leftShift) : x
    return roundingShiftRightAVX2(roundingDoublingHighMulAVX2(v, q.mantissa), q.rightShift)
}

/// requantize(x, M) with one multiplier in every lane, its constants computed once for a
/// whole loop (the element-wise kernels): the same steps as requantizeAVX2.
/// `inputBound`: the largest |x| it will see; below 2^30 (and no left shift) it takes the
/// bounded form (requantizeBoundedAVX2).
public struct UniformRequantAVX2 {
    let mantissa: __m256i, mantissaOdd: __m256i, left: __m256i, right: __m128i, mask: __m256i, halfMask: __m256i
    let leftShifts: Bool
    let bounded: Bool, nudge: __m256i, signShift: __m256i, rightLanes: __m256i
    @inline(__always) public init(_ m: QuantMultiplier, inputBound: Int64 = .max) {
        mantissa = _mm256_set1_epi32(m.mantissa); mantissaOdd = mantissa
        let k = Int32(max(0, -Int(m.shift)))
        left = _mm256_set1_epi32(Int32(max(0, Int(m.shift)))); right = _mm_cvtsi32_si128(k)
        mask = _mm256_set1_epi32(Int32((Int64(1) << k) - 1)); halfMask = _mm256_srai_epi32(mask, 1)
        leftShifts = m.shift > 0
        bounded = inputBound < boundedRequantLimit && m.shift <= 0
        let h: Int64 = k > 0 ? 1 << (k - 1) : 0
        nudge = _mm256_set1_epi64x((1 << 31) + (h << 32)); signShift = _mm256_set1_epi32(k > 0 ? 31 : 32)
        rightLanes = _mm256_set1_epi32(k)
    }
    @inline(__always) public func apply(_ x: __m256i) -> __m256i {
        if bounded {
            return requantizeBoundedAVX2(x, mantissa: mantissa, mantissaOdd: mantissaOdd, nudgeEven: nudge, nudgeOdd: nudge,
                                         half: nil, signShift: signShift, right: rightLanes)
        }
        let v = leftShifts ? saturatingShiftLeftAVX2(x, left) : x
        let high = highDwordsOfDoubledProducts(_mm256_mul_epi32(v, mantissa), _mm256_mul_epi32(oddLanesDown8(v), mantissaOdd))
        let threshold = _mm256_sub_epi32(halfMask, _mm256_srai_epi32(high, 31))
        return _mm256_sub_epi32(_mm256_sra_epi32(high, right), _mm256_cmpgt_epi32(_mm256_and_si256(high, mask), threshold))
    }
}

/// requantize(x, M) for |x| < 2^30 without a left shift: SRVMKernelsCommon's
/// requantizeBoundedInput on 8 lanes (11 operations instead of 15). The doubled x times the
/// mantissa plus the 64-bit nudge 2^31 + h·2^32 has y + h in its high dword; x's sign bit shifted
/// down (by 31, or by 32 to nothing where r = 0) is the correction; one arithmetic shift by r
/// rounds. `half`: h per lane, added after the high multiply (the nudges then carry only 2^31),
/// or nil when the nudges carry it.
@inline(__always) public func requantizeBoundedAVX2(_ x: __m256i, mantissa: __m256i, mantissaOdd: __m256i, nudgeEven: __m256i,
                                                    nudgeOdd: __m256i, half: __m256i?, signShift: __m256i, right: __m256i) -> __m256i {
    let x2 = _mm256_add_epi32(x, x)
    let even = _mm256_add_epi64(_mm256_mul_epi32(x2, mantissa), nudgeEven)
    let odd = _mm256_add_epi64(_mm256_mul_epi32(oddLanesDown8(x2), mantissaOdd), nudgeOdd)
    var high = _mm256_blendv_epi8(oddLanesDown8(even), odd, _mm256_set_epi32(-1, 0, -1, 0, -1, 0, -1, 0))
    if let half { high = _mm256_add_epi32(high, half) }
    return _mm256_srav_epi32(_mm256_sub_epi32(high, _mm256_srlv_epi32(x, signShift)), right)
}

/// The 64-bit nudges 2^31 + h·2^32 of requantizeBoundedAVX2 for the even and the odd lanes of `half`.
@inline(__always) public func boundedNudgesAVX2(_ half: __m256i) -> (even: __m256i, odd: __m256i) {
    let low = _mm256_set1_epi64x(1 << 31), oddMask = _mm256_set_epi32(-1, 0, -1, 0, -1, 0, -1, 0)
    let evenUp = _mm256_castps_si256(_mm256_moveldup_ps(_mm256_castsi256_ps(half)))
    return (_mm256_blendv_epi8(low, evenUp, oddMask), _mm256_blendv_epi8(low, half, oddMask))
}

/// clamp(v, lo, hi) per lane.
@inline(__always) public func clampAVX2(_ v: __m256i, _ lo: __m256i, _ hi: __m256i) -> __m256i {
    _mm256_min_epi32(_mm256_max_epi32(v, lo), hi)
}
#endif
