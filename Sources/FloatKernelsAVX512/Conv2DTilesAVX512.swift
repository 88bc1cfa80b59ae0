// Unrolled register tiles (accumulators must be named variables to stay in registers);
// mechanically expanded from one template, so every shape has the same structure.
#if arch(x86_64)
import _Builtin_intrinsics.intel
import FloatKernelsCommon

/// 8 output channels x 1 vectors of 16 pixels; the last vector is masked to `tile.width`.
public func conv2DTileAVX512_OC8xV1(_ tile: ConvTile) {
    let mask = __mmask16(truncatingIfNeeded: (1 << (tile.width - 0)) - 1)
    var a0_0 = _mm512_set1_ps(tile.bias[0])
    var a1_0 = _mm512_set1_ps(tile.bias[1])
    var a2_0 = _mm512_set1_ps(tile.bias[2])
    var a3_0 = _mm512_set1_ps(tile.bias[3])
    var a4_0 = _mm512_set1_ps(tile.bias[4])
    var a5_0 = _mm512_set1_ps(tile.bias[5])
    var a6_0 = _mm512_set1_ps(tile.bias[6])
    var a7_0 = _mm512_set1_ps(tile.bias[7])
    var wp = tile.weights
    var channel = tile.input
    for _ in 0..<tile.inputChannels {
        var row = channel
        for _ in 0..<tile.kernelHeight {
            var xp = row
            for _ in 0..<tile.kernelWidth {
                let x0 = _mm512_maskz_loadu_ps(mask, xp + 0)
                let w0 = _mm512_set1_ps(wp[0])
                a0_0 = _mm512_fmadd_ps(x0, w0, a0_0)
                let w1 = _mm512_set1_ps(wp[1])
                a1_0 = _mm512_fmadd_ps(x0, w1, a1_0)
                let w2 = _mm512_set1_ps(wp[2])
                a2_0 = _mm512_fmadd_ps(x0, w2, a2_0)
                let w3 = _mm512_set1_ps(wp[3])
                a3_0 = _mm512_fmadd_ps(x0, w3, a3_0)
                let w4 = _mm512_set1_ps(wp[4])
                a4_0 = _mm512_fmadd_ps(x0, w4, a4_0)
                let w5 = _mm512_set1_ps(wp[5])
                a5_0 = _mm512_fmadd_ps(x0, w5, a5_0)
                let w6 = _mm512_set1_ps(wp[6])
                a6_0 = _mm512_fmadd_ps(x0, w6, a6_0)
                let w7 = _mm512_set1_ps(wp[7])
                a7_0 = _mm512_fmadd_ps(x0, w7, a7_0)
                wp += 8
                xp += tile.kernelStepX
            }
            row += tile.rowStride
        }
        channel += tile.channelStride
    }
    let act = AVX512Activation(tile)
    if tile.outputChannels > 0 {
        let out = tile.output + 0 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a0_0))
    }
    if tile.outputChannels > 1 {
        let out = tile.output + 1 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a1_0))
    }
    if tile.outputChannels > 2 {
        let out = tile.output + 2 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a2_0))
    }
    if tile.outputChannels > 3 {
        let out = tile.output + 3 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a3_0))
    }
    if tile.outputChannels > 4 {
        let out = tile.output + 4 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a4_0))
    }
    if tile.outputChannels > 5 {
        let out = tile.output + 5 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a5_0))
    }
    if tile.outputChannels > 6 {
        let out = tile.output + 6 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a6_0))
    }
    if tile.outputChannels > 7 {
        let out = tile.output + 7 * tile.outputChannelStride
        _mm512_mask_storeu_ps(out + 0, mask, act.apply(a7_0))
    }
}

