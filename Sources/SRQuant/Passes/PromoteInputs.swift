import SRGraph

/// `mixed-precision`: gives the body conv inputs whose narrow grid costs the network output the
/// most error per multiply the edge input width, within a budget of extra work.
///
/// For every body conv-input grid (a FakeQuantize at the body's activation bits read only by
/// convs) the pass measures how much the output error against the float network on
/// calibration patches drops when that grid alone is widened, then promotes grids in order of
/// drop per MAC of the convs reading them while their MACs fit in
/// `options.effectiveWideInputBudget` × all conv MACs. A wide input costs those convs about twice the
/// work (an i16 source runs as two u8 passes; an 8-bit source costs twice a 4-bit one), so the
/// budget is the extra work allowed. The edge rules (ConvBitPlan) are the fixed part of this
/// choice; this pass is the measured part: IMDN's error, for one, is spread over many convs.
/// α stays as calibrated (at -b 8 both widths use max|x|; at -b 4 the EMA α of the narrow
/// grid is kept, a tighter clamp than max). Runs after calibrate and wide-headroom, before channel-alpha and tune-alpha (which
/// then leaves the promoted, ≥ 8-bit grids alone).
func promoteSensitiveInputs(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    let wide = options.edgeActivationBits ?? options.edgeBits
    guard options.effectiveWideInputBudget > 0, wide > options.activationBits else {
        log("off (budget \(formatFloat(Float(100 * options.effectiveWideInputBudget)))%, body inputs \(options.activationBits) bits, wide \(wide))")
        return
    }
    let patches = try calibrationPatches(options, count: options.sensitivityPatches, pass: "mixed-precision")
    try g.inferShapes()
    var probe = try OutputErrorProbe(graph: g, patches: patches, threads: options.threads)

    let pixels = pixelQuantizes(g)
    let readers = g.readerIndices()
    var totalMACs = 0.0
    for n in g.nodes { totalMACs += convMACsPerPixel(g, n) }
    let base = try probe.error(g)
    var measured: [(node: Int, gain: Double, cost: Double)] = []
    for i in g.nodes.indices {
        guard let q = g.nodes[i].op.fakeQuant, q.bits == options.activationBits, q.zeroPoint == 0,
              !pixels.contains(g.nodes[i].name) else { continue }
        let rs = readers[g.nodes[i].outputs[0]] ?? []
        guard !rs.isEmpty, rs.allSatisfy({ g.nodes[$0].op.convAttributes != nil && g.nodes[$0].inputs[0] == g.nodes[i].outputs[0] })
        else { continue }
        let cost = rs.reduce(0.0) { $0 + convMACsPerPixel(g, g.nodes[$1]) }
        guard cost > 0 else { continue }
        try probe.advance(g, to: i)
        var trial = g
        trial.nodes[i].op = .fakeQuantize(widened(q, to: wide))
        measured.append((i, base - (try probe.error(trial)), cost))
    }
    var spent = 0.0
    let allowance = options.effectiveWideInputBudget * totalMACs
    var promoted = 0
    for m in measured.sorted(by: { $0.gain / $0.cost > $1.gain / $1.cost }) where m.gain > 0 && spent + m.cost <= allowance {
        spent += m.cost
        promoted += 1
        let q = g.nodes[m.node].op.fakeQuant!
        g.nodes[m.node].op = .fakeQuantize(widened(q, to: wide))
        log(String(format: "%@: %@%d -> %d bits (output error −%.3g%%, %.1f%% of the MACs)", g.nodes[m.node].name,
                   q.signed ? "s" : "u", q.bits, widened(q, to: wide).bits, 100 * m.gain / max(base, 1e-30), 100 * m.cost / totalMACs))
    }
    log(String(format: "%d of %d body conv inputs promoted, %.1f%% of the conv MACs (budget %.1f%%)",
               promoted, measured.count, 100 * spent / totalMACs, 100 * options.effectiveWideInputBudget))
}

/// The grid at `bits` (an unsigned grid above 8 bits drops one: u15 has s16's step and fits i16).
private func widened(_ q: FakeQuant, to bits: Int) -> FakeQuant {
    var w = q
    w.bits = bits > 8 && !q.signed ? bits - 1 : bits
    return w
}

/// A conv's multiply-accumulates per input-resolution pixel (0 for convs on pooled values and
/// for other nodes).
func convMACsPerPixel(_ g: Graph, _ n: Node) -> Double {
    guard let a = n.op.convAttributes, let w = g.initializers[n.inputs[1]],
          let s = g.info(of: n.outputs[0])?.shape, s.count == 4, s[2].value == nil else { return 0 }
    return Double(w.shape.reduce(1, *)) / Double(a.strides[0] * a.strides[1])
}
