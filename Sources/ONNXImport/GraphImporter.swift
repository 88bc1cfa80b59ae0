import SRGraph

/// The state of one import: every value seen so far (known or run-time with its shape),
/// the translated nodes and the initializers they use.
struct GraphImporter {
    let model: ONNXModel
    let file: String
    let opset: Int
    var values: [String: ImportValue] = [:]
    var inputs: [ValueInfo] = []
    var pending: [PendingNode] = []
    var initializers: [String: Tensor] = [:]
    var usedNames = Set<String>()

    init(model: ONNXModel, file: String, constantInputs: [String: Tensor], opsetOverride: Int? = nil) throws {
        self.model = model
        self.file = file
        let defaults = model.opsets.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let declared = defaults.map(\.version).max() else {
            throw ImportError(.unsupportedOpset, file: file, "model imports no opset of the default ONNX domain")
        }
        let version = opsetOverride.map(Int64.init) ?? declared
        guard ONNXImporter.supportedOpsets.contains(Int(clamping: version)) else {
            throw ImportError(.unsupportedOpset, file: file, opset: Int(clamping: version),
                              "opset \(version) is not supported (supported: \(ONNXImporter.supportedOpsets.lowerBound)...\(ONNXImporter.supportedOpsets.upperBound))")
        }
        opset = Int(version)

        let g = model.graph
        for t in g.initializers {
            values[t.name] = .constant(try TensorDecoding.decode(t, file: file, what: "initializer"))
        }
        for (name, t) in constantInputs { values[name] = .constant(HostTensor(t)) }
        for v in g.inputs where values[v.name] == nil {
            let info = try Self.graphInput(v, file: file)
            inputs.append(info)
            values[v.name] = .runtime(info.shape)
        }
    }

    /// A graph input: float32 only; dynamic dims become symbols (see ONNXImporter).
    static func graphInput(_ v: ONNXValueInfo, file: String) throws -> ValueInfo {
        guard let elem = v.elemType else {
            throw ImportError(.unsupportedType, file: file, "graph input '\(v.name)' is not a tensor")
        }
        guard elem == 1 else {
            throw ImportError(.unsupportedType, file: file,
                              "graph input '\(v.name)' has element type \(TensorDecoding.typeName(elem)); only float32 inputs are supported")
        }
        guard let dims = v.dims else {
            throw ImportError(.invalidGraph, file: file, "graph input '\(v.name)' has no shape (its rank must be known)")
        }
        var shape: Shape = []
        for (axis, d) in dims.enumerated() {
            switch d {
            case .value(let n) where n >= 0: shape.append(.known(Int(n)))
            case .value(let n): throw ImportError(.malformed, file: file, "graph input '\(v.name)' has dim \(n)")
            case .param(let p):
                shape.append(Self.symbol(input: v.name, rank: dims.count, axis: axis, param: p))
            case .unknown:
                shape.append(Self.symbol(input: v.name, rank: dims.count, axis: axis, param: nil))
            }
        }
        return ValueInfo(name: v.name, dtype: .float32, shape: shape)
    }

    static func symbol(input: String, rank: Int, axis: Int, param: String?) -> Dim {
        if rank == 4 {
            switch axis {
            case 0: return .known(1)
            case 2: return .symbolic("H")
            case 3: return .symbolic("W")
            default: break
            }
        }
        return .symbolic(param ?? "\(input)_\(axis)")
    }

    // MARK: the walk

    mutating func run() throws -> Graph {
        for (index, node) in try orderedNodes().enumerated() {
            try importNode(node, index: index)
        }
        let g = model.graph
        var outputs: [ValueInfo] = []
        for o in g.outputs {
            guard let v = values[o.name] else {
                throw ImportError(.undefinedValue, file: file, "graph output '\(o.name)' is never produced")
            }
            if let elem = o.elemType, elem != 1, !(v.constant?.isFloat ?? false) {
                throw ImportError(.unsupportedType, file: file,
                                  "graph output '\(o.name)' has element type \(TensorDecoding.typeName(elem)); only float32 outputs are supported")
            }
            if let t = v.constant {
                guard t.isFloat, let tensor = t.tensor else {
                    throw ImportError(.unsupportedType, file: file, "graph output '\(o.name)' is an integer constant; only float32 outputs are supported")
                }
                initializers[o.name] = tensor
            }
            outputs.append(ValueInfo(name: o.name, dtype: .float32, shape: v.shape))
        }

        var shapes: [String: Shape] = [:]
        for (k, v) in values { if case .runtime(let s) = v { shapes[k] = s } }
        let rewritten = PixelShuffleRewrite.apply(pending, shapes: shapes, graphOutputs: Set(outputs.map(\.name)))
        var nodes: [Node] = []
        for p in rewritten {
            switch p.kind {
            case .op(let op): nodes.append(Node(name: p.name, op: op, inputs: p.inputs, outputs: p.outputs))
            case .reshape(let target, _):
                let inShape = shapes[p.inputs[0]] ?? []
                guard let lowered = ReshapeLowering.integerTarget(input: inShape, output: target) else {
                    throw ImportError(.unsupportedAttribute, file: file, node: p.name, op: p.onnxOp, opset: opset,
                                      "Reshape from \(inShape.text) to \(target.text) depends on the input size in a way the IR cannot express")
                }
                nodes.append(Node(name: p.name, op: .reshape(shape: lowered.shape, allowZero: lowered.allowZero),
                                  inputs: p.inputs, outputs: p.outputs))
            }
        }

        var graph = Graph(name: g.name.isEmpty ? file : g.name, inputs: inputs, outputs: outputs,
                          initializers: initializers, nodes: nodes, metadata: metadata())
        do {
            try graph.sortTopologically()
            graph.removeDeadCode()
            try graph.inferShapes()
        } catch let e as GraphError {
            throw ImportError(.invalidGraph, file: file, node: e.node, op: e.op, opset: opset, e.message)
        }
        return graph
    }