/// 8 output channels x 2 vectors of 16 pixels; the last vector is masked to `tile.width`.
public func conv2DTileAVX512_OC8xV2(_ tile: ConvTile) {
    let mask = __mmask16(truncatingIfNeeded: (1 << (tile.width - 16)) - 1)
    var a0_0 = _mm512_set1_ps(tile.bias[0])
    var a0_1 = _mm512_set1_ps(tile.bias[0])
    var a1_0 = _mm512_set1_ps(tile.bias[1])
    var a1_1 = _mm512_set1_ps(tile.bias[1])
    var a2_0 = _mm512_set1_ps(tile.bias[2])
    var a2_1 = _mm512_set1_ps(tile.bias[2])
    var a3_0 = _mm512_set1_ps(tile.bias[3])
    var a3_1 = _mm512_set1_ps(tile.bias[3])
    var a4_0 = _mm512_set1_ps(tile.bias[4])
    var a4_1 = _mm512_set1_ps(tile.bias[4])
    var a5_0 = _mm512_set1_ps(tile.bias[5])
    var a5_1 = _mm512_set1_ps(tile.bias[5])
    var a6_0 = _mm512_set1_ps(tile.bias[6])
    var a6_1 = _mm512_set1_ps(tile.bias[6])
    var a7_0 = _mm512_set1_ps(tile.bias[7])
    var a7_1 = _mm512_set1_ps(tile.bias[7])
    var wp = tile.weights
    var channel = tile.input
    for _ in 0..<tile.inputChannels {
        var row = channel
        for _ in 0..<tile.kernelHeight {
            var xp = row
            for _ in 0..<tile.kernelWidth {
                let x0 = _mm512_loadu_ps(xp + 0)
                let x1 = _mm512_maskz_loadu_ps(mask, xp + 16)
                let w0 = _mm512_set1_ps(wp[0])
                a0_0 = _mm512_fmadd_ps(x0, w0, a0_0)
                a0_1 = _mm512_fmadd_ps(x1, w0, a0_1)
                let w1 = _mm512_set1_ps(wp[1])
                a1_0 = _mm512_fmadd_ps(x0, w1, a1_0)
                a1_1 = _mm512_fmadd_ps(x1, w1, a1_1)
                let w2 = _mm512_set1_ps(wp[2])
                a2_0 = _mm512_fmadd_ps(x0, w2, a2_0)
                a2_1 = _mm512_fmadd_ps(x1, w2, a2_1)
                let w3 = _mm512_set1_ps(wp[3])
                a3_0 = _mm512_fmadd_ps(x0, w3, a3_0)
                a3_1 = _mm512_fmadd_ps(x1, w3, a3_1)
                let w4 = _mm512_set1_ps(wp[4])
                a4_0 = _mm512_fmadd_ps(x0, w4, a4_0)
                a4_1 = _mm512_fmadd_ps(x1, w4, a4_1)
                let w5 = _mm512_set1_ps(wp[5])
                a5_0 = _mm512_fmadd_ps(x0, w5, a5_0)
                a5_1 = _mm512_fmadd_ps(x1, w5, a5_1)
                let w6 = _mm512_set1_ps(wp[6])
                a6_0 = _mm512_fmadd_ps(x0, w6, a6_0)
                a6_1 = _mm512_fmadd_ps(x1, w6, a6_1)
                let w7 = _mm512_set1_ps(wp[7])
                a7_0 = _mm512_fmadd_ps(x0, w7, a7_0)
                a7_1 = _mm512_fmadd_ps(x1, w7, a7_1)
                wp += 8
                xp += tile.kernelStepX
            }
            row += tile.rowStride
        }
        channel += tile.channelStride
    }
    let act = AVX512Activation(tile)
    if tile.outputChannels > 0 {
        let out = tile.output + 0 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a0_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a0_1))
    }
    if tile.outputChannels > 1 {
        let out = tile.output + 1 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a1_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a1_1))
    }
    if tile.outputChannels > 2 {
        let out = tile.output + 2 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a2_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a2_1))
    }
    if tile.outputChannels > 3 {
        let out = tile.output + 3 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a3_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a3_1))
    }
    if tile.outputChannels > 4 {
        let out = tile.output + 4 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a4_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a4_1))
    }
    if tile.outputChannels > 5 {
        let out = tile.output + 5 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a5_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a5_1))
    }
    if tile.outputChannels > 6 {
        let out = tile.output + 6 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a6_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a6_1))
    }
    if tile.outputChannels > 7 {
        let out = tile.output + 7 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a7_0))
        _mm512_mask_storeu_ps(out + 16, mask, act.apply(a7_1))
    }
}

