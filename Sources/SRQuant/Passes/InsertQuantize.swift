import SRGraph

/// `insert-quant`: places the FakeQuantize nodes that define every integer grid (the rules
/// the lowering relies on):
/// - the graph input is read by one FakeQuantize u8 with α = inputRange (the pixels);
/// - every compute result is read by exactly one FakeQuantize and nothing else. Its width:
///   the conv's input bits when all its readers (through data movement) are conv inputs,
///   8 when a reader is a Sigmoid, otherwise wide (16-bit signed, or 15-bit unsigned, which
///   has the same step and still fits i16); the final value gets u8 with α = inputRange;
///   Sigmoid results are u8 (a lookup table produces them);
/// - grids are unsigned when the value is provably non-negative (ReLU, Clip ≥ 0, Sigmoid,
///   Sqrt, x², pixels), which doubles the resolution of post-ReLU tensors;
/// - a conv (or Sigmoid) reading a wider grid gets its own narrower FakeQuantize in between,
///   shared by readers that want the same bits;
/// - a Concat whose inputs are all compute results read only by it, and whose result only
///   convs read, keeps one shared grid (calibration gives its inputs one α); any other Concat
///   gets a FakeQuantize on its result.
/// α starts at inputRange everywhere (a placeholder until `calibrate`).
func insertQuantize(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    try g.inferShapes()
    for n in g.nodes {
        if n.op.fakeQuant != nil { throw GraphError(n, "the graph already has FakeQuantize nodes (insert-quant runs once)") }
        if case .pow = n.op {
            guard let e = g.initializers[n.inputs[1]], e.dtype == .float32, e.count == 1, e.floats[0] == 2 else {
                throw GraphError(n, "Pow must have the constant exponent 2 to be quantized")
            }
        }
    }
    guard g.inputs.count == 1, g.outputs.count == 1 else {
        throw GraphError("insert-quant: an SR graph has one input and one output, this one has \(g.inputs.count) and \(g.outputs.count)")
    }
    let placement = Placement(graph: g, options: options)
    var decisions: [(node: Int, grid: FakeQuant, why: String)] = []
    for (i, n) in g.nodes.enumerated() {
        if n.op.isCompute || (placement.isConcat(n) && !placement.concatShared(i)) {
            let (grid, why) = placement.grid(forResultOf: i)
            decisions.append((i, grid, why))
        }
    }
    // Shared concats: one signedness for all inputs.
    for (i, n) in g.nodes.enumerated() where placement.isConcat(n) && placement.concatShared(i) {
        let producers = n.inputs.compactMap { placement.producers[$0] }
        let anySigned = decisions.contains { d in producers.contains(d.node) && d.grid.signed }
        for k in decisions.indices where producers.contains(decisions[k].node) {
            decisions[k].grid.signed = anySigned
            decisions[k].why += " (shared grid of concat \(n.name))"
        }
    }

    // Insert the result FakeQuantizes, from the last node backwards so indices stay valid.
    let inputName = g.inputs[0].name
    for d in decisions.reversed() {
        let n = g.nodes[d.node], v = n.outputs[0]
        let q: Node
        if g.isGraphOutput(v) {
            let vf = g.freshName(v + "/float")
            g.nodes[d.node].outputs[0] = vf
            q = Node(name: g.freshName(v + "/quant"), op: .fakeQuantize(d.grid), inputs: [vf], outputs: [v])
        } else {
            let vq = g.freshName(v + "/q")
            g.replaceUses(of: v, with: vq)
            q = Node(name: vq, op: .fakeQuantize(d.grid), inputs: [v], outputs: [vq])
        }
        g.nodes.insert(q, at: d.node + 1)
        log("\(n.name): \(d.grid.signed ? "s" : "u")\(d.grid.bits) — \(d.why)")
    }
    let pixels = FakeQuant(bits: 8, signed: false, alpha: options.inputRange)
    let inputQ = g.freshName(inputName + "/q")
    g.replaceUses(of: inputName, with: inputQ)
    g.nodes.insert(Node(name: inputQ, op: .fakeQuantize(pixels), inputs: [inputName], outputs: [inputQ]), at: 0)
    log("\(inputName): u8 α=\(formatFloat(options.inputRange)) — pixels")

    try insertNarrowingQuantizes(&g, options: options, log: log)
    try g.inferShapes()
}

/// Where a conv or Sigmoid reads a grid wider than it accepts, a FakeQuantize to its bits.
private func insertNarrowingQuantizes(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    try g.inferShapes()   // the plan looks at shapes (pooled inputs)
    let plan = ConvBitPlan(g, options)
    var cache: [String: String] = [:]
    var i = 0
    while i < g.nodes.count {
        let n = g.nodes[i]
        let want: Int
        switch n.op {
        case .conv: want = plan.inputBits[n.name]!
        case .sigmoid: want = 8
        default: i += 1; continue
        }
        let x = n.inputs[0]
        let grids = valueGrids(g)
        if let have = grids[x], have.bits <= want { i += 1; continue }
        let key = "\(x)|\(want)"
        let qName: String
        if let cached = cache[key] {
            qName = cached
        } else {
            let signed = grids[x]?.signed ?? true
            qName = g.freshName(x + "/q\(want)")
            g.nodes.insert(Node(name: qName, op: .fakeQuantize(FakeQuant(bits: want, signed: signed, alpha: options.inputRange)),
                                inputs: [x], outputs: [qName]), at: i)
            cache[key] = qName
            i += 1
            log("\(x) → \(signed ? "s" : "u")\(want) for \(n.op.name) \(n.name)")
        }
        g.nodes[i].inputs[0] = qName
        i += 1
    }
}

