import SRGraph

/// `quantize-weights`: every conv's weights are fake-quantized on a symmetric grid with the
/// range max|W| (PAMS, per layer) or max|W_o| per output channel, and the conv records
/// `weightQuantization`. The float weights are kept as `NAME.float` initializers for the `odm`
/// pass, which removes them. Biases stay float (the lowering makes them int32 with s_in·s_w).
func quantizeWeights(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    let plan = ConvBitPlan(g, options)
    var done = Set<String>()
    for i in g.nodes.indices {
        guard case .conv(var a) = g.nodes[i].op else { continue }
        let node = g.nodes[i]
        let wName = node.inputs[1]
        guard let w0 = g.initializers[wName], w0.dtype == .float32 else { throw GraphError(node, "conv weight is not a float constant") }
        let bits = plan.weightBits[node.name]!
        if done.contains(wName) { throw GraphError(node, "weight '\(wName)' is shared by several convs; give each conv its own") }
        done.insert(wName)
        let w = g.initializers[floatWeightName(wName)] ?? w0
        g.initializers[floatWeightName(wName)] = w
        let inputScales = inputChannelScales(g, conv: node)
        let folded = inputScales.map { scaleInputChannels(w, $0, group: a.group) } ?? w
        let ranges = weightMaxima(folded, perChannel: options.perChannelWeights)
        let (wq, scales) = fakeQuantizeConvWeights(w, bits: bits, ranges: ranges, inputScales: inputScales, group: a.group)
        g.initializers[wName] = wq
        a.weightQuantization = WeightQuantization(bits: bits, scales: scales)
        g.nodes[i].op = .conv(a)
        log("\(node.name): w\(bits) range max|W|=\(ranges.count == 1 ? formatFloat(ranges[0]) : "per-channel[\(ranges.count)]")")
    }
}
