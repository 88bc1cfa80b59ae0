#if arch(x86_64)
import _Builtin_intrinsics.intel
import SRVMKernelsCommon

/// Stores the low `count` (1...8) int32 lanes of `v` as elements of `type`, saturated to the
/// type (the packs saturate; a partial block saturates lane by lane), so an epilogue whose clamp
/// is the type's own range may leave its upper bound to the store (EpilogueLanes8).
@inline(__always) public func storeLanesAVX2(_ v: __m256i, _ out: UnsafeMutableRawPointer, count: Int, type: StorageType) {
    if count == 8 {
        switch type {
        case .i32: _mm256_storeu_si256(out.assumingMemoryBound(to: __m256i.self), v)
        case .i16:
            _mm_storeu_si128(out.assumingMemoryBound(to: __m128i.self), packInt16AVX2(v))
        case .i8, .u8:
            let s = packInt16AVX2(v)
            let b = type == .u8 ? _mm_packus_epi16(s, s) : _mm_packs_epi16(s, s)
            _mm_storel_epi64(out.assumingMemoryBound(to: __m128i.self), b)
        }
        return
    }
    withUnsafeTemporaryAllocation(of: __m256i.self, capacity: 1) { lanes in
        lanes.baseAddress!.pointee = v
        let values = UnsafeRawPointer(lanes.baseAddress!).assumingMemoryBound(to: Int32.self)
        let r = type.valueRange
        for i in 0..<count { storeElement(min(max(values[i], r.lowerBound), r.upperBound), out, i, type) }
    }
}

/// The 8 int32 lanes of `v` saturated to int16, in order (vpackssdw works within 128-bit
/// lanes, so a dword permute gathers the two halves; _mm256_extracti128_si256 is a macro
/// Swift cannot import).
@inline(__always) public func packInt16AVX2(_ v: __m256i) -> __m128i {
    let packed = _mm256_packs_epi32(v, v)
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 4, 5, 0, 1, 4, 5)))
}

/// The requantization lanes of channels c ..< c + 8 of `t`, loaded once and applied to every
/// pixel of a tile: acc (+ bias) -> requantize with the channel's multiplier for its sign ->
/// + offset -> clamp.
public struct EpilogueLanes8 {
    let t: RequantTables
    let bias: __m256i, q: RequantLanes, n: RequantLanes
    let offset: __m256i, lo: __m256i, hi: __m256i
    /// The positive multiplier's per-lane constants, once per block instead of once per pixel:
    /// the odd lanes' mantissas moved down, the rounding mask 2^right − 1 and half of it.
    let mantissaOdd: __m256i, roundMask: __m256i, halfMask: __m256i
    /// Whether the clamp's upper bound needs its own vpminsd: not when it is the maximum of
    /// `saturatingStore`, the type the caller stores with storeLanesAVX2 (whose packs saturate);
    /// nor the offset's add when it is zero.
    let clampsHigh: Bool, addsOffset: Bool
    /// The bounded form (requantizeBoundedAVX2: the table's inputs are below 2^30, no left
    /// shift) and its lanes: the positive side's 64-bit nudges, h = 2^(r−1) and the sign
    /// shift (31, or 32 where r = 0) per side.
    let bounded: Bool
    let nudgeEven: __m256i, nudgeOdd: __m256i, half: __m256i, signShift: __m256i, negHalf: __m256i, negSignShift: __m256i

    @inline(__always) public init(_ t: RequantTables, channel c: Int, saturatingStore store: StorageType? = nil) {
        self.t = t
        clampsHigh = !t.clampIsLeftTo(store)
        addsOffset = t.offset != 0
        bias = t.bias.map { _mm256_loadu_si256(UnsafeRawPointer($0 + c).assumingMemoryBound(to: __m256i.self)) } ?? _mm256_setzero_si256()
        q = RequantLanes(t.mantissa, t.leftShift, t.rightShift, at: c)
        n = t.hasNegative ? RequantLanes(t.negMantissa, t.negLeftShift, t.negRightShift, at: c) : q
        offset = _mm256_set1_epi32(t.offset); lo = _mm256_set1_epi32(t.clampMin); hi = _mm256_set1_epi32(t.clampMax)
        let one = _mm256_set1_epi32(1)
        mantissaOdd = oddLanesDown8(q.mantissa)
        // Only the form the table takes gets its lanes: this runs once per block of every tile.
        bounded = t.boundedInputs && !t.hasLeftShift
        let zero = _mm256_setzero_si256()
        if bounded {
            roundMask = zero; halfMask = zero
            let thirtyTwo = _mm256_set1_epi32(32)
            half = _mm256_srli_epi32(_mm256_sllv_epi32(one, q.rightShift), 1)
            signShift = _mm256_sub_epi32(thirtyTwo, _mm256_min_epu32(q.rightShift, one))
            negHalf = t.hasNegative ? _mm256_srli_epi32(_mm256_sllv_epi32(one, n.rightShift), 1) : half
            negSignShift = t.hasNegative ? _mm256_sub_epi32(thirtyTwo, _mm256_min_epu32(n.rightShift, one)) : signShift
            (nudgeEven, nudgeOdd) = boundedNudgesAVX2(half)
        } else {
            roundMask = _mm256_sub_epi32(_mm256_sllv_epi32(one, q.rightShift), one); halfMask = _mm256_srai_epi32(roundMask, 1)
            half = zero; signShift = zero; negHalf = zero; negSignShift = zero; nudgeEven = zero; nudgeOdd = zero
        }
    }

