import SRGraph

/// `tune-alpha`: refines each sub-8-bit conv-input grid's clamp bound α (all its channel α scaled
/// together) greedily, in execution order, by the error of the whole quantized network's
/// output against the float network's on calibration patches, trying the multipliers in
/// `options.alphaFactors`. PAMS learns α in training; the EMA gives the starting point and
/// this post-training search adjusts it where the end result says so. (A layer-local error —
/// the reading conv's output — was tried first and made EDSR -b 4 worse: 2.86 → 3.05 dB loss.)
func tuneAlpha(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    guard options.tuneAlpha else { log("disabled: α stays as calibrated"); return }
    let patches = try calibrationPatches(options, count: options.tuneAlphaPatches, pass: "tune-alpha")
    // Only what follows the grid being tuned runs per candidate: the probe keeps the patches'
    // values up to it (with the choices made so far upstream).
    try g.inferShapes()
    var probe = try OutputErrorProbe(graph: g, patches: patches, threads: options.threads)
    let pixels = pixelQuantizes(g)
    let readers = g.readerIndices()
    var current = try probe.error(g)
    let start = current
    for sweep in 0..<max(1, options.tuneAlphaSweeps) {
    if sweep > 0 { probe.restart(g) }
    for i in g.nodes.indices {
        // 8-bit grids keep their calibrated (max) α: clipping them measurably hurts (see Calibrate).
        guard let q = g.nodes[i].op.fakeQuant, q.bits < 8, !pixels.contains(g.nodes[i].name) else { continue }
        let rs = readers[g.nodes[i].outputs[0]] ?? []
        guard !rs.isEmpty, rs.allSatisfy({ if case .conv = g.nodes[$0].op { return true } else { return false } }) else { continue }
        try probe.advance(g, to: i)
        var best = (factor: Float(1), error: current)
        for f in options.alphaFactors where f != 1 {
            var s = q
            s.alpha = q.alpha * f
            s.channelAlphas = q.channelAlphas?.map { $0 * f }
            var trial = g
            trial.nodes[i].op = .fakeQuantize(s)
            let e = try probe.error(trial)
            if e < best.error { best = (f, e) }
        }
        if best.factor != 1 {
            var s = q
            s.alpha = q.alpha * best.factor
            s.channelAlphas = q.channelAlphas?.map { $0 * best.factor }
            g.nodes[i].op = .fakeQuantize(s)
            current = best.error
        }
        log("sweep \(sweep + 1) \(g.nodes[i].name): α × \(formatFloat(best.factor))")
    }
    }
    log(String(format: "output error on %d calibration patches: %.4g -> %.4g", patches.count, start, current))
}
