#if arch(x86_64)
import _Builtin_intrinsics.intel
import FloatKernelsCommon

// 8 channels x 3 vectors = 24 zmm accumulators + 3 input vectors: 27 of the 32 registers,
// and 24 FMAs per 3 loads + 8 embedded broadcasts keeps the FMA pipes the bottleneck.
public let conv2DShapeAVX512 = ConvKernelShape(outputBlock: 8, lanes: 16, maxVectors: 3)

/// Runs one tile with the kernel whose vector count fits `tile.width` (≤ 48 pixels).
public func conv2DTileAVX512(_ tile: ConvTile) {
    if tile.width == 48 { conv2DTileAVX512_OC8xV3Full(tile); return }
    switch (tile.width + 15) / 16 {
    case 3: conv2DTileAVX512_OC8xV3(tile)
    case 2: conv2DTileAVX512_OC8xV2(tile)
    default: conv2DTileAVX512_OC8xV1(tile)
    }
}

struct AVX512Activation {
    let enabled: Bool
    let alpha: __m512, lo: __m512, hi: __m512
    @inline(__always) init(_ tile: ConvTile) {
        enabled = tile.activation.enabled
        alpha = _mm512_set1_ps(tile.activation.alpha)
        lo = _mm512_set1_ps(tile.activation.lo)
        hi = _mm512_set1_ps(tile.activation.hi)
    }
    @inline(__always) func apply(_ a: __m512) -> __m512 {
        guard enabled else { return a }
        let zero = _mm512_setzero_ps()
        let v = _mm512_fmadd_ps(alpha, _mm512_min_ps(a, zero), _mm512_max_ps(a, zero))
        return _mm512_min_ps(_mm512_max_ps(v, lo), hi)
    }
}

#endif
