import Foundation
import SRGraph
import SRRuntime

/// `round-weights`: error-compensating rounding of every conv's weights on the grid that
/// quantize-weights/odm chose (the ranges stay; only which grid point each weight takes
/// changes). Round-to-nearest treats weights independently; here each output channel's
/// rounding errors are pushed onto the weights not yet rounded so that the conv's output on
/// calibration inputs stays close, the second-order method of OBQ/GPTQ:
///   H = X̃·X̃ᵀ + λ·mean(diag)·I over sampled im2col columns X̃ of the conv's input in the
///   quantized graph (upstream convs already rounded: the pass runs in execution order), and
///   for each column i (largest diag(H) first): q = Q(w_i), w_{j>i} −= (w_i − q)/U_ii · U_ij
///   with U the upper Cholesky factor of H⁻¹.
/// The columns carry a constant-one row, so the bias (never rounded: it becomes int32) absorbs
/// the mean error. (Fitting the float conv on the float input instead, W* = W·Xf·X̃ᵀ·H⁻¹, so
/// that weights would also absorb their input grid's error, measured worse: EDSR w4a8 0.35 vs
/// 0.29 dB loss, w4a4 2.63 vs 2.10.)
/// Without `options.roundWeights` the pass leaves round-to-nearest. Either way it drops the float
/// weight copies quantize-weights kept.
func roundWeights(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    defer {
        for k in g.initializers.keys where k.hasSuffix(".float") { g.initializers[k] = nil }
        g.removeDeadCode()
    }
    guard options.roundWeights else { log("disabled: weights keep round-to-nearest"); return }
    let convs = g.nodes.indices.filter { g.nodes[$0].op.convAttributes != nil }
    guard !convs.isEmpty else { return }
    guard g.nodes[convs[0]].op.convAttributes?.weightQuantization != nil else {
        throw GraphError("round-weights: run quantize-weights first")
    }
    let patches = try calibrationPatches(options, count: options.roundingPatches, pass: "round-weights")
    let perPatch = max(1, options.roundingSamples / patches.count)
    // The network runs once over the patches, segment by segment: up to each conv's input with
    // the upstream convs already rounded.
    try g.inferShapes()
    var runner = SegmentedRunner(graph: g, inputs: patches, threads: options.threads)

    for ci in convs {
        let node = g.nodes[ci]
        guard case .conv(let a) = node.op, let wq = a.weightQuantization else { continue }
        let wName = node.inputs[1]
        let w = g.initializers[floatWeightName(wName)] ?? g.initializers[wName]!
        let m = w.shape[0], cg = w.shape[1], kk = a.kernel[0] * a.kernel[1], per = cg * kk
        let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? g.initializers[node.inputs[2]]!.floats
                                                                     : [Float](repeating: 0, count: m)
        let inputScales = inputChannelScales(g, conv: node)
        let folded = inputScales.map { scaleInputChannels(w, $0, group: a.group) } ?? w

        // Columns of the conv's input in the quantized graph (upstream already rounded).
        let x = node.inputs[0]
        try runner.advance(g, to: ci)
        var columns = ConvColumns(conv: a, channels: cg * a.group, capacity: perPatch * patches.count)
        var rng = SeededGenerator(seed: options.seed ^ 0x60D ^ UInt64(ci))
        for state in runner.states {
            columns.add(state[x]!, count: perPatch, rng: &rng)
        }
        if let s = inputScales { columns.divideChannels(by: s) }

        // Starts from round-to-nearest (what a group keeps if its covariance is unusable).
        let nearestWeights = g.initializers[wName]!
        let nearestFolded = (inputScales.map { scaleInputChannels(nearestWeights, $0, group: a.group) } ?? nearestWeights).floats
        var out = nearestFolded
        var newBias = bias
        var before = 0.0, after = 0.0
        let og = m / a.group
        for gi in 0..<a.group {
            let k = per + 1
            var h = SymmetricMatrix.gram(columns.flattened(group: gi, groups: a.group), rows: k, count: columns.count)
            // Targets [W_o, b_o] per output channel of the group.
            let targets: [[Double]] = (0..<og).map { j in
                let o = gi * og + j
                return (0..<per).map { Double(folded.floats[o * per + $0]) } + [Double(bias[o])]
            }
            let gramRaw = h
            var meanDiag = 0.0
            for i in 0..<k { meanDiag += h[i, i] }
            meanDiag /= Double(k)
            for i in 0..<k { h[i, i] += h[i, i] == 0 ? 1 : options.roundingDamping * meanDiag }
            guard var hinv = h.inverse() else {
                log("\(node.name): group \(gi) has a singular input covariance; kept round-to-nearest"); continue
            }
            // Column order: largest diag(H) first; the bias column last (it is never rounded).
            let order = (0..<per).sorted { h[$0, $0] > h[$1, $1] } + [per]
            var hp = SymmetricMatrix(n: k)
            for i in 0..<k { for j in 0..<k { hp[i, j] = hinv[order[i], order[j]] } }
            hinv = hp
            guard let l = hinv.cholesky() else {
                log("\(node.name): group \(gi): H⁻¹ not positive definite; kept round-to-nearest"); continue
            }
            let qmax = Double(wq.qmax)
            for j in 0..<og {
                let o = gi * og + j
                let s = Double(wq.scale(channel: o))
                var v = order.map { targets[j][$0] }
                for i in 0..<(k - 1) {
                    let q = s > 0 ? min(max((v[i] / s).rounded(), -qmax), qmax) * s : 0
                    let e = (v[i] - q) / l[i, i]
                    v[i] = q
                    // U = Lᵀ: U[i][t] = L[t][i].
                    for t in (i + 1)..<k { v[t] -= e * l[t, i] }
                }
                var row = [Double](repeating: 0, count: k)
                for (pos, idx) in order.enumerated() { row[idx] = v[pos] }
                for c in 0..<per { out[o * per + c] = Float(row[c]) }
                newBias[o] = Float(row[per])
                // Proxy error (on the undamped covariance) against the target, before and after.
                let nearest = nearestFolded[(o * per)..<((o + 1) * per)].map(Double.init) + [Double(bias[o])]
                before += quadratic(gramRaw, zip(nearest, targets[j]).map { $0 - $1 })
                after += quadratic(gramRaw, zip(row, targets[j]).map { $0 - $1 })
            }
        }
        let q = Tensor(shape: w.shape, floats: out)
        g.initializers[wName] = inputScales.map { scaleInputChannels(q, $0, group: a.group, inverse: true) } ?? q
        let bName = g.freshName((node.inputs.count > 2 && !node.inputs[2].isEmpty ? node.inputs[2] : node.name + ".bias") + ".rounded")
        g.initializers[bName] = Tensor(shape: [m], floats: newBias)
        if g.nodes[ci].inputs.count > 2 { g.nodes[ci].inputs[2] = bName } else { g.nodes[ci].inputs.append(bName) }
        log(String(format: "%@: output error on calibration columns %.4g (nearest) -> %.4g", node.name, before, after))
    }
}

