import SRRuntime
import Foundation
import SRGraph
import FloatKernelsCommon
import FloatKernelsAVX2
import FloatKernelsAVX512

/// Runs a `Graph` in fp32. `init` validates the graph, plans fusions and packs conv weights;
/// `run` binds the symbolic sizes from the actual inputs, computes every shape with the IR's
/// shape rules, executes node by node and frees each intermediate after its last use.
public final class FloatEngine {
    public let graph: Graph
    public let threads: Int
    public let kernels: KernelChoice
    private let isa: ConvISA?
    private let steps: [Step]
    /// Values to drop after each step (their last reader), so big images keep memory bounded.
    private let releaseAfter: [[String]]

    /// One unit of execution: a graph node, or a conv with its activation node fused in.
    private struct Step {
        var node: Node              // the node whose op runs (the conv, for a fused pair)
        var outputs: [String]       // the fused activation's output for a fused pair
        var conv: PreparedConv?     // set when a fast conv kernel runs this node
    }

    public init(graph: Graph, threads: Int? = nil, kernels: KernelChoice = .best) throws {
        var checked = graph
        try checked.inferShapes()   // validates every node statically (names the failing node)
        // A graph without inputs is legal (its outputs are constants); one without outputs is not.
        guard !graph.outputs.isEmpty else { throw GraphError("graph '\(graph.name)' has no outputs") }
        self.graph = checked
        self.threads = max(1, threads ?? defaultThreadCount())
        self.kernels = kernels
        self.isa = try EngineISA.isa(for: kernels)

        let outputNames = Set(graph.outputs.map(\.name))
        var readers: [String: Int] = [:]
        for node in graph.nodes { for i in node.inputs where !i.isEmpty { readers[i, default: 0] += 1 } }

        var steps: [Step] = []
        var fusedAway = Set<Int>()
        for (index, node) in graph.nodes.enumerated() where !fusedAway.contains(index) {
            var step = Step(node: node, outputs: node.outputs, conv: nil)
            if case .conv(let a) = node.op, let isa, PreparedConv.supports(a),
               let w = graph.initializers[node.inputs[1]], w.dtype == .float32 {
                let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? graph.initializers[node.inputs[2]] : nil
                let biasIsDynamic = node.inputs.count > 2 && !node.inputs[2].isEmpty && bias == nil
                if !biasIsDynamic {
                    let conv = PreparedConv(weight: w, bias: bias, attributes: a, isa: isa)
                    // Fuse the activation when it is the conv output's only reader (and the
                    // conv output itself is not a graph output).
                    let out = node.outputs[0]
                    if a.activation == nil, readers[out] == 1, !outputNames.contains(out),
                       let next = graph.nodes.indices.dropFirst(index + 1).first(where: { graph.nodes[$0].inputs.contains(out) }) {
                        let fused: FusedActivation?
                        switch graph.nodes[next].op {
                        case .relu: fused = .relu
                        case .leakyRelu(let alpha): fused = .leakyRelu(alpha)
                        case .clip(let lo, let hi): fused = .clip(lo, hi)
                        default: fused = nil
                        }
                        if let fused {
                            conv.activation = fused
                            step.outputs = graph.nodes[next].outputs
                            fusedAway.insert(next)
                        }
                    }
                    step.conv = conv
                }
            }
            steps.append(step)
        }
        self.steps = steps

        var lastUse: [String: Int] = [:]
        for (i, s) in steps.enumerated() { for v in s.node.inputs where !v.isEmpty { lastUse[v] = i } }
        var release = [[String]](repeating: [], count: steps.count)
        for (v, i) in lastUse where !outputNames.contains(v) && graph.initializers[v] == nil { release[i].append(v) }
        self.releaseAfter = release
    }

