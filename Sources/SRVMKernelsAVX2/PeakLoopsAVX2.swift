#if arch(x86_64)
import _Builtin_intrinsics.intel

// Register-only loops of the conv tiles' inner instruction sequences, with 12 independent
// accumulators and no loads, for `srvm microbench`: their rate is the CPU's peak for that
// sequence (what the tiles could reach if memory were free). Each accumulator also feeds its
// own multiply (a chain of ≤ 7 cycles over 12 accumulators, so throughput still bounds it),
// which keeps the compiler from hoisting a loop-invariant product; each returns a lane so the
// work cannot be removed.

/// `iterations` × 12 × (vpmaddwd + vpaddd): 16 exact s16 × s16 MACs each.
@inline(never) public func peakPairAVX2(iterations: Int, seed: Int32) -> Int32 {
    let x = _mm256_set1_epi32(seed), w = _mm256_set1_epi32(seed &+ 1)
    var c0 = x, c1 = w, c2 = x, c3 = w, c4 = x, c5 = w, c6 = x, c7 = w, c8 = x, c9 = w, c10 = x, c11 = w
    for _ in 0..<iterations {
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(c0, w)); c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(c1, w))
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(c2, w)); c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(c3, w))
        c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(c4, w)); c5 = _mm256_add_epi32(c5, _mm256_madd_epi16(c5, w))
        c6 = _mm256_add_epi32(c6, _mm256_madd_epi16(c6, w)); c7 = _mm256_add_epi32(c7, _mm256_madd_epi16(c7, w))
        c8 = _mm256_add_epi32(c8, _mm256_madd_epi16(c8, w)); c9 = _mm256_add_epi32(c9, _mm256_madd_epi16(c9, w))
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(c10, w)); c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(c11, w))
    }
    let s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                             _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)),
                                              _mm256_add_epi32(_mm256_add_epi32(c8, c9), _mm256_add_epi32(c10, c11))))
    return _mm256_cvtsi256_si32(s)
}

/// `iterations` × 12 × (vpmaddubsw + vpmaddwd by ones + vpaddd): 32 exact u8 × s8 MACs each
/// (the 8-bit quad with K = 1).
@inline(never) public func peakQuad1AVX2(iterations: Int, seed: Int32) -> Int32 {
    let x = _mm256_set1_epi32(seed), w = _mm256_set1_epi32(seed &+ 1), ones = _mm256_set1_epi16(1)
    var c0 = x, c1 = w, c2 = x, c3 = w, c4 = x, c5 = w, c6 = x, c7 = w, c8 = x, c9 = w, c10 = x, c11 = w
    @inline(__always) func f(_ c: __m256i) -> __m256i { _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(c, w), ones)) }
    for _ in 0..<iterations {
        c0 = f(c0); c1 = f(c1); c2 = f(c2); c3 = f(c3); c4 = f(c4); c5 = f(c5)
        c6 = f(c6); c7 = f(c7); c8 = f(c8); c9 = f(c9); c10 = f(c10); c11 = f(c11)
    }
    let s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                             _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)),
                                              _mm256_add_epi32(_mm256_add_epi32(c8, c9), _mm256_add_epi32(c10, c11))))
    return _mm256_cvtsi256_si32(s)
}

/// `iterations` × 12 × (vpmaddubsw + vpaddw): 32 u8 × s8 MACs into s16 each (exact for 4-bit operands).
@inline(never) public func peakQuadS16AVX2(iterations: Int, seed: Int32) -> Int32 {
    let x = _mm256_set1_epi32(seed), w = _mm256_set1_epi32(seed &+ 1)
    var c0 = x, c1 = w, c2 = x, c3 = w, c4 = x, c5 = w, c6 = x, c7 = w, c8 = x, c9 = w, c10 = x, c11 = w
    @inline(__always) func f(_ c: __m256i) -> __m256i { _mm256_add_epi16(c, _mm256_maddubs_epi16(c, w)) }
    for _ in 0..<iterations {
        c0 = f(c0); c1 = f(c1); c2 = f(c2); c3 = f(c3); c4 = f(c4); c5 = f(c5)
        c6 = f(c6); c7 = f(c7); c8 = f(c8); c9 = f(c9); c10 = f(c10); c11 = f(c11)
    }
    let s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(c0, c1), _mm256_add_epi16(c2, c3)),
                             _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(c4, c5), _mm256_add_epi16(c6, c7)),
                                              _mm256_add_epi16(_mm256_add_epi16(c8, c9), _mm256_add_epi16(c10, c11))))
    return _mm256_cvtsi256_si32(s)
}
#endif