/// The grid each value lives on (public for tests and the lead's checks) (FakeQuantize outputs and data movement of them).
public func valueGrids(_ g: Graph) -> [String: FakeQuant] {
    var grids: [String: FakeQuant] = [:]
    for n in g.nodes {
        switch n.op {
        case .fakeQuantize(let q): grids[n.outputs[0]] = q
        case .concat:
            let ins = n.inputs.map { grids[$0] }
            if let first = ins.first ?? nil, ins.allSatisfy({ $0 != nil && $0!.bits == first.bits && $0!.signed == first.signed }) {
                grids[n.outputs[0]] = ins.max { $0!.alpha < $1!.alpha }!
            }
        default:
            if n.op.isDataMovement, let q = grids[n.inputs[0]] { for o in n.outputs { grids[o] = q } }
        }
    }
    return grids
}

/// The placement decisions on the float graph.
private struct Placement {
    enum Use: Equatable { case conv(bits: Int), sigmoid, other, output }
    let graph: Graph
    let options: QuantizationOptions
    let plan: ConvBitPlan
    let readers: [String: [Int]]
    let producers: [String: Int]
    let nonNegative: Set<String>
    init(graph: Graph, options: QuantizationOptions) {
        self.graph = graph; self.options = options
        plan = ConvBitPlan(graph, options)
        readers = graph.readerIndices(); producers = graph.producerIndices()
        nonNegative = nonNegativeValues(graph)
    }

    func isConcat(_ n: Node) -> Bool { if case .concat = n.op { return true } else { return false } }

    /// How a value is consumed, looking through data movement (and shared concats).
    func uses(of v: String) -> [Use] {
        var u: [Use] = graph.isGraphOutput(v) ? [.output] : []
        for r in readers[v] ?? [] {
            let n = graph.nodes[r]
            switch n.op {
            case .conv: u.append(n.inputs[0] == v ? .conv(bits: plan.inputBits[n.name]!) : .other)
            case .sigmoid: u.append(.sigmoid)
            case .concat: u += concatShared(r) ? uses(of: n.outputs[0]) : [.other]
            default:
                if n.op.isDataMovement { for o in n.outputs { u += uses(of: o) } } else { u.append(.other) }
            }
        }
        return u
    }

    func concatShared(_ r: Int) -> Bool {
        let n = graph.nodes[r]
        guard isConcat(n) else { return false }
        for x in n.inputs {
            guard let p = producers[x], graph.nodes[p].op.isCompute, readers[x]?.count == 1, !graph.isGraphOutput(x) else { return false }
        }
        let u = uses(of: n.outputs[0])
        return !u.isEmpty && u.allSatisfy { if case .conv = $0 { return true } else { return false } }
    }

    func grid(forResultOf i: Int) -> (FakeQuant, String) {
        let n = graph.nodes[i], v = n.outputs[0]
        let u = uses(of: v)
        let nonNeg = nonNegative.contains(v)
        let alpha = options.inputRange
        if u.contains(.output) {
            return (FakeQuant(bits: 8, signed: false, alpha: alpha), "the output pixels")
        }
        if case .sigmoid = n.op {
            return (FakeQuant(bits: 8, signed: false, alpha: alpha), "Sigmoid result (lookup table)")
        }
        let convBits = u.compactMap { if case .conv(let b) = $0 { return b } else { return nil } }
        if !u.isEmpty && convBits.count == u.count {
            // Above 8 bits a non-negative grid drops one bit (u15 has s16's step and fits i16).
            let b = convBits.max()!
            return (FakeQuant(bits: b > 8 && nonNeg ? b - 1 : b, signed: !nonNeg, alpha: alpha), "read only by conv inputs")
        }
        if u.contains(.sigmoid) {
            return (FakeQuant(bits: 8, signed: !nonNeg, alpha: alpha), "read by a Sigmoid")
        }
        return (FakeQuant(bits: nonNeg ? 15 : 16, signed: !nonNeg, alpha: alpha), "wide: read by non-conv ops")
    }
}

/// Values that are provably ≥ 0.
func nonNegativeValues(_ g: Graph) -> Set<String> {
    var s = Set(g.inputs.map(\.name))
    func nn(_ v: String) -> Bool {
        if s.contains(v) { return true }
        if let t = g.initializers[v], t.dtype == .float32 { return t.floats.allSatisfy { $0 >= 0 } }
        return false
    }
    for n in g.nodes {
        let yes: Bool
        switch n.op {
        case .conv(let a):
            switch a.activation {
            case .relu?: yes = true
            case .clip(let lo, _)?: yes = lo >= 0
            default: yes = false
            }
        case .relu, .sigmoid, .sqrt, .pow: yes = true
        case .clip(let lo, _): yes = lo >= 0 || nn(n.inputs[0])
        case .leakyRelu, .prelu, .reduceMean: yes = nn(n.inputs[0])
        case .add, .mul: yes = nn(n.inputs[0]) && nn(n.inputs[1])
        case .fakeQuantize(let q): yes = !q.signed || nn(n.inputs[0])
        case .sub, .div: yes = false
        default: yes = n.op.isDataMovement && n.inputs.allSatisfy { $0.isEmpty || nn($0) }
        }
        if yes { s.formUnion(n.outputs) }
    }
    return s
}