/// vᵀ·H·v.
private func quadratic(_ h: SymmetricMatrix, _ v: [Double]) -> Double {
    var s = 0.0
    for i in 0..<h.n where v[i] != 0 { var r = 0.0; for j in 0..<h.n { r += h[i, j] * v[j] }; s += v[i] * r }
    return s
}

/// Sampled im2col columns of a conv's input, stored row-major [C·kh·kw][count] (the layout
/// the Gram matrix wants).
struct ConvColumns {
    let a: Conv2DAttributes
    let channels: Int, kk: Int
    var rows: [[Float]]
    var count = 0

    init(conv a: Conv2DAttributes, channels: Int, capacity: Int) {
        self.a = a; self.channels = channels; kk = a.kernel[0] * a.kernel[1]
        rows = (0..<(channels * kk)).map { _ in var r = [Float](); r.reserveCapacity(capacity); return r }
    }

    /// `n` random output positions of one input tensor.
    mutating func add(_ t: Tensor, count n: Int, rng: inout SeededGenerator) {
        guard let sampling = ConvSampling(a, height: t.shape[2], width: t.shape[3]) else { return }
        for _ in 0..<n {
            let (oy, ox) = sampling.randomPosition(using: &rng)
            sampling.forEachTap(channels: channels, y: oy, x: ox) { r, ch, i in
                rows[r].append(i.map { t.floats[$0] } ?? (a.padValues?[ch] ?? 0))
            }
            count += 1
        }
    }

    /// Rows of channel c divided by s[c] (integer units of a per-channel input grid).
    mutating func divideChannels(by s: [Float]) {
        for ch in 0..<channels where s[ch] > 0 {
            for t in 0..<kk { rows[ch * kk + t] = rows[ch * kk + t].map { $0 / s[ch] } }
        }
    }

    /// One group's rows flattened, with the constant-one row (the bias input) appended.
    func flattened(group gi: Int, groups: Int) -> [Float] {
        let cg = channels / groups
        return ((gi * cg * kk)..<((gi + 1) * cg * kk)).flatMap { rows[$0] } + [Float](repeating: 1, count: count)
    }
}