/// 8 output channels x 3 vectors of 16 pixels; the last vector is masked to `tile.width`.
public func conv2DTileAVX512_OC8xV3(_ tile: ConvTile) {
    let mask = __mmask16(truncatingIfNeeded: (1 << (tile.width - 32)) - 1)
    var a0_0 = _mm512_set1_ps(tile.bias[0])
    var a0_1 = _mm512_set1_ps(tile.bias[0])
    var a0_2 = _mm512_set1_ps(tile.bias[0])
    var a1_0 = _mm512_set1_ps(tile.bias[1])
    var a1_1 = _mm512_set1_ps(tile.bias[1])
    var a1_2 = _mm512_set1_ps(tile.bias[1])
    var a2_0 = _mm512_set1_ps(tile.bias[2])
    var a2_1 = _mm512_set1_ps(tile.bias[2])
    var a2_2 = _mm512_set1_ps(tile.bias[2])
    var a3_0 = _mm512_set1_ps(tile.bias[3])
    var a3_1 = _mm512_set1_ps(tile.bias[3])
    var a3_2 = _mm512_set1_ps(tile.bias[3])
    var a4_0 = _mm512_set1_ps(tile.bias[4])
    var a4_1 = _mm512_set1_ps(tile.bias[4])
    var a4_2 = _mm512_set1_ps(tile.bias[4])
    var a5_0 = _mm512_set1_ps(tile.bias[5])
    var a5_1 = _mm512_set1_ps(tile.bias[5])
    var a5_2 = _mm512_set1_ps(tile.bias[5])
    var a6_0 = _mm512_set1_ps(tile.bias[6])
    var a6_1 = _mm512_set1_ps(tile.bias[6])
    var a6_2 = _mm512_set1_ps(tile.bias[6])
    var a7_0 = _mm512_set1_ps(tile.bias[7])
    var a7_1 = _mm512_set1_ps(tile.bias[7])
    var a7_2 = _mm512_set1_ps(tile.bias[7])
    var wp = tile.weights
    var channel = tile.input
    for _ in 0..<tile.inputChannels {
        var row = channel
        for _ in 0..<tile.kernelHeight {
            var xp = row
            for _ in 0..<tile.kernelWidth {
                let x0 = _mm512_loadu_ps(xp + 0)
                let x1 = _mm512_loadu_ps(xp + 16)
                let x2 = _mm512_maskz_loadu_ps(mask, xp + 32)
                let w0 = _mm512_set1_ps(wp[0])
                a0_0 = _mm512_fmadd_ps(x0, w0, a0_0)
                a0_1 = _mm512_fmadd_ps(x1, w0, a0_1)
                a0_2 = _mm512_fmadd_ps(x2, w0, a0_2)
                let w1 = _mm512_set1_ps(wp[1])
                a1_0 = _mm512_fmadd_ps(x0, w1, a1_0)
                a1_1 = _mm512_fmadd_ps(x1, w1, a1_1)
                a1_2 = _mm512_fmadd_ps(x2, w1, a1_2)
                let w2 = _mm512_set1_ps(wp[2])
                a2_0 = _mm512_fmadd_ps(x0, w2, a2_0)
                a2_1 = _mm512_fmadd_ps(x1, w2, a2_1)
                a2_2 = _mm512_fmadd_ps(x2, w2, a2_2)
                let w3 = _mm512_set1_ps(wp[3])
                a3_0 = _mm512_fmadd_ps(x0, w3, a3_0)
                a3_1 = _mm512_fmadd_ps(x1, w3, a3_1)
                a3_2 = _mm512_fmadd_ps(x2, w3, a3_2)
                let w4 = _mm512_set1_ps(wp[4])
                a4_0 = _mm512_fmadd_ps(x0, w4, a4_0)
                a4_1 = _mm512_fmadd_ps(x1, w4, a4_1)
                a4_2 = _mm512_fmadd_ps(x2, w4, a4_2)
                let w5 = _mm512_set1_ps(wp[5])
                a5_0 = _mm512_fmadd_ps(x0, w5, a5_0)
                a5_1 = _mm512_fmadd_ps(x1, w5, a5_1)
                a5_2 = _mm512_fmadd_ps(x2, w5, a5_2)
                let w6 = _mm512_set1_ps(wp[6])
                a6_0 = _mm512_fmadd_ps(x0, w6, a6_0)
                a6_1 = _mm512_fmadd_ps(x1, w6, a6_1)
                a6_2 = _mm512_fmadd_ps(x2, w6, a6_2)
                let w7 = _mm512_set1_ps(wp[7])
                a7_0 = _mm512_fmadd_ps(x0, w7, a7_0)
                a7_1 = _mm512_fmadd_ps(x1, w7, a7_1)
                a7_2 = _mm512_fmadd_ps(x2, w7, a7_2)
                wp += 8
                xp += tile.kernelStepX
            }
            row += tile.rowStride
        }
        channel += tile.channelStride
    }
    let act = AVX512Activation(tile)
    if tile.outputChannels > 0 {
        let out = tile.output + 0 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a0_0))
        _mm512_storeu_ps(out + 16, act.apply(a0_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a0_2))
    }
    if tile.outputChannels > 1 {
        let out = tile.output + 1 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a1_0))
        _mm512_storeu_ps(out + 16, act.apply(a1_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a1_2))
    }
    if tile.outputChannels > 2 {
        let out = tile.output + 2 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a2_0))
        _mm512_storeu_ps(out + 16, act.apply(a2_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a2_2))
    }
    if tile.outputChannels > 3 {
        let out = tile.output + 3 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a3_0))
        _mm512_storeu_ps(out + 16, act.apply(a3_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a3_2))
    }
    if tile.outputChannels > 4 {
        let out = tile.output + 4 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a4_0))
        _mm512_storeu_ps(out + 16, act.apply(a4_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a4_2))
    }
    if tile.outputChannels > 5 {
        let out = tile.output + 5 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a5_0))
        _mm512_storeu_ps(out + 16, act.apply(a5_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a5_2))
    }
    if tile.outputChannels > 6 {
        let out = tile.output + 6 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a6_0))
        _mm512_storeu_ps(out + 16, act.apply(a6_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a6_2))
    }
    if tile.outputChannels > 7 {
        let out = tile.output + 7 * tile.outputChannelStride
        _mm512_storeu_ps(out + 0, act.apply(a7_0))
        _mm512_storeu_ps(out + 16, act.apply(a7_1))
        _mm512_mask_storeu_ps(out + 32, mask, act.apply(a7_2))
    }
}
#endif
