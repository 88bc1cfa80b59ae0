import SRGraph

/// Symmetric weight quantization (SPEC.md §5.1): w_q = round(clamp(w, −a, a)/s)·s, s = a/(2^(b−1)−1),
/// with one range for the layer or one per output channel.
func fakeQuantizeWeights(_ w: Tensor, bits: Int, ranges: [Float]) -> (Tensor, scales: [Float]) {
    let m = w.shape[0], per = w.count / m
    let qmax = Float((1 << (bits - 1)) - 1)
    var out = w.floats
    var scales: [Float] = []
    for r in ranges { scales.append(r / qmax) }
    for o in 0..<m {
        let a = ranges.count == 1 ? ranges[0] : ranges[o]
        let s = a / qmax
        for i in 0..<per {
            let k = o * per + i
            out[k] = s > 0 ? (Swift.min(Swift.max(w.floats[k], -a), a) / s).rounded() * s : 0
        }
    }
    return (Tensor(shape: w.shape, floats: out), scales)
}

/// max|W| over the layer (one value) or per output channel.
func weightMaxima(_ w: Tensor, perChannel: Bool) -> [Float] {
    let m = w.shape[0], per = w.count / m
    if !perChannel { return [w.floats.reduce(0) { Swift.max($0, abs($1)) }] }
    return (0..<m).map { o in w.floats[(o * per)..<((o + 1) * per)].reduce(0) { Swift.max($0, abs($1)) } }
}

/// The 99th percentile of |W| over the layer (one value) or per output channel.
func weightP99(_ w: Tensor, perChannel: Bool) -> [Float] {
    func p99(_ v: ArraySlice<Float>) -> Float {
        let s = v.map(abs).sorted()
        guard !s.isEmpty else { return 0 }
        return s[Swift.min(s.count - 1, Int((0.99 * Double(s.count - 1)).rounded()))]
    }
    let m = w.shape[0], per = w.count / m
    if !perChannel { return [p99(w.floats[...])] }
    return (0..<m).map { o in p99(w.floats[(o * per)..<((o + 1) * per)]) }
}