    func metadata() -> [String: String] {
        var producer = model.producerName
        if !model.producerVersion.isEmpty { producer += (producer.isEmpty ? "" : " ") + model.producerVersion }
        return ["source": file, "producer": producer, "opset": String(opset)]
    }

    /// The nodes in dependency order (ONNX requires it; tolerate files that do not).
    func orderedNodes() throws -> [ONNXNode] {
        var available = Set(values.keys)
        var remaining = model.graph.nodes
        var out: [ONNXNode] = []
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { $0.inputs.allSatisfy { $0.isEmpty || available.contains($0) } }) else {
                let n = remaining[0]
                let missing = n.inputs.first { !$0.isEmpty && !available.contains($0) } ?? "?"
                throw ImportError(.undefinedValue, file: file, node: n.name.isEmpty ? n.opType : n.name, op: n.opType, opset: opset,
                                  "input '\(missing)' is not a graph input, an initializer or any node's output")
            }
            let n = remaining.remove(at: i)
            out.append(n)
            available.formUnion(n.outputs.filter { !$0.isEmpty })
        }
        return out
    }

    mutating func uniqueName(_ node: ONNXNode, index: Int) -> String {
        var name = node.name.isEmpty ? "\(node.opType)_\(index)" : node.name
        if usedNames.contains(name) {
            var k = 1
            while usedNames.contains("\(name)_\(k)") { k += 1 }
            name = "\(name)_\(k)"
        }
        usedNames.insert(name)
        return name
    }

    mutating func importNode(_ node: ONNXNode, index: Int) throws {
        let name = uniqueName(node, index: index)
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw ImportError(.unsupportedOpset, file: file, node: name, op: node.opType, opset: opset,
                              "operator domain '\(node.domain)' is not supported (only the default ONNX domain)")
        }
        let resolved = node.inputs.map { $0.isEmpty ? nil : values[$0] }
        let c = NodeContext(node: node, name: name, opset: opset, file: file, inputs: resolved)

        if node.opType == "Constant" {
            try define(c, [try constantValue(c)])
            return
        }
        if let folded = try ConstantFolding.fold(c) {
            try define(c, folded)
            return
        }
        guard OpTranslation.translatedOps.contains(node.opType) else {
            if OpTranslation.foldedOnlyOps.contains(node.opType) {
                throw c.error(.unsupportedOperator, "\(node.opType) is only supported on constants (folded at import), not on run-time tensors")
            }
            throw c.error(.unsupportedOperator, "unsupported operator")
        }
        let (kind, used) = try OpTranslation.translate(c)
        var irInputs: [String] = []
        var shapes: [Shape?] = []
        for i in used {
            guard i < node.inputs.count, let v = resolved[i] else {
                throw c.error(.invalidGraph, "missing required input \(i)")
            }
            let inputName = node.inputs[i]
            if let t = v.constant {
                guard t.isFloat, let tensor = t.tensor else {
                    throw c.error(.unsupportedType, "input '\(inputName)' is an integer tensor; only float32 data is supported")
                }
                initializers[inputName] = tensor
            }
            irInputs.append(inputName)
            shapes.append(v.shape)
        }
        let outs: [Shape]
        switch kind {
        case .op(let op):
            let probe = Node(name: name, op: op, inputs: irInputs, outputs: node.outputs)
            do { outs = try op.outputShapes(of: probe, inputs: shapes) } catch let e as GraphError {
                throw c.error(.invalidGraph, e.message)
            }
        case .reshape(let target, _):
            outs = [target]
        }
        for (o, s) in zip(node.outputs, outs) where !o.isEmpty { values[o] = .runtime(s) }
        pending.append(PendingNode(name: name, kind: kind, inputs: irInputs, outputs: node.outputs, onnxOp: node.opType))
    }

    mutating func define(_ c: NodeContext, _ results: [HostTensor]) throws {
        guard results.count >= c.node.outputs.filter({ !$0.isEmpty }).count else {
            throw c.error(.invalidGraph, "node has \(c.node.outputs.count) outputs, evaluation gave \(results.count)")
        }
        for (o, t) in zip(c.node.outputs, results) where !o.isEmpty { values[o] = .constant(t) }
    }

    /// Constant: value (tensor), value_float(s), value_int(s).
    func constantValue(_ c: NodeContext) throws -> HostTensor {
        if let t = try c.tensor("value") { return t }
        if c.has("value_float") { return HostTensor(shape: [], floats: [try c.float("value_float", 0)]) }
        if let f = try c.floats("value_floats") { return HostTensor(shape: [f.count], floats: f) }
        if c.has("value_int") { return HostTensor(shape: [], ints: [Int64(try c.int("value_int", 0))]) }
        if let i = try c.ints("value_ints") { return HostTensor(shape: [i.count], ints: i.map(Int64.init)) }
        for key in ["sparse_value", "value_string", "value_strings"] where c.has(key) {
            throw c.unsupported("Constant with \(key) is not supported")
        }
        throw c.error(.malformed, "Constant has no value")
    }
}
