import SRGraph

/// `channel-alpha`: keeps one α per channel only on the 8-bit conv-input grids where it
/// measurably lowers the network's output error; the others get one α per tensor (the largest
/// channel α).
///
/// A channel's α is a bet that the calibration images show that channel's whole range. On
/// content unlike them the bet fails: EDSR-8 x2 calibrated on Set5's photographs meets
/// Set14's ppt3 (screen graphics) with activations 2–6× some channels' α. Where per-channel α
/// pays on the calibration set it pays a lot (XLSR x3 and IMDN x4 at -b 8: 3.7–26% less output
/// error per grid); where it does not (every EDSR-8 grid: at most 1.5%), one α per tensor is
/// the robust choice, and it takes ppt3's loss from 0.59 to 0.25 dB. For every per-channel grid
/// the pass measures the output error against the float network on `sensitivityPatches`
/// calibration patches with that grid alone given one α, and keeps per-channel α where the
/// error rises by at least `perChannelActivationGain` (relative). Runs after mixed-precision,
/// so the rises are measured against the error of the final widths. Grids it widened keep
/// their channel α: at 16 bits one α saves no rounding error, and channel α still shape the
/// weight grid (quantize-weights works on w·s_c), which this probe, on float weights, cannot
/// see (XLSR x3 -b 8: 0.043 → 0.057 dB when its two widened grids took one α). Grids below
/// 8 bits keep theirs too: their α is PAMS's EMA, a clamp below the maximum by design, and
/// rounding, which channel α lower, dominates their error (IMDN x4 -b 4 lost 0.1 dB more
/// when its 4-bit grids took part).
func choosePerChannelAlphas(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    let candidates = g.nodes.indices.filter {
        guard let q = g.nodes[$0].op.fakeQuant, q.channelAlphas != nil else { return false }
        return q.bits == 8
    }
    guard !candidates.isEmpty else { log("no 8-bit per-channel grids"); return }
    guard options.perChannelActivationGain > 0 else {
        log("\(candidates.count) per-channel grids kept (gain threshold 0)")
        return
    }
    let patches = try calibrationPatches(options, count: options.sensitivityPatches, pass: "channel-alpha")
    try g.inferShapes()
    var probe = try OutputErrorProbe(graph: g, patches: patches, threads: options.threads)
    let base = try probe.error(g)
    var rises: [(node: Int, rise: Double)] = []
    for i in candidates {
        try probe.advance(g, to: i)
        var trial = g
        trial.nodes[i].op = .fakeQuantize(oneAlpha(g.nodes[i].op.fakeQuant!))
        rises.append((i, (try probe.error(trial) - base) / max(base, 1e-30)))
    }
    var kept = 0
    for (i, rise) in rises {
        let q = g.nodes[i].op.fakeQuant!
        let verdict: String
        if rise >= options.perChannelActivationGain {
            kept += 1
            verdict = "per-channel α kept"
        } else {
            g.nodes[i].op = .fakeQuantize(oneAlpha(q))
            verdict = "one α = \(formatFloat(q.alpha))"
        }
        log(String(format: "%@: %@ (one α would add %.4g%% output error)", g.nodes[i].name, verdict, 100 * rise))
    }
    log(String(format: "%d of %d grids keep per-channel α (threshold %.1f%%)", kept, rises.count, 100 * options.perChannelActivationGain))
}

/// The grid with one α for the whole tensor: the largest channel α, so no channel clips sooner.
private func oneAlpha(_ q: FakeQuant) -> FakeQuant {
    var t = q
    if let a = q.channelAlphas { t.alpha = a.max()! }
    t.channelAlphas = nil
    return t
}
