#if arch(x86_64)
import _Builtin_intrinsics.intel
import SRVMKernelsCommon

// Convs with very few outputs (an RGB tail: 64 -> 3) on s16 pairs: the register tiles would
// fill 3 of 8 lanes, so these sum along the input channels instead. Lanes hold channels, one
// accumulator per (pixel, output); vpdpwssd adds each lane's pair of products; the lanes are
// added at the end. Products are exact (|x|, |w| ≤ 32767: a pair sum < 2^31), sums wrap in
// int32 like every other conv sum.

/// The int32 sums of `pixels` (1 or 2) pixels × `outputs` (1...4) outputs into `acc`
/// ([pixel][8]: lane o = output o; bias not included). `pointers`: [pixel][tap], each to the
/// pixel's s16 channels (or the pad pixel); `weights`: [output][tap][vector] s16, zero past
/// the real channels; `vector`: channels read per tap, a multiple of 16 (reads past a pixel's
/// channels meet zero weights).
public func convDotPairAVX512(pointers: UnsafePointer<UnsafeRawPointer>, pixels: Int, taps: Int, outputs: Int, vector: Int,
                              weights: UnsafePointer<Int16>, acc: UnsafeMutablePointer<Int32>) {
    let zero = _mm512_setzero_si512()
    var s00 = zero, s01 = zero, s02 = zero, s03 = zero   // pixel 0, outputs 0...3
    var s10 = zero, s11 = zero, s12 = zero, s13 = zero   // pixel 1
    let two = pixels > 1
    let o1 = outputs > 1, o2 = outputs > 2, o3 = outputs > 3
    let perOutput = taps * vector
    for t in 0..<taps {
        let x0 = pointers[t], x1 = pointers[(two ? taps : 0) + t]
        let w = UnsafeRawPointer(weights + t * vector)
        var c = 0
        while c < vector {
            // 32 channels per zmm; a last 16 as the low half (the high half's weights are the next tap's: zeroed).
            let full = c + 32 <= vector
            let a0 = full ? _mm512_loadu_si512(x0 + 2 * c) : _mm512_castsi256_si512(_mm256_loadu_si256((x0 + 2 * c).assumingMemoryBound(to: __m256i.self)))
            let a1 = full ? _mm512_loadu_si512(x1 + 2 * c) : _mm512_castsi256_si512(_mm256_loadu_si256((x1 + 2 * c).assumingMemoryBound(to: __m256i.self)))
            @inline(__always) func weight(_ o: Int) -> __m512i {
                let p = w + 2 * (o * perOutput + c)
                return full ? _mm512_loadu_si512(p) : _mm512_zextsi256_si512(_mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self)))
            }
            let w0 = weight(0)
            s00 = _mm512_dpwssd_epi32(s00, a0, w0); s10 = _mm512_dpwssd_epi32(s10, a1, w0)
            if o1 { let w1 = weight(1); s01 = _mm512_dpwssd_epi32(s01, a0, w1); s11 = _mm512_dpwssd_epi32(s11, a1, w1) }
            if o2 { let w2 = weight(2); s02 = _mm512_dpwssd_epi32(s02, a0, w2); s12 = _mm512_dpwssd_epi32(s12, a1, w2) }
            if o3 { let w3 = weight(3); s03 = _mm512_dpwssd_epi32(s03, a0, w3); s13 = _mm512_dpwssd_epi32(s13, a1, w3) }
            c += 32
        }
    }
    storeLaneTotals512(s00, s01, s02, s03, acc)
    if two { storeLaneTotals512(s10, s11, s12, s13, acc + 8) }
}

/// The lane totals of four accumulators into out[0...3].
@inline(__always) func storeLaneTotals512(_ a: __m512i, _ b: __m512i, _ c: __m512i, _ d: __m512i, _ out: UnsafeMutablePointer<Int32>) {
    let upper = _mm512_set_epi64(7, 6, 5, 4, 7, 6, 5, 4)
    @inline(__always) func fold(_ v: __m512i) -> __m256i { _mm512_castsi512_si256(_mm512_add_epi32(v, _mm512_permutexvar_epi64(upper, v))) }
    let h = _mm256_hadd_epi32(_mm256_hadd_epi32(fold(a), fold(b)), _mm256_hadd_epi32(fold(c), fold(d)))
    let high = _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(4, 5, 6, 7, 4, 5, 6, 7))
    _mm_storeu_si128(UnsafeMutableRawPointer(out).assumingMemoryBound(to: __m128i.self), _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_castsi256_si128(high)))
}
#endif
