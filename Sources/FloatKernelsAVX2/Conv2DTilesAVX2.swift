// Unrolled register tiles (accumulators must be named variables to stay in registers);
// mechanically expanded from one template, so every shape has the same structure.
#if arch(x86_64)
import _Builtin_intrinsics.intel
import FloatKernelsCommon

/// 6 output channels x 1 vectors of 8 pixels; the last vector is masked to `tile.width`.
public func conv2DTileAVX2_OC6xV1(_ tile: ConvTile) {
    let mask = avx2LaneMask(tile.width - 0)
    var a0_0 = _mm256_set1_ps(tile.bias[0])
    var a1_0 = _mm256_set1_ps(tile.bias[1])
    var a2_0 = _mm256_set1_ps(tile.bias[2])
    var a3_0 = _mm256_set1_ps(tile.bias[3])
    var a4_0 = _mm256_set1_ps(tile.bias[4])
    var a5_0 = _mm256_set1_ps(tile.bias[5])
    var wp = tile.weights
    var channel = tile.input
    for _ in 0..<tile.inputChannels {
        var row = channel
        for _ in 0..<tile.kernelHeight {
            var xp = row
            for _ in 0..<tile.kernelWidth {
                let x0 = _mm256_maskload_ps(xp + 0, mask)
                let w0 = _mm256_set1_ps(wp[0])
                a0_0 = _mm256_fmadd_ps(x0, w0, a0_0)
                let w1 = _mm256_set1_ps(wp[1])
                a1_0 = _mm256_fmadd_ps(x0, w1, a1_0)
                let w2 = _mm256_set1_ps(wp[2])
                a2_0 = _mm256_fmadd_ps(x0, w2, a2_0)
                let w3 = _mm256_set1_ps(wp[3])
                a3_0 = _mm256_fmadd_ps(x0, w3, a3_0)
                let w4 = _mm256_set1_ps(wp[4])
                a4_0 = _mm256_fmadd_ps(x0, w4, a4_0)
                let w5 = _mm256_set1_ps(wp[5])
                a5_0 = _mm256_fmadd_ps(x0, w5, a5_0)
                wp += 6
                xp += tile.kernelStepX
            }
            row += tile.rowStride
        }
        channel += tile.channelStride
    }
    let act = AVX2Activation(tile)
    if tile.outputChannels > 0 {
        let out = tile.output + 0 * tile.outputChannelStride
        _mm256_maskstore_ps(out + 0, mask, act.apply(a0_0))
    }
    if tile.outputChannels > 1 {
        let out = tile.output + 1 * tile.outputChannelStride
        _mm256_maskstore_ps(out + 0, mask, act.apply(a1_0))
    }
    if tile.outputChannels > 2 {
        let out = tile.output + 2 * tile.outputChannelStride
        _mm256_maskstore_ps(out + 0, mask, act.apply(a2_0))
    }
    if tile.outputChannels > 3 {
        let out = tile.output + 3 * tile.outputChannelStride
        _mm256_maskstore_ps(out + 0, mask, act.apply(a3_0))
    }
    if tile.outputChannels > 4 {
        let out = tile.output + 4 * tile.outputChannelStride
        _mm256_maskstore_ps(out + 0, mask, act.apply(a4_0))
    }
    if tile.outputChannels > 5 {
        let out = tile.output + 5 * tile.outputChannelStride
        _mm256_maskstore_ps(out + 0, mask, act.apply(a5_0))
    }
}

