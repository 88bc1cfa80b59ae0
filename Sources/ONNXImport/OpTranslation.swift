import SRGraph

/// A translated node before the final passes. Reshapes keep their symbolic target (the
/// output shape, `Dim`s) until the pixel-shuffle rewrite has seen them; lowering then turns
/// the target into the IR's integer form (0 = copy, -1 = infer).
struct PendingNode {
    enum Kind {
        case op(Op)
        case reshape(target: Shape, allowZero: Bool)
    }
    var name: String
    var kind: Kind
    var inputs: [String]
    var outputs: [String]
    /// For error messages after translation.
    var onnxOp: String
}

/// ONNX op -> IR op, one case per supported operator.
enum OpTranslation {
    /// The ONNX op types translated into IR ops (others can only be folded at import).
    static let translatedOps: Set<String> = [
        "Conv", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "Sqrt", "Add", "Sub", "Mul", "Div", "Pow",
        "Identity", "Concat", "Split", "DepthToSpace", "ReduceMean", "Reshape", "Transpose", "Resize",
    ]

    /// Ops evaluated only at import, when their inputs are constant.
    static let foldedOnlyOps: Set<String> = [
        "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Slice", "ConstantOfShape", "Flatten",
        "Neg", "Floor", "Ceil", "Exp", "Reciprocal",
    ]

    /// Inputs (by position) that must be constant because they become IR attributes.
    static func parameterInputs(opType: String) -> [Int] {
        switch opType {
        case "Clip": return [1, 2]
        case "Reshape", "Split", "ReduceMean": return [1]
        case "Resize": return [1, 2, 3]
        default: return []
        }
    }

    static func translate(_ c: NodeContext) throws -> (PendingNode.Kind, inputs: [Int]) {
        func simple(_ op: Op, _ count: Int) throws -> (PendingNode.Kind, inputs: [Int]) {
            for i in 0..<count where c.input(i) == nil { throw c.error(.invalidGraph, "missing required input \(i)") }
            return (.op(op), Array(0..<count))
        }
        switch c.op {
        case "Conv": return try conv(c)
        case "Relu": return try simple(.relu, 1)
        case "Sigmoid": return try simple(.sigmoid, 1)
        case "Sqrt": return try simple(.sqrt, 1)
        case "Identity": return try simple(.identity, 1)
        case "LeakyRelu": return try simple(.leakyRelu(alpha: try c.float("alpha", 0.01)), 1)
        case "PRelu": return try simple(.prelu, 2)
        case "Add": return try simple(.add, 2)
        case "Sub": return try simple(.sub, 2)
        case "Mul": return try simple(.mul, 2)
        case "Div": return try simple(.div, 2)
        case "Pow": return try simple(.pow, 2)
        case "Clip":
            func bound(_ i: Int, _ what: String, _ fallback: Float) throws -> Float {
                guard let v = try c.constantFloats(i, what) else { return fallback }
                guard v.count == 1 else { throw c.error(.invalidGraph, "\(what) must be a scalar, got \(v.count) values") }
                return v[0]
            }
            return try simple(.clip(min: try bound(1, "Clip min", -.infinity), max: try bound(2, "Clip max", .infinity)), 1)
        case "Concat":
            let present = c.inputs.indices.filter { c.inputs[$0] != nil }
            guard !present.isEmpty else { throw c.error(.invalidGraph, "Concat needs inputs") }
            guard c.has("axis") else { throw c.error(.invalidGraph, "Concat needs an axis attribute") }
            return (.op(.concat(axis: try c.int("axis", 1))), present)
        case "Split": return try split(c)
        case "DepthToSpace":
            let mode = try c.string("mode", "DCR")
            guard let m = DepthToSpaceMode(rawValue: mode) else { throw c.unsupported("DepthToSpace mode '\(mode)' is not supported") }
            let b = try c.int("blocksize", 0)
            guard b >= 1 else { throw c.error(.invalidGraph, "DepthToSpace blocksize \(b) is invalid") }
            return try simple(.depthToSpace(blockSize: b, mode: m), 1)
        case "ReduceMean":
            let keep = try c.int("keepdims", 1) != 0
            let axes = c.opset >= 18 ? try c.constantInts(1, "ReduceMean axes") : try c.ints("axes")
            if axes?.isEmpty ?? true, c.opset >= 18, try c.int("noop_with_empty_axes", 0) != 0 {
                return try simple(.identity, 1)
            }
            return try simple(.reduceMean(axes: (axes?.isEmpty ?? true) ? nil : axes, keepDims: keep), 1)
        case "Reshape":
            guard let t = try c.constantInput(1, "Reshape shape") else { throw c.error(.invalidGraph, "Reshape needs a shape input") }
            guard let target = t.dims else { throw c.error(.unsupportedType, "Reshape shape must be an integer tensor") }
            let allowZero = try c.int("allowzero", 0) != 0
            return (.reshape(target: try resolveSymbolicReshape(c, input: try c.shape(0), target: target, allowZero: allowZero),
                             allowZero: allowZero), [0])
        case "Transpose":
            let r = try c.shape(0).count
            return try simple(.transpose(perm: try c.ints("perm") ?? Array((0..<r).reversed())), 1)
        case "Resize": return try resize(c)
        default:
            throw c.error(.unsupportedOperator, "unsupported operator")
        }
    }

