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
            out[k] = s > 0 ? (Swift.min(Swift.max(w.floats[k], -a), a) / s).roundedHalfAwayFromZero * s : 0
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

/// Per-input-channel scales of the grid a conv reads, when its input FakeQuantize has one α
/// per channel: the integer conv then multiplies q_c = x_c / s_c, so the weights it needs are
/// w[o,c]·s_c, and those are what gets quantized (SPEC.md §5.5).
func inputChannelScales(_ g: Graph, conv node: Node) -> [Float]? {
    guard let p = g.producerIndices()[node.inputs[0]], let q = g.nodes[p].op.fakeQuant, let a = q.channelAlphas else { return nil }
    return a.map { $0 / Float(q.qmax) }
}

/// w[o,c,·]·s[c] (`inverse`: divided), with c the conv's input channel (groups respected).
func scaleInputChannels(_ w: Tensor, _ s: [Float], group: Int, inverse: Bool = false) -> Tensor {
    let o = w.shape[0], cg = w.shape[1], k = w.count / (o * cg), og = o / group
    var out = w.floats
    for oc in 0..<o {
        for c in 0..<cg {
            let f = s[(oc / og) * cg + c]
            for i in 0..<k {
                let j = (oc * cg + c) * k + i
                out[j] = inverse ? (f > 0 ? out[j] / f : 0) : out[j] * f
            }
        }
    }
    return Tensor(shape: w.shape, floats: out)
}

/// Fake-quantizes a conv's weights on the grid the integer conv uses: with per-channel input
/// scales the folded weights w·s are quantized, and the result is unfolded back to the float
/// graph's units, so the float simulation and the integer program agree.
func fakeQuantizeConvWeights(_ w: Tensor, bits: Int, ranges: [Float], inputScales: [Float]?, group: Int) -> (Tensor, scales: [Float]) {
    guard let s = inputScales else { return fakeQuantizeWeights(w, bits: bits, ranges: ranges) }
    let (q, scales) = fakeQuantizeWeights(scaleInputChannels(w, s, group: group), bits: bits, ranges: ranges)
    return (scaleInputChannels(q, s, group: group, inverse: true), scales)
}
