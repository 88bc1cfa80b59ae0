#if arch(x86_64)
import _Builtin_intrinsics.intel
import SRVMKernelsCommon

// convDotPairAVX512's sums (same arguments, same results) with vpmaddwd on 16 channels at a
// time; see there for why convs with very few outputs sum along the input channels.

public func convDotPairAVX2(pointers: UnsafePointer<UnsafeRawPointer>, pixels: Int, taps: Int, outputs: Int, vector: Int,
                            weights: UnsafePointer<Int16>, acc: UnsafeMutablePointer<Int32>) {
    let zero = _mm256_setzero_si256()
    var s00 = zero, s01 = zero, s02 = zero, s03 = zero
    var s10 = zero, s11 = zero, s12 = zero, s13 = zero
    let two = pixels > 1
    let o1 = outputs > 1, o2 = outputs > 2, o3 = outputs > 3
    let perOutput = taps * vector
    for t in 0..<taps {
        let x0 = pointers[t], x1 = pointers[(two ? taps : 0) + t]
        let w = UnsafeRawPointer(weights + t * vector)
        var c = 0
        while c < vector {
            let a0 = _mm256_loadu_si256((x0 + 2 * c).assumingMemoryBound(to: __m256i.self))
            let a1 = _mm256_loadu_si256((x1 + 2 * c).assumingMemoryBound(to: __m256i.self))
            @inline(__always) func weight(_ o: Int) -> __m256i {
                _mm256_loadu_si256((w + 2 * (o * perOutput + c)).assumingMemoryBound(to: __m256i.self))
            }
            let w0 = weight(0)
            s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(a0, w0)); s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(a1, w0))
            if o1 { let w1 = weight(1); s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(a0, w1)); s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(a1, w1)) }
            if o2 { let w2 = weight(2); s02 = _mm256_add_epi32(s02, _mm256_madd_epi16(a0, w2)); s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(a1, w2)) }
            if o3 { let w3 = weight(3); s03 = _mm256_add_epi32(s03, _mm256_madd_epi16(a0, w3)); s13 = _mm256_add_epi32(s13, _mm256_madd_epi16(a1, w3)) }
            c += 16
        }
    }
    storeLaneTotals256(s00, s01, s02, s03, acc)
    if two { storeLaneTotals256(s10, s11, s12, s13, acc + 8) }
}

/// The lane totals of four accumulators into out[0...3].
@inline(__always) func storeLaneTotals256(_ a: __m256i, _ b: __m256i, _ c: __m256i, _ d: __m256i, _ out: UnsafeMutablePointer<Int32>) {
    let h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d))
    let high = _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(4, 5, 6, 7, 4, 5, 6, 7))
    _mm_storeu_si128(UnsafeMutableRawPointer(out).assumingMemoryBound(to: __m128i.self), _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_castsi256_si128(high)))
}
#endif