    @inline(__always) public func apply(_ x0: __m256i) -> __m256i {
        let x = t.bias == nil ? x0 : _mm256_add_epi32(x0, bias)
        if bounded { return clamped(appliedBounded(x)) }
        var lanes = q
        if t.hasNegative {
            let neg = _mm256_cmpgt_epi32(_mm256_setzero_si256(), x)
            lanes.mantissa = _mm256_blendv_epi8(q.mantissa, n.mantissa, neg)
            lanes.leftShift = _mm256_blendv_epi8(q.leftShift, n.leftShift, neg)
            lanes.rightShift = _mm256_blendv_epi8(q.rightShift, n.rightShift, neg)
        }
        let r: __m256i
        if t.hasNegative {
            r = requantizeAVX2(x, lanes, leftShifts: t.hasLeftShift)
        } else {
            let v = t.hasLeftShift ? saturatingShiftLeftAVX2(x, q.leftShift) : x
            let high = highDwordsOfDoubledProducts(_mm256_mul_epi32(v, q.mantissa), _mm256_mul_epi32(oddLanesDown8(v), mantissaOdd))
            let threshold = _mm256_sub_epi32(halfMask, _mm256_srai_epi32(high, 31))
            r = _mm256_sub_epi32(_mm256_srav_epi32(high, q.rightShift), _mm256_cmpgt_epi32(_mm256_and_si256(high, roundMask), threshold))
        }
        return clamped(r)
    }

    /// requantizeBoundedAVX2 with this block's lanes; the negative side's where x < 0 (its h
    /// added after the high multiply, as the 64-bit nudges cannot follow a 32-bit lane mask).
    @inline(__always) func appliedBounded(_ x: __m256i) -> __m256i {
        guard t.hasNegative else {
            return requantizeBoundedAVX2(x, mantissa: q.mantissa, mantissaOdd: mantissaOdd, nudgeEven: nudgeEven, nudgeOdd: nudgeOdd,
                                         half: nil, signShift: signShift, right: q.rightShift)
        }
        let neg = _mm256_cmpgt_epi32(_mm256_setzero_si256(), x)
        let m = _mm256_blendv_epi8(q.mantissa, n.mantissa, neg), nudge = _mm256_set1_epi64x(1 << 31)
        return requantizeBoundedAVX2(x, mantissa: m, mantissaOdd: oddLanesDown8(m), nudgeEven: nudge, nudgeOdd: nudge,
                                     half: _mm256_blendv_epi8(half, negHalf, neg), signShift: _mm256_blendv_epi8(signShift, negSignShift, neg),
                                     right: _mm256_blendv_epi8(q.rightShift, n.rightShift, neg))
    }

    /// + offset, then the clamp (its upper bound only where the store does not saturate to it).
    @inline(__always) func clamped(_ r: __m256i) -> __m256i {
        let low = _mm256_max_epi32(addsOffset ? _mm256_add_epi32(r, offset) : r, lo)
        return clampsHigh ? _mm256_min_epi32(low, hi) : low
    }
}

#endif

#if arch(x86_64)
/// A whole register tile's epilogue in one call: `pixels` × `blocks` blocks of 8 int32 sums
/// (`acc` as [pixel][block·8 + lane]) requantized with channels `channel ..< channel + 8·blocks`
/// of `t` and stored at `out` (pixel p at `out + p·pixelBytes`), only the first
/// `validChannels` channels (a group's last block may be partial).
public func requantizeTileAVX2(_ acc: UnsafePointer<Int32>, pixels: Int, blocks: Int, _ t: RequantTables, channel: Int,
                               validChannels: Int, out: UnsafeMutableRawPointer, pixelBytes: Int, type: StorageType) {
    let eb = type.byteWidth
    // Block by block, its lanes loaded once for all the tile's pixels.
    for m in 0..<blocks {
        let count = min(8, validChannels - m * 8)
        if count <= 0 { break }
        let lanes = EpilogueLanes8(t, channel: channel + m * 8, saturatingStore: type)
        for p in 0..<pixels {
            let x = _mm256_loadu_si256(UnsafeRawPointer(acc + (p * blocks + m) * 8).assumingMemoryBound(to: __m256i.self))
            storeLanesAVX2(lanes.apply(x), out + p * pixelBytes + m * 8 * eb, count: count, type: type)
        }
    }
}
#endif
