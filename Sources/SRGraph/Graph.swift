/// A value's static description: name, element type and (possibly symbolic) shape.
public struct ValueInfo: Hashable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: Shape
    public init(name: String, dtype: DType = .float32, shape: Shape) {
        self.name = name; self.dtype = dtype; self.shape = shape
    }
}

/// One operation. `inputs` name values (graph inputs, initializers or other nodes' outputs);
/// an empty string marks an omitted optional input (ONNX's convention).
public struct Node: Hashable, Sendable {
    public var name: String
    public var op: Op
    public var inputs: [String]
    public var outputs: [String]
    public init(name: String, op: Op, inputs: [String], outputs: [String]) {
        self.name = name; self.op = op; self.inputs = inputs; self.outputs = outputs
    }
}

/// The IR: a dataflow graph in topological order, with constant weights and inferred shapes.
public struct Graph: Sendable {
    public var name: String
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Constant tensors (weights, biases, constants), by value name.
    public var initializers: [String: Tensor]
    /// Topologically sorted.
    public var nodes: [Node]
    /// Shapes of every value produced by a node, filled by `inferShapes()`.
    public var values: [String: ValueInfo]
    /// Where the graph came from (file name, producer, opset), shown in the dump header.
    public var metadata: [String: String]

    public init(name: String, inputs: [ValueInfo], outputs: [ValueInfo], initializers: [String: Tensor],
                nodes: [Node], metadata: [String: String] = [:]) {
        self.name = name; self.inputs = inputs; self.outputs = outputs
        self.initializers = initializers; self.nodes = nodes; self.values = [:]; self.metadata = metadata
    }

    /// The static info of any value: input, initializer or node output.
    public func info(of name: String) -> ValueInfo? {
        if let v = values[name] { return v }
        if let i = inputs.first(where: { $0.name == name }) { return i }
        if let t = initializers[name] { return ValueInfo(name: name, dtype: t.dtype, shape: Shape(known: t.shape)) }
        return nil
    }

    /// Number of float parameters (weights and biases) — for reports and compression ratios.
    public var parameterCount: Int { initializers.values.reduce(0) { $0 + $1.count } }
}

/// A malformed or unsupported graph, reported with the node (name and op) it concerns.
public struct GraphError: Error, CustomStringConvertible, Sendable {
    public var node: String?
    public var op: String?
    public var message: String
    public init(node: String? = nil, op: String? = nil, _ message: String) {
        self.node = node; self.op = op; self.message = message
    }
    public init(_ node: Node, _ message: String) {
        self.init(node: node.name, op: node.op.name, message)
    }
    public var description: String {
        var where_ = ""
        if let n = node { where_ += "node '\(n)'" }
        if let o = op { where_ += (where_.isEmpty ? "" : " ") + "(\(o))" }
        return where_.isEmpty ? message : "\(where_): \(message)"
    }
}
