import SRGraph

/// `canonicalize`: rewrites the float graph into the form quantization expects, without
/// changing what it computes (up to float rounding):
/// - Identity nodes disappear;
/// - a per-channel affine normalisation of the input ((x − mean)/d, any chain of Sub/Add/Mul/Div
///   by constants) is folded into the convs that read it; their `padValues` become the input
///   value that normalises to 0, so the borders stay exact;
/// - Div by a constant becomes Mul by its reciprocal;
/// - per-channel Mul/Add/Sub/Div by constants right after a conv (EDSR's ·127.5 + mean) are
///   folded into that conv's weights and bias;
/// - Conv + Relu/LeakyRelu/Clip become one conv with `activation`, when the activation is the
///   conv result's only reader.
func canonicalize(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    try g.inferShapes()
    removeIdentities(&g, log: log)
    try foldInputAffine(&g, log: log)
    divisionsToMultiplications(&g, log: log)
    foldTrailingAffine(&g, log: log)
    fuseActivations(&g, log: log)
    g.removeDeadCode()
    try g.inferShapes()
}

private func removeIdentities(_ g: inout Graph, log: (String) -> Void) {
    var i = 0
    while i < g.nodes.count {
        let n = g.nodes[i]
        guard case .identity = n.op else { i += 1; continue }
        let x = n.inputs[0], y = n.outputs[0]
        if !g.isGraphOutput(y) {
            g.nodes.remove(at: i)
            g.replaceUses(of: y, with: x)
        } else if let p = g.producerIndices()[x], !g.isGraphOutput(x), g.readerIndices()[x]?.count == 1 {
            g.nodes.remove(at: i)
            for j in g.nodes[p].outputs.indices where g.nodes[p].outputs[j] == x { g.nodes[p].outputs[j] = y }
        } else { i += 1; continue }
        log("removed Identity \(n.name)")
    }
}

/// y = a ⊙ x + b per channel.
private struct ChannelAffine {
    var a: [Float], b: [Float]
    var isIdentity: Bool { a.allSatisfy { $0 == 1 } && b.allSatisfy { $0 == 0 } }
}

/// The affine map a node applies to `x` when its other operand is a per-channel constant.
private func affineStep(_ n: Node, reading x: String, in g: Graph, channels: Int) -> ChannelAffine? {
    guard n.inputs.count == 2 else { return nil }
    let xFirst = n.inputs[0] == x
    guard let k = g.initializers[xFirst ? n.inputs[1] : n.inputs[0]], let kc = channelValues(k, channels: channels) else { return nil }
    let one = [Float](repeating: 1, count: channels), zero = [Float](repeating: 0, count: channels)
    switch (n.op, xFirst) {
    case (.add, _): return ChannelAffine(a: one, b: kc)
    case (.sub, true): return ChannelAffine(a: one, b: kc.map { -$0 })
    case (.sub, false): return ChannelAffine(a: one.map { -$0 }, b: kc)
    case (.mul, _): return ChannelAffine(a: kc, b: zero)
    case (.div, true): return kc.contains(0) ? nil : ChannelAffine(a: kc.map { 1 / $0 }, b: zero)
    default: return nil
    }
}

private func foldInputAffine(_ g: inout Graph, log: (String) -> Void) throws {
    for input in g.inputs {
        guard input.shape.count == 4, let c = input.shape[1].value else { continue }
        // Values reachable from the input through constant affine steps, with their map.
        var chain: [(String, ChannelAffine)] = [(input.name, ChannelAffine(a: .init(repeating: 1, count: c), b: .init(repeating: 0, count: c)))]
        var k = 0
        while k < chain.count {
            let (v, f) = chain[k]; k += 1
            for r in g.readerIndices()[v] ?? [] {
                let n = g.nodes[r]
                guard let s = affineStep(n, reading: v, in: g, channels: c), n.inputs[0] != n.inputs[1] else { continue }
                chain.append((n.outputs[0], ChannelAffine(a: zip(f.a, s.a).map { $0 * $1 },
                                                          b: zip(f.b, zip(s.a, s.b)).map { $0 * $1.0 + $1.1 })))
            }
        }
        for (v, f) in chain where !f.isIdentity {
            guard f.a.allSatisfy({ $0 != 0 }) else { continue }
            for r in g.readerIndices()[v] ?? [] {
                guard case .conv(var attr) = g.nodes[r].op, g.nodes[r].inputs[0] == v,
                      var w = g.initializers[g.nodes[r].inputs[1]] else { continue }
                let node = g.nodes[r]
                let m = w.shape[0], cg = w.shape[1], kk = w.count / (m * cg), groups = attr.group
                let perGroupOut = m / groups
                var bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? g.initializers[node.inputs[2]]?.floats : [Float](repeating: 0, count: m)
                guard bias != nil else { continue }   // dynamic bias: leave alone
                for o in 0..<m {
                    var shift: Float = 0
                    for ci in 0..<cg {
                        let ch = (o / perGroupOut) * cg + ci
                        for t in 0..<kk {
                            let idx = (o * cg + ci) * kk + t
                            shift += w.floats[idx] * f.b[ch]
                            w.floats[idx] *= f.a[ch]
                        }
                    }
                    bias![o] += shift
                }
                let oldPads = attr.padValues ?? [Float](repeating: 0, count: c)
                attr.padValues = (0..<c).map { (oldPads[$0] - f.b[$0]) / f.a[$0] }
                let wName = g.freshName(node.inputs[1] + ".folded")
                g.initializers[wName] = w
                let bName = g.freshName((node.inputs.count > 2 && !node.inputs[2].isEmpty ? node.inputs[2] : node.name + ".bias") + ".folded")
                g.initializers[bName] = Tensor(shape: [m], floats: bias!)
                g.nodes[r] = Node(name: node.name, op: .conv(attr), inputs: [input.name, wName, bName], outputs: node.outputs)
                log("folded input normalisation into \(node.name) (pad values \(attr.padValues!.map(formatFloat).joined(separator: ",")))")
            }
        }
    }
    g.removeDeadCode()
    try g.inferShapes()
}

