#if arch(x86_64)
import _Builtin_intrinsics.intel
import FloatKernelsCommon

// 6 x 2 = 12 ymm accumulators + 2 inputs + 1 broadcast weight: 15 of 16 registers.
public let conv2DShapeAVX2 = ConvKernelShape(outputBlock: 6, lanes: 8, maxVectors: 2)


/// Runs one tile with the kernel whose vector count fits `tile.width` (≤ 16 pixels).
public func conv2DTileAVX2(_ tile: ConvTile) {
    if tile.width == 16 { conv2DTileAVX2_OC6xV2Full(tile) }
    else if tile.width > 8 { conv2DTileAVX2_OC6xV2(tile) } else { conv2DTileAVX2_OC6xV1(tile) }
}

struct AVX2Activation {
    let enabled: Bool
    let alpha: __m256, lo: __m256, hi: __m256
    @inline(__always) init(_ tile: ConvTile) {
        enabled = tile.activation.enabled
        alpha = _mm256_set1_ps(tile.activation.alpha)
        lo = _mm256_set1_ps(tile.activation.lo)
        hi = _mm256_set1_ps(tile.activation.hi)
    }
    @inline(__always) func apply(_ a: __m256) -> __m256 {
        guard enabled else { return a }
        let zero = _mm256_setzero_ps()
        let v = _mm256_fmadd_ps(alpha, _mm256_min_ps(a, zero), _mm256_max_ps(a, zero))
        return _mm256_min_ps(_mm256_max_ps(v, lo), hi)
    }
}

/// Lanes 0..<count set (count in 1...8), the mask form AVX2's maskload/maskstore take.
@inline(__always) func avx2LaneMask(_ count: Int) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(Int32(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}
#endif