    /// Convenience for the usual single-input, single-output SR graph.
    public func run(_ input: Tensor) throws -> Tensor {
        guard graph.inputs.count == 1, graph.outputs.count == 1 else {
            throw GraphError("graph '\(graph.name)' has \(graph.inputs.count) inputs and \(graph.outputs.count) outputs; use run(_:) with a dictionary")
        }
        return try run([graph.inputs[0].name: input])[graph.outputs[0].name]!
    }

    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        let shapes = try concreteShapes(inputs)
        var values: [String: Tensor] = [:]
        for info in graph.inputs { values[info.name] = inputs[info.name] }
        // Fast kernels recycle the buffers of freed intermediates (the caller's inputs are
        // never recycled: the caller still holds them).
        var lastProducer: [Int: Int] = [:]
        for (index, step) in steps.enumerated() {
            for name in step.outputs where !name.isEmpty { lastProducer[shapes[name]?.reduce(1, *) ?? 0] = index }
        }
        let pool: BufferPool? = isa != nil ? BufferPool(lastProducer: lastProducer) : nil
        let inputNames = Set(graph.inputs.map(\.name))
        func value(_ name: String) -> Tensor? { values[name] ?? graph.initializers[name] }

        for (index, step) in steps.enumerated() {
            let node = step.node
            let ins: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : value($0) }
            for (name, t) in zip(node.inputs, ins) where !name.isEmpty && t == nil {
                throw GraphError(node, "input '\(name)' has no value")
            }
            let outShapes = node.outputs.map { shapes[$0] ?? [] }
            let results: [Tensor]
            if let conv = step.conv {
                results = [conv.run(ins[0]!, outputShape: outShapes[0], threads: threads, pool: pool)]
            } else {
                results = try execute(node, ins, outShapes, pool: pool)
            }
            for (name, t) in zip(step.outputs, results) where !name.isEmpty { values[name] = t }
            for name in releaseAfter[index] {
                guard let t = values.removeValue(forKey: name) else { continue }
                if let pool, t.dtype == .float32, !inputNames.contains(name) { pool.give(t.floats, after: index) }
            }
        }
        var out: [String: Tensor] = [:]
        for o in graph.outputs {
            guard let t = value(o.name) else { throw GraphError("graph output '\(o.name)' was not computed") }
            out[o.name] = t
        }
        return out
    }

    /// Binds the symbols from the inputs and evaluates every value's shape with the IR rules.
    private func concreteShapes(_ inputs: [String: Tensor]) throws -> [String: [Int]] {
        // Symbols bind from any input's dims: plain ones first (H), then exact linear ones (2*H + 1),
        // so a graph whose inputs are cut from a larger one (SRQuant's segments) binds too.
        var bindings: [String: Int] = [:]
        for exactOnly in [true, false] {
            for info in graph.inputs {
                guard let t = inputs[info.name], t.shape.count == info.shape.count else { continue }
                for (d, actual) in zip(info.shape, t.shape) {
                    guard let sym = d.symbol, bindings[sym] == nil, d.divisor == 1, d.coefficient > 0 else { continue }
                    if exactOnly && (d.coefficient != 1 || d.offset != 0) { continue }
                    let v = actual - d.offset
                    if v % d.coefficient == 0 { bindings[sym] = v / d.coefficient }
                }
            }
        }
        var shapes: [String: [Int]] = [:]
        for info in graph.inputs {
            let reader = graph.nodes.first { $0.inputs.contains(info.name) }
            func fail(_ message: String) -> GraphError {
                GraphError(node: reader?.name, op: reader?.op.name, "graph input '\(info.name)': \(message)")
            }
            guard let t = inputs[info.name] else { throw fail("no tensor given") }
            guard t.dtype == info.dtype else { throw fail("dtype \(t.dtype.rawValue), expected \(info.dtype.rawValue)") }
            guard t.shape.count == info.shape.count else {
                throw fail("rank \(t.shape.count) (shape \(t.shape)), expected rank \(info.shape.count) \(info.shape.text)")
            }
            for (axis, (d, actual)) in zip(info.shape, t.shape).enumerated() {
                guard let expected = d.evaluate(bindings), expected == actual else {
                    throw fail("dim \(axis) is \(actual), expected \(d) (shape \(t.shape) vs \(info.shape.text))")
                }
            }
            shapes[info.name] = t.shape
        }
        for (name, t) in graph.initializers { shapes[name] = t.shape }
        for node in graph.nodes {
            let ins: [Shape?] = node.inputs.map { $0.isEmpty ? nil : shapes[$0].map { Shape(known: $0) } }
            let outs = try node.op.outputShapes(of: node, inputs: ins)
            for (name, s) in zip(node.outputs, outs) where !name.isEmpty {
                guard let known = s.knownValues else { throw GraphError(node, "output shape \(s.text) not concrete") }
                if known.contains(where: { $0 < 0 }) { throw GraphError(node, "negative output dim in \(known)") }
                shapes[name] = known
            }
        }
        return shapes
    }

    /// Runs one node with the reference kernels, or the fast elementwise paths when allowed.
    private func execute(_ node: Node, _ ins: [Tensor?], _ outShapes: [[Int]], pool: BufferPool?) throws -> [Tensor] {
        let fast = isa != nil
        let x = ins[0]!
        if x.dtype != .float32 {
            switch node.op {
            case .identity, .reshape: break
            default: throw GraphError(node, "int64 tensors are only supported by Identity and Reshape")
            }
        }
        switch node.op {
        case .conv(let a):
            guard let w = ins[1], w.dtype == .float32 else { throw GraphError(node, "weight must be float32") }
            let b = ins.count > 2 ? ins[2] : nil
            return [conv2DReference(x, weight: w, bias: b, a, outputShape: outShapes[0])]
        case .relu, .leakyRelu, .clip, .sigmoid, .sqrt:
            if fast, let r = unaryFast(node.op, x, threads: threads, pool: pool) { return [r] }
            return [unaryReference(node.op, x)]
        case .prelu:
            return [preluReference(x, slope: ins[1]!)]
        case .fakeQuantize(let q):
            if let alphas = q.channelAlphas {
                // Per-channel grids along axis 1.
                guard x.shape.count >= 2, x.shape[1] == alphas.count else {
                    throw GraphError(node, "\(alphas.count) channel alphas for shape \(x.shape)")
                }
                if let isa { return [fakeQuantizeFast(q, x, isa: isa, threads: threads, pool: pool)] }
                let c = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
                var out = x.floats
                out.withUnsafeMutableBufferPointer { o in
                    for block in 0..<(o.count / plane) {
                        let grid = q.channel(block % c)
                        for i in (block * plane)..<((block + 1) * plane) { o[i] = grid.apply(o[i]) }
                    }
                }
                return [Tensor(shape: x.shape, floats: out)]
            }
            if let isa { return [fakeQuantizeFast(q, x, isa: isa, threads: threads, pool: pool)] }
            return [Tensor(shape: x.shape, floats: x.floats.map(q.apply))]
        case .add, .sub, .mul, .div, .pow:
            let b = ins[1]!
            if fast, let r = binaryFast(node.op, x, b, outputShape: outShapes[0], threads: threads, pool: pool) { return [r] }
            return [broadcastBinaryReference(x, b, outputShape: outShapes[0], binaryFunction(node.op))]
        case .identity:
            return [x]
        case .reshape:
            return [reshapeReference(x, to: outShapes[0])]
        case .concat(let axis):
            let r = outShapes[0].count
            if fast, ins.allSatisfy({ $0!.dtype == .float32 }) {
                return [concatFast(ins.map { $0! }, axis: axis < 0 ? axis + r : axis, outputShape: outShapes[0],
                                   threads: threads, pool: pool)]
            }
            return [concatReference(ins.map { $0! }, axis: axis < 0 ? axis + r : axis, outputShape: outShapes[0])]
        case .split(let axis, _):
            let r = x.shape.count
            if fast { return splitFast(x, axis: axis < 0 ? axis + r : axis, outputShapes: outShapes, threads: threads, pool: pool) }
            return splitReference(x, axis: axis < 0 ? axis + r : axis, outputShapes: outShapes)
        case .depthToSpace(let b, let mode):
            if fast { return [depthToSpaceFast(x, blockSize: b, mode: mode, threads: threads, pool: pool)] }
            return [depthToSpaceReference(x, blockSize: b, mode: mode)]
        case .reduceMean(let axes, _):
            if fast, let r = reduceMeanFast(x, axes: axes, outputShape: outShapes[0], threads: threads) { return [r] }
            return [reduceMeanReference(x, axes: axes, outputShape: outShapes[0])]
        case .transpose(let perm):
            return [transposeReference(x, perm: perm)]
        case .resizeNearest(let a):
            return [resizeNearestReference(x, a, outputShape: outShapes[0])]
        }
    }
}