private func divisionsToMultiplications(_ g: inout Graph, log: (String) -> Void) {
    for i in g.nodes.indices {
        let n = g.nodes[i]
        guard case .div = n.op, let k = g.initializers[n.inputs[1]], k.dtype == .float32, !k.floats.contains(0) else { continue }
        let name = g.freshName(n.inputs[1] + ".reciprocal")
        g.initializers[name] = Tensor(shape: k.shape, floats: k.floats.map { 1 / $0 })
        g.nodes[i] = Node(name: n.name, op: .mul, inputs: [n.inputs[0], name], outputs: n.outputs)
        log("Div \(n.name) by a constant became Mul by its reciprocal")
    }
}

private func foldTrailingAffine(_ g: inout Graph, log: (String) -> Void) {
    var changed = true
    while changed {
        changed = false
        let readers = g.readerIndices(), producers = g.producerIndices()
        for (i, n) in g.nodes.enumerated() {
            guard [.add, .sub, .mul, .div].contains(n.op) else { continue }
            for x in n.inputs {
                guard let p = producers[x], case .conv(let attr) = g.nodes[p].op, attr.activation == nil,
                      readers[x]?.count == 1, !g.isGraphOutput(x),
                      var w = g.initializers[g.nodes[p].inputs[1]] else { continue }
                let conv = g.nodes[p]
                let m = w.shape[0]
                guard let f = affineStep(n, reading: x, in: g, channels: m) else { continue }
                let hasBias = conv.inputs.count > 2 && !conv.inputs[2].isEmpty
                guard var bias = hasBias ? g.initializers[conv.inputs[2]]?.floats : [Float](repeating: 0, count: m) else { continue }
                let per = w.count / m
                for o in 0..<m {
                    for t in 0..<per { w.floats[o * per + t] *= f.a[o] }
                    bias[o] = f.a[o] * bias[o] + f.b[o]
                }
                let wName = g.freshName(conv.inputs[1] + ".folded"), bName = g.freshName((hasBias ? conv.inputs[2] : conv.name + ".bias") + ".folded")
                g.initializers[wName] = w
                g.initializers[bName] = Tensor(shape: [m], floats: bias)
                g.nodes[p] = Node(name: conv.name, op: conv.op, inputs: [conv.inputs[0], wName, bName], outputs: n.outputs)
                g.nodes.remove(at: i)
                log("folded \(n.op.name) \(n.name) into \(conv.name)")
                changed = true
                break
            }
            if changed { break }
        }
    }
    g.removeDeadCode()
}

private func fuseActivations(_ g: inout Graph, log: (String) -> Void) {
    var changed = true
    while changed {
        changed = false
        let readers = g.readerIndices(), producers = g.producerIndices()
        for (i, n) in g.nodes.enumerated() {
            let act: ConvActivation
            switch n.op {
            case .relu: act = .relu
            case .leakyRelu(let a): act = .leakyRelu(alpha: a)
            case .clip(let lo, let hi): act = .clip(min: lo, max: hi)
            default: continue
            }
            let x = n.inputs[0]
            guard let p = producers[x], case .conv(var attr) = g.nodes[p].op, attr.activation == nil,
                  readers[x]?.count == 1, !g.isGraphOutput(x) else { continue }
            attr.activation = act
            let conv = g.nodes[p]
            g.nodes[p] = Node(name: conv.name, op: .conv(attr), inputs: conv.inputs, outputs: n.outputs)
            g.nodes.remove(at: i)
            log("fused \(n.op.name) \(n.name) into \(conv.name)")
            changed = true
            break
        }
    }
}
