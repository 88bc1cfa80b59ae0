import SRGraph

/// Small queries and rewrites on the IR shared by the passes.
extension Graph {
    /// Value name → indices of the nodes that read it (a node reading a value twice appears twice).
    func readerIndices() -> [String: [Int]] {
        var r: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for v in n.inputs where !v.isEmpty { r[v, default: []].append(i) } }
        return r
    }

    /// Value name → index of the node that produces it.
    func producerIndices() -> [String: Int] {
        var p: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for v in n.outputs where !v.isEmpty { p[v] = i } }
        return p
    }

    func isGraphOutput(_ name: String) -> Bool { outputs.contains { $0.name == name } }

    /// A value name not yet used by any input, initializer or node output.
    func freshName(_ base: String) -> String {
        var used = Set(inputs.map(\.name)).union(initializers.keys)
        for n in nodes { used.formUnion(n.outputs) }
        if !used.contains(base) { return base }
        var i = 1
        while used.contains("\(base)_\(i)") { i += 1 }
        return "\(base)_\(i)"
    }

    /// Makes every reader of `old` read `new` instead (graph outputs are not renamed).
    mutating func replaceUses(of old: String, with new: String, except skip: Int? = nil) {
        for i in nodes.indices where i != skip {
            for j in nodes[i].inputs.indices where nodes[i].inputs[j] == old { nodes[i].inputs[j] = new }
        }
    }

    /// Renames a node output everywhere: producer, readers and graph outputs.
    mutating func renameValue(_ old: String, to new: String) {
        for i in nodes.indices {
            for j in nodes[i].outputs.indices where nodes[i].outputs[j] == old { nodes[i].outputs[j] = new }
            for j in nodes[i].inputs.indices where nodes[i].inputs[j] == old { nodes[i].inputs[j] = new }
        }
        for i in outputs.indices where outputs[i].name == old { outputs[i].name = new }
    }
}

extension Op {
    /// Ops that only move or select values: a grid passes through them unchanged.
    var isDataMovement: Bool {
        switch self {
        case .identity, .depthToSpace, .split, .concat, .reshape, .transpose, .resizeNearest: return true
        default: return false
        }
    }

    /// Ops whose result the integer program computes (and requantizes) itself.
    var isCompute: Bool {
        switch self {
        case .conv, .add, .sub, .mul, .div, .pow, .relu, .leakyRelu, .clip, .prelu, .sigmoid, .reduceMean, .sqrt: return true
        default: return false
        }
    }

    var fakeQuant: FakeQuant? { if case .fakeQuantize(let q) = self { return q } else { return nil } }
}

/// Per-channel values of a constant that broadcasts against a [N,C,H,W] tensor only along C
/// (a scalar, [C], [C,1,1], [1,C,1,1], ...); nil otherwise.
func channelValues(_ t: Tensor, channels: Int) -> [Float]? {
    guard t.dtype == .float32 else { return nil }
    if t.count == 1 { return [Float](repeating: t.floats[0], count: channels) }
    guard t.shape.count <= 4 else { return nil }
    let aligned = [Int](repeating: 1, count: 4 - t.shape.count) + t.shape
    guard aligned[0] == 1, aligned[1] == channels, aligned[2] == 1, aligned[3] == 1 else { return nil }
    return t.floats
}

/// Which convs sit at the edges of the network (they keep `edgeBits`) and the bits each conv's
/// weights and input get.
public struct ConvBitPlan: Sendable {
    public var inputBits: [String: Int] = [:]
    public var weightBits: [String: Int] = [:]
    /// First and last convs: `edgeBits` weights, edge input bits.
    public var edges: Set<String> = []
    /// The rest of the tail and convs on pooled values: body weights, edge input bits.
    public var wideInputs: Set<String> = []

    public init(_ g: Graph, _ o: QuantizationOptions) {
        let producers = g.producerIndices()
        let readers = g.readerIndices()
        // First convs: reached from the graph input through data movement and FakeQuantize only.
        var stack = g.inputs.map(\.name)
        var seen = Set<String>()
        while let v = stack.popLast() {
            guard seen.insert(v).inserted else { continue }
            for r in readers[v] ?? [] {
                let n = g.nodes[r]
                if case .conv = n.op { if n.inputs[0] == v { edges.insert(n.name) } }
                else if n.op.isDataMovement || n.op.fakeQuant != nil { stack.append(contentsOf: n.outputs) }
            }
        }
        // Last convs: reached backwards from the output through anything but another conv.
        stack = g.outputs.map(\.name)
        seen = []
        while let v = stack.popLast() {
            guard seen.insert(v).inserted, let p = producers[v] else { continue }
            let n = g.nodes[p]
            if case .conv = n.op { edges.insert(n.name) } else { stack.append(contentsOf: n.inputs.filter { !$0.isEmpty }) }
        }
        // The rest of the tail: every conv between the last join (a node combining two computed
        // values: residual Add, Concat, Mul by an attention map) and the output, i.e. EDSR's
        // upsampler conv (part of its `tail` module, which PAMS keeps in float). These convs feed
        // the output with no later path to average their error, and their input grid is what
        // matters: EDSR -b 4 loses 2.1 dB with a 4-bit upsampler conv, 0.39 dB with an 8-bit
        // one; they keep body weight bits (EDSR's upsampler holds a fifth of its weights) and
        // get edge input bits. A chain without joins (SRCNN-like) has no such tail.
        var tail: [String] = []
        var cursor = g.outputs.first?.name
        while let v = cursor, let p = producers[v] {
            let n = g.nodes[p]
            let computed = n.inputs.filter { !$0.isEmpty && g.initializers[$0] == nil }
            if case .conv = n.op { tail.append(n.name); cursor = n.inputs[0]; continue }
            if computed.count > 1 { wideInputs.formUnion(tail); break }
            cursor = computed.first
        }
        // Convs on globally pooled values ([C,1,1] inputs: attention branches) cost nothing
        // and scale whole channels: their inputs get edge bits too.
        for n in g.nodes where n.op.convAttributes != nil {
            if let s = g.info(of: n.inputs[0])?.shape, s.count == 4, s[2].value == 1, s[3].value == 1 { wideInputs.insert(n.name) }
        }
        wideInputs.subtract(edges)
        for n in g.nodes {
            guard case .conv = n.op else { continue }
            if let b = o.overrides[n.name] { inputBits[n.name] = b; weightBits[n.name] = b }
            else if edges.contains(n.name) || wideInputs.contains(n.name) {
                inputBits[n.name] = o.edgeActivationBits ?? o.edgeBits
                weightBits[n.name] = edges.contains(n.name) ? o.edgeBits : o.weightBits
            }
            else { inputBits[n.name] = o.activationBits; weightBits[n.name] = o.weightBits }
        }
    }
}