/// 6 output channels x 2 vectors of 8 pixels; the last vector is masked to `tile.width`.
public func conv2DTileAVX2_OC6xV2(_ tile: ConvTile) {
    let mask = avx2LaneMask(tile.width - 8)
    var a0_0 = _mm256_set1_ps(tile.bias[0])
    var a0_1 = _mm256_set1_ps(tile.bias[0])
    var a1_0 = _mm256_set1_ps(tile.bias[1])
    var a1_1 = _mm256_set1_ps(tile.bias[1])
    var a2_0 = _mm256_set1_ps(tile.bias[2])
    var a2_1 = _mm256_set1_ps(tile.bias[2])
    var a3_0 = _mm256_set1_ps(tile.bias[3])
    var a3_1 = _mm256_set1_ps(tile.bias[3])
    var a4_0 = _mm256_set1_ps(tile.bias[4])
    var a4_1 = _mm256_set1_ps(tile.bias[4])
    var a5_0 = _mm256_set1_ps(tile.bias[5])
    var a5_1 = _mm256_set1_ps(tile.bias[5])
    var wp = tile.weights
    var channel = tile.input
    for _ in 0..<tile.inputChannels {
        var row = channel
        for _ in 0..<tile.kernelHeight {
            var xp = row
            for _ in 0..<tile.kernelWidth {
                let x0 = _mm256_loadu_ps(xp + 0)
                let x1 = _mm256_maskload_ps(xp + 8, mask)
                let w0 = _mm256_set1_ps(wp[0])
                a0_0 = _mm256_fmadd_ps(x0, w0, a0_0)
                a0_1 = _mm256_fmadd_ps(x1, w0, a0_1)
                let w1 = _mm256_set1_ps(wp[1])
                a1_0 = _mm256_fmadd_ps(x0, w1, a1_0)
                a1_1 = _mm256_fmadd_ps(x1, w1, a1_1)
                let w2 = _mm256_set1_ps(wp[2])
                a2_0 = _mm256_fmadd_ps(x0, w2, a2_0)
                a2_1 = _mm256_fmadd_ps(x1, w2, a2_1)
                let w3 = _mm256_set1_ps(wp[3])
                a3_0 = _mm256_fmadd_ps(x0, w3, a3_0)
                a3_1 = _mm256_fmadd_ps(x1, w3, a3_1)
                let w4 = _mm256_set1_ps(wp[4])
                a4_0 = _mm256_fmadd_ps(x0, w4, a4_0)
                a4_1 = _mm256_fmadd_ps(x1, w4, a4_1)
                let w5 = _mm256_set1_ps(wp[5])
                a5_0 = _mm256_fmadd_ps(x0, w5, a5_0)
                a5_1 = _mm256_fmadd_ps(x1, w5, a5_1)
                wp += 6
                xp += tile.kernelStepX
            }
            row += tile.rowStride
        }
        channel += tile.channelStride
    }
    let act = AVX2Activation(tile)
    if tile.outputChannels > 0 {
        let out = tile.output + 0 * tile.outputChannelStride
        _mm256_storeu_ps(out + 0, act.apply(a0_0))
        _mm256_maskstore_ps(out + 8, mask, act.apply(a0_1))
    }
    if tile.outputChannels > 1 {
        let out = tile.output + 1 * tile.outputChannelStride
        _mm256_storeu_ps(out + 0, act.apply(a1_0))
        _mm256_maskstore_ps(out + 8, mask, act.apply(a1_1))
    }
    if tile.outputChannels > 2 {
        let out = tile.output + 2 * tile.outputChannelStride
        _mm256_storeu_ps(out + 0, act.apply(a2_0))
        _mm256_maskstore_ps(out + 8, mask, act.apply(a2_1))
    }
    if tile.outputChannels > 3 {
        let out = tile.output + 3 * tile.outputChannelStride
        _mm256_storeu_ps(out + 0, act.apply(a3_0))
        _mm256_maskstore_ps(out + 8, mask, act.apply(a3_1))
    }
    if tile.outputChannels > 4 {
        let out = tile.output + 4 * tile.outputChannelStride
        _mm256_storeu_ps(out + 0, act.apply(a4_0))
        _mm256_maskstore_ps(out + 8, mask, act.apply(a4_1))
    }
    if tile.outputChannels > 5 {
        let out = tile.output + 5 * tile.outputChannelStride
        _mm256_storeu_ps(out + 0, act.apply(a5_0))
        _mm256_maskstore_ps(out + 8, mask, act.apply(a5_1))
    }
}
#endif
