import SRGraph

/// One ONNX node being imported: its attributes, resolved inputs and the errors that name it.
struct NodeContext {
    let node: ONNXNode
    /// Unique name used in the IR (the ONNX name, or op type + index when the name is empty).
    let name: String
    let opset: Int
    let file: String
    /// Resolved inputs, aligned with `node.inputs` (nil for an omitted optional input).
    let inputs: [ImportValue?]

    var op: String { node.opType }

    func error(_ kind: ImportError.Kind, _ message: String) -> ImportError {
        ImportError(kind, file: file, node: name, op: op, opset: opset, message)
    }

    // MARK: attributes

    func has(_ key: String) -> Bool { node.attributes[key] != nil }

    func int(_ key: String, _ fallback: Int) throws -> Int {
        guard let a = node.attributes[key] else { return fallback }
        guard case .int(let v) = a, let i = Int(exactly: v) else { throw wrongType(key, "an int") }
        return i
    }

    func float(_ key: String, _ fallback: Float) throws -> Float {
        guard let a = node.attributes[key] else { return fallback }
        switch a {
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw wrongType(key, "a float")
        }
    }

    func string(_ key: String, _ fallback: String) throws -> String {
        guard let a = node.attributes[key] else { return fallback }
        guard case .string(let v) = a else { throw wrongType(key, "a string") }
        return v
    }

    func ints(_ key: String) throws -> [Int]? {
        guard let a = node.attributes[key] else { return nil }
        switch a {
        case .ints(let v):
            return try v.map { guard let i = Int(exactly: $0) else { throw wrongType(key, "ints") }; return i }
        case .int(let v): return [Int(v)]
        default: throw wrongType(key, "a list of ints")
        }
    }

    func floats(_ key: String) throws -> [Float]? {
        guard let a = node.attributes[key] else { return nil }
        switch a {
        case .floats(let v): return v
        case .float(let v): return [v]
        default: throw wrongType(key, "a list of floats")
        }
    }

    func tensor(_ key: String) throws -> HostTensor? {
        guard let a = node.attributes[key] else { return nil }
        guard case .tensor(let t) = a else { throw wrongType(key, "a tensor") }
        do { return try TensorDecoding.decode(t, file: file, what: "attribute '\(key)'") } catch var e as ImportError {
            e.node = name; e.op = op; e.opset = opset
            throw e
        }
    }

    private func wrongType(_ key: String, _ expected: String) -> ImportError {
        error(.malformed, "attribute '\(key)' should be \(expected)")
    }

    func unsupported(_ message: String) -> ImportError { error(.unsupportedAttribute, message) }

    // MARK: inputs

    func input(_ i: Int) -> ImportValue? { i < inputs.count ? inputs[i] : nil }

    /// The shape of a data input, which must be present.
    func shape(_ i: Int) throws -> Shape {
        guard let v = input(i) else { throw error(.invalidGraph, "missing required input \(i)") }
        return v.shape
    }

    /// A parameter input the compiler needs at compile time (Reshape's shape, Clip's bounds...).
    func constantInput(_ i: Int, _ what: String) throws -> HostTensor? {
        guard let v = input(i) else { return nil }
        guard let t = v.constant else {
            throw error(.nonConstantParameter,
                        "input '\(node.inputs[i])' (\(what)) must be a constant: the compiler needs it at compile time")
        }
        return t
    }

    /// Integer values of a constant parameter input (nil when the input is omitted).
    func constantInts(_ i: Int, _ what: String) throws -> [Int]? {
        guard let t = try constantInput(i, what) else { return nil }
        guard t.dims != nil else { throw error(.unsupportedType, "\(what) must be an integer tensor") }
        guard let v = t.knownInts else { throw error(.nonConstantParameter, "\(what) depends on the input size: \(t.dims!.map(\.description))") }
        return v
    }

    func constantFloats(_ i: Int, _ what: String) throws -> [Float]? {
        guard let t = try constantInput(i, what) else { return nil }
        guard let f = t.floats else { throw error(.unsupportedType, "\(what) must be a float tensor") }
        return f
    }
}
