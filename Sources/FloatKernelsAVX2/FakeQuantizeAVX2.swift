#if arch(x86_64)
import _Builtin_intrinsics.intel

/// dst[i] = round(clamp(src[i], lo, alpha) / s) · s, 8 lanes at a time, bit for bit the scalar
/// `FakeQuant.apply` (SRGraph): the same IEEE division and product, and its rounding (half away
/// from zero) rebuilt exactly: t = trunc|q| (the same truncating conversion below 2^23;
/// from 2^23 up q is already an integer and is kept), |q| − t is exact, t + 1 is exact, and the sign
/// is q's. max/min take their operands in the order that gives Swift.max/min's result for
/// every non-NaN input (equal operands, ±0 included); a NaN input passes through unchanged.
/// Returns how many leading elements it did (a multiple of 8); the caller does the rest.
@discardableResult
public func fakeQuantizeAVX2(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int,
                             lo: Float, alpha: Float, scale s: Float) -> Int {
    let vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(alpha), vs = _mm256_set1_ps(s)
    let one = _mm256_set1_ps(1), signBit = _mm256_set1_ps(-0.0)
    // Comparisons on the bit patterns of non-negative floats, which order like the floats
    // (vcmpps takes an immediate, which Swift cannot pass through the intrinsics).
    let two23 = _mm256_set1_epi32(0x4B00_0000)            // 2^23
    let belowHalf = _mm256_set1_epi32(0x3EFF_FFFF)        // the float just below 0.5
    let infinity = _mm256_set1_epi32(0x7F80_0000)
    var i = 0
    while i + 8 <= count {
        let x = _mm256_loadu_ps(src + i)
        // Swift.max(x, lo) = lo >= x ? lo : x, which is vmaxps(x, lo) for non-NaN x;
        // Swift.min(m, alpha) = alpha < m ? alpha : m, which is vminps(alpha, m).
        let m = _mm256_min_ps(vhi, _mm256_max_ps(x, vlo))
        let q = _mm256_div_ps(m, vs)
        let a = _mm256_andnot_ps(signBit, q)
        let small = _mm256_cmpgt_epi32(two23, _mm256_castps_si256(a))        // |q| < 2^23
        let t = _mm256_cvtepi32_ps(_mm256_cvttps_epi32(a))                   // trunc|q| where small
        let f = _mm256_castps_si256(_mm256_sub_ps(a, t))                     // ≥ 0, exact
        let up = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(f, belowHalf)), one)
        let magnitude = _mm256_blendv_ps(a, _mm256_add_ps(t, up), _mm256_castsi256_ps(small))
        let y = _mm256_mul_ps(_mm256_or_ps(magnitude, _mm256_and_ps(q, signBit)), vs)
        let nan = _mm256_cmpgt_epi32(_mm256_castps_si256(_mm256_andnot_ps(signBit, x)), infinity)
        _mm256_storeu_ps(dst + i, _mm256_blendv_ps(y, x, _mm256_castsi256_ps(nan)))
        i += 8
    }
    return i
}
#endif