    static func conv(_ c: NodeContext) throws -> (PendingNode.Kind, inputs: [Int]) {
        let x = try c.shape(0), w = try c.shape(1)
        guard x.count == 4 else {
            throw c.error(.invalidGraph, "input '\(c.node.inputs[0])' has rank \(x.count) (shape \(x.text)); only 2-D convolution on [N,C,H,W] is supported")
        }
        guard w.count == 4 else { throw c.error(.invalidGraph, "weight has rank \(w.count); expected [M, C/group, kh, kw]") }
        var kernel = try c.ints("kernel_shape") ?? []
        if kernel.isEmpty {
            guard let kh = w[2].value, let kw = w[3].value else { throw c.error(.invalidGraph, "kernel size unknown") }
            kernel = [kh, kw]
        }
        let strides = try c.ints("strides") ?? [1, 1]
        let dilations = try c.ints("dilations") ?? [1, 1]
        let pads = try c.ints("pads") ?? [0, 0, 0, 0]
        guard kernel.count == 2, strides.count == 2, dilations.count == 2, pads.count == 4,
              kernel.allSatisfy({ $0 >= 1 }), strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }),
              pads.allSatisfy({ $0 >= 0 }) else {
            throw c.error(.invalidGraph, "invalid kernel_shape \(kernel) / strides \(strides) / dilations \(dilations) / pads \(pads)")
        }
        let autoPadText = try c.string("auto_pad", "NOTSET")
        guard let autoPad = AutoPad(rawValue: autoPadText) else { throw c.unsupported("auto_pad '\(autoPadText)' is not supported") }
        let group = try c.int("group", 1)
        guard group >= 1 else { throw c.error(.invalidGraph, "group \(group) is invalid") }
        let attrs = Conv2DAttributes(kernel: kernel, strides: strides, pads: autoPad == .notSet ? pads : [0, 0, 0, 0],
                                     dilations: dilations, group: group, autoPad: autoPad)
        return (.op(.conv(attrs)), c.input(2) == nil ? [0, 1] : [0, 1, 2])
    }

    static func split(_ c: NodeContext) throws -> (PendingNode.Kind, inputs: [Int]) {
        let x = try c.shape(0)
        let axis = try c.int("axis", 0)
        let a = axis < 0 ? axis + x.count : axis
        guard a >= 0 && a < x.count else { throw c.error(.invalidGraph, "axis \(axis) out of range for rank \(x.count)") }
        var sizes = c.opset >= 13 ? try c.constantInts(1, "Split sizes") : try c.ints("split")
        if sizes?.isEmpty ?? false { sizes = nil }
        let n = c.node.outputs.count
        if sizes == nil, c.opset >= 18, c.has("num_outputs") {
            let k = try c.int("num_outputs", n)
            guard k == n else { throw c.error(.invalidGraph, "num_outputs \(k) but \(n) outputs") }
            // ONNX 18: parts of ceil(d/n), the last one smaller when d is not divisible.
            if let d = x[a].value, d % n != 0 {
                let part = (d + n - 1) / n
                sizes = (0..<n).map { min(part, max(d - $0 * part, 0)) }
            }
        }
        return (.op(.split(axis: axis, sizes: sizes)), [0])
    }

    static func resize(_ c: NodeContext) throws -> (PendingNode.Kind, inputs: [Int]) {
        let x = try c.shape(0)
        let mode = try c.string("mode", "nearest")
        guard mode == "nearest" else {
            throw c.unsupported("Resize mode '\(mode)' is not supported (only nearest)")
        }
        let ctmText = try c.string("coordinate_transformation_mode", "half_pixel")
        guard let ctm = ResizeNearestAttributes.CoordinateTransformation(rawValue: ctmText) else {
            throw c.unsupported("Resize coordinate_transformation_mode '\(ctmText)' is not supported")
        }
        let nmText = try c.string("nearest_mode", "round_prefer_floor")
        guard let nm = ResizeNearestAttributes.NearestMode(rawValue: nmText) else {
            throw c.unsupported("Resize nearest_mode '\(nmText)' is not supported")
        }
        let policy = try c.string("keep_aspect_ratio_policy", "stretch")
        guard policy == "stretch" else { throw c.unsupported("Resize keep_aspect_ratio_policy '\(policy)' is not supported") }
        let r = x.count
        var axes = Array(0..<r)
        if let a = try c.ints("axes") {
            axes = try a.map { v in
                let k = v < 0 ? v + r : v
                guard k >= 0 && k < r else { throw c.error(.invalidGraph, "axis \(v) out of range") }
                return k
            }
        }
        var scales = Array(repeating: Float(1), count: r)
        if let s = try c.constantFloats(2, "Resize scales"), !s.isEmpty {
            guard s.count == axes.count else { throw c.error(.invalidGraph, "\(s.count) scales for \(axes.count) axes") }
            for (k, v) in zip(axes, s) { scales[k] = v }
        } else if let sizes = try c.constantInts(3, "Resize sizes"), !sizes.isEmpty {
            guard sizes.count == axes.count else { throw c.error(.invalidGraph, "\(sizes.count) sizes for \(axes.count) axes") }
            for (k, size) in zip(axes, sizes) {
                guard let d = x[k].value, d > 0 else {
                    throw c.unsupported("Resize sizes on a dynamic axis cannot be expressed as a scale; use scales")
                }
                var s = Float(size) / Float(d)
                while Int((Float(d) * s).rounded(.down)) < size { s = s.nextUp }
                scales[k] = s
            }
        } else {
            throw c.error(.invalidGraph, "Resize needs scales or sizes")
        }
        guard scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw c.error(.invalidGraph, "invalid scales \(scales)") }
        let attrs = ResizeNearestAttributes(scales: scales, coordinateTransformation: ctm, nearestMode: nm)
        return (.op(.resizeNearest(attrs)), [0])
    }

    /// The output shape of an ONNX Reshape whose target may hold symbolic dims.
    static func resolveSymbolicReshape(_ c: NodeContext, input: Shape, target: [Dim], allowZero: Bool) throws -> Shape {
        var out: [Dim?] = []
        var infer: Int? = nil
        for (i, t) in target.enumerated() {
            if t.value == 0 && !allowZero {
                guard i < input.count else { throw c.error(.invalidGraph, "Reshape 0 at axis \(i) beyond input rank \(input.count)") }
                out.append(input[i])
            } else if t.value == -1 {
                guard infer == nil else { throw c.error(.invalidGraph, "Reshape target has two -1") }
                infer = i; out.append(nil)
            } else if let v = t.value, v < 0 {
                throw c.error(.invalidGraph, "Reshape target dim \(v) is invalid")
            } else {
                out.append(t)
            }
        }
        if let k = infer {
            // Cancel equal symbolic dims on both sides, then divide what is left.
            var num = input, den = out.compactMap { $0 }
            for d in den where d.value == nil {
                if let j = num.firstIndex(of: d), let jj = den.firstIndex(of: d) { num.remove(at: j); den.remove(at: jj) }
            }
            guard let q = quotient(num, den) else {
                throw c.error(.invalidGraph, "cannot infer the -1 of Reshape target \(target.text) from input \(input.text)")
            }
            out[k] = q
        }
        return out.map { $0! }
    }

    /// prod(num) / prod(den) when representable as a Dim.
    private static func quotient(_ num: [Dim], _ den: [Dim]) -> Dim? {
        var n = 1, d = 1
        var sym: Dim? = nil
        for x in num { if let v = x.value { n *= v } else if sym == nil { sym = x } else { return nil } }
        for x in den { guard let v = x.value else { return nil }; d *= v }
        guard d != 0 else { return nil }
        guard let s = sym else { return n % d == 0 ? .known(n / d) : nil }
        return s.multiplied(by: n)?.exactlyDivided(by: d)
    }
}
