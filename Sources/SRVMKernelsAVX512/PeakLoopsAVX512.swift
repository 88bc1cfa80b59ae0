#if arch(x86_64)
import _Builtin_intrinsics.intel

/// `iterations` × 12 vpdpbusd zmm (64 exact u8 × s8 MACs each), register-only: the AVX-512
/// VNNI tiles' peak for `srvm microbench`.
@inline(never) public func peakDotAVX512(iterations: Int, seed: Int32) -> Int32 {
    let x = _mm512_set1_epi32(seed), w = _mm512_set1_epi32(seed &+ 1)
    var c0 = x, c1 = w, c2 = x, c3 = w, c4 = x, c5 = w, c6 = x, c7 = w, c8 = x, c9 = w, c10 = x, c11 = w
    @inline(__always) func f(_ c: __m512i) -> __m512i { _mm512_dpbusd_epi32(c, x, w) }
    for _ in 0..<iterations {
        c0 = f(c0); c1 = f(c1); c2 = f(c2); c3 = f(c3); c4 = f(c4); c5 = f(c5)
        c6 = f(c6); c7 = f(c7); c8 = f(c8); c9 = f(c9); c10 = f(c10); c11 = f(c11)
    }
    let s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                             _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)),
                                              _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11))))
    return _mm512_cvtsi512_si32(s)
}
#endif
