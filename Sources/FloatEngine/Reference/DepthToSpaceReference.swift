import SRGraph

/// ONNX DepthToSpace on [N, C*b*b, H, W] -> [N, C, H*b, W*b]. Output pixel (c, y*b+i, x*b+j)
/// comes from input channel (i*b + j)*C + c in DCR mode, c*b*b + i*b + j in CRD mode.
func depthToSpaceReference(_ x: Tensor, blockSize b: Int, mode: DepthToSpaceMode) -> Tensor {
    let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3]
    let c = cin / (b * b)
    var out = [Float](repeating: 0, count: x.count)
    for b0 in 0..<n {
        for oc in 0..<c {
            for y in 0..<(h * b) {
                for xo in 0..<(w * b) {
                    let i = y % b, j = xo % b
                    let ic = mode == .dcr ? (i * b + j) * c + oc : oc * b * b + i * b + j
                    out[((b0 * c + oc) * h * b + y) * w * b + xo] = x.floats[((b0 * cin + ic) * h + y / b) * w + xo / b]
                }
            }
        }
    }
    return Tensor(shape: [n, c, h * b, w * b], floats: out)
}
