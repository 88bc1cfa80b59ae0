import SRGraph

/// ONNX Conv (2-D, NCHW, groups, strides, dilations, pads/auto_pad), accumulating in Double so
/// it is a trustworthy reference for the fast kernels. `activation` applies a fused activation
/// to the result (identity when `.none`).
func conv2DReference(_ x: Tensor, weight w: Tensor, bias b: Tensor?, _ a: Conv2DAttributes,
                     outputShape: [Int]) -> Tensor {
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3]
    let m = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    let oh = outputShape[2], ow = outputShape[3]
    let pads = a.resolvedPads(inputHeight: h, inputWidth: wd)
    let mg = m / a.group
    var out = [Float](repeating: 0, count: n * m * oh * ow)
    for b0 in 0..<n {
        for oc in 0..<m {
            let g = oc / mg
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum = Double(b?.floats[oc] ?? 0)
                    for icg in 0..<cg {
                        let ic = g * cg + icg
                        // Taps outside the input read the channel's pad value (zero unless
                        // canonicalization folded an input normalisation into this conv).
                        let padValue = a.padValues?[ic] ?? 0
                        for ky in 0..<kh {
                            let iy = oy * a.strides[0] - pads[0] + ky * a.dilations[0]
                            for kx in 0..<kw {
                                let ix = ox * a.strides[1] - pads[1] + kx * a.dilations[1]
                                let inside = iy >= 0 && iy < h && ix >= 0 && ix < wd
                                if !inside && padValue == 0 { continue }
                                let xv = inside ? x.floats[((b0 * c + ic) * h + iy) * wd + ix] : padValue
                                let wv = w.floats[((oc * cg + icg) * kh + ky) * kw + kx]
                                sum += Double(xv) * Double(wv)
                            }
                        }
                    }
                    let v = Float(sum)
                    out[((b0 * m + oc) * oh + oy) * ow + ox] = a.activation?.apply(v) ?? v
                }
            }
        }
    }
    return Tensor(shape: outputShape, floats: out)
}
