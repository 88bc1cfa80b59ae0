import SRGraph

/// Import-time evaluation of nodes whose inputs are all known (and of `Shape`, whose result
/// is known from the symbolic shape of a run-time value). Integer results may hold symbolic
/// dims, which is how the shape-computation subgraphs of old exporters become constants.
enum ConstantFolding {
    /// Folds the node, or returns nil when this op is not evaluated at import (it is then translated).
    static func fold(_ c: NodeContext) throws -> [HostTensor]? {
        if c.op == "Shape" {
            guard let x = c.input(0) else { throw c.error(.invalidGraph, "Shape needs an input") }
            var dims = x.shape
            let r = dims.count
            let start = clampAxis(try c.int("start", 0), r), end = clampAxis(try c.int("end", r), r)
            dims = start < end ? Array(dims[start..<end]) : []
            return [HostTensor(shape: [dims.count], dims: dims)]
        }
        var t: [HostTensor?] = []
        for v in c.inputs {
            guard let v else { t.append(nil); continue }
            guard let k = v.constant else { return nil }
            t.append(k)
        }
        func arg(_ i: Int) throws -> HostTensor {
            guard i < t.count, let x = t[i] else { throw c.error(.invalidGraph, "missing required input \(i)") }
            return x
        }
        func ints(_ i: Int, _ what: String) throws -> [Int]? {
            guard i < t.count, let x = t[i] else { return nil }
            guard let v = x.knownInts else { throw c.error(.unsupportedType, "\(what) must be known integers") }
            return v
        }
        switch c.op {
        case "Identity":
            return [try arg(0)]
        case "Add", "Sub", "Mul", "Div", "Pow":
            return [try binary(c, try arg(0), try arg(1))]
        case "Sqrt", "Relu", "Sigmoid", "Neg", "Floor", "Ceil", "Exp", "Reciprocal":
            return [try unary(c, try arg(0))]
        case "Cast":
            return try cast(c, try arg(0)).map { [$0] }
        case "Reshape":
            let x = try arg(0)
            guard let target = try ints(1, "Reshape shape") else { throw c.error(.invalidGraph, "Reshape needs a shape") }
            let shape = try resolveReshape(c, input: x.shape, target: target, allowZero: try c.int("allowzero", 0) != 0)
            return [x.reshaped(shape)]
        case "Flatten":
            let x = try arg(0)
            let a = try normalizedAxis(c, try c.int("axis", 1), x.shape.count + 1)
            return [x.reshaped([x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)])]
        case "Unsqueeze":
            let x = try arg(0)
            guard let axes = try (c.opset >= 13 ? ints(1, "Unsqueeze axes") : c.ints("axes")) else {
                throw c.error(.invalidGraph, "Unsqueeze needs axes")
            }
            let r = x.shape.count + axes.count
            let norm = Set(try axes.map { try normalizedAxis(c, $0, r) })
            guard norm.count == axes.count else { throw c.error(.invalidGraph, "repeated Unsqueeze axes \(axes)") }
            var shape: [Int] = [], it = x.shape.makeIterator()
            for i in 0..<r { shape.append(norm.contains(i) ? 1 : (it.next() ?? 1)) }
            return [x.reshaped(shape)]
        case "Squeeze":
            let x = try arg(0)
            let axes = try (c.opset >= 13 ? ints(1, "Squeeze axes") : c.ints("axes"))
            let norm = try axes.map { Set(try $0.map { try normalizedAxis(c, $0, x.shape.count) }) }
            var shape: [Int] = []
            for (i, d) in x.shape.enumerated() {
                if let norm {
                    if norm.contains(i) {
                        guard d == 1 else { throw c.error(.invalidGraph, "cannot squeeze axis \(i) of size \(d)") }
                        continue
                    }
                } else if d == 1 { continue }
                shape.append(d)
            }
            return [x.reshaped(shape)]
        case "Transpose":
            let x = try arg(0)
            let r = x.shape.count
            let perm = try c.ints("perm") ?? Array((0..<r).reversed())
            guard perm.count == r, Set(perm) == Set(0..<r) else { throw c.error(.invalidGraph, "perm \(perm) invalid for rank \(r)") }
            let inStrides = strides(x.shape)
            let outShape = perm.map { x.shape[$0] }
            let idx = indices(outShape).map { o in zip(o, perm).reduce(0) { $0 + $1.0 * inStrides[$1.1] } }
            return [x.picking(idx, shape: outShape)]
        case "Concat":
            let parts = t.compactMap { $0 }
            guard let first = parts.first else { throw c.error(.invalidGraph, "Concat needs inputs") }
            let r = first.shape.count
            let a = try normalizedAxis(c, try c.int("axis", 0), r)
            for p in parts where p.shape.count != r || p.isFloat != first.isFloat || (0..<r).contains(where: { $0 != a && p.shape[$0] != first.shape[$0] }) {
                throw c.error(.invalidGraph, "Concat inputs do not match: \(parts.map(\.shape))")
            }
            let joined = HostTensor.joined(parts)
            var outShape = first.shape
            outShape[a] = parts.reduce(0) { $0 + $1.shape[a] }
            let outer = first.shape[..<a].reduce(1, *)
            var idx: [Int] = [], base = 0
            var bases: [Int] = []
            for p in parts { bases.append(base); base += p.count }
            for o in 0..<outer {
                for (p, b) in zip(parts, bases) {
                    let block = p.shape[a...].reduce(1, *)
                    idx.append(contentsOf: (b + o * block)..<(b + (o + 1) * block))
                }
            }
            return [joined.picking(idx, shape: outShape)]
        case "Gather":
            let x = try arg(0)
            let iv = try arg(1)
            guard let raw = iv.knownInts else { throw c.error(.unsupportedType, "Gather indices must be known integers") }
            let a = try normalizedAxis(c, try c.int("axis", 0), x.shape.count)
            let n = x.shape[a]
            let ind = try raw.map { i -> Int in
                let v = i < 0 ? i + n : i
                guard v >= 0 && v < n else { throw c.error(.invalidGraph, "Gather index \(i) out of range for size \(n)") }
                return v
            }
            let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *)
            var idx: [Int] = []
            for o in 0..<outer { for i in ind { idx.append(contentsOf: ((o * n + i) * inner)..<((o * n + i + 1) * inner)) } }
            return [x.picking(idx, shape: Array(x.shape[..<a]) + iv.shape + Array(x.shape[(a + 1)...]))]
        case "Slice":
            let x = try arg(0)
            guard let starts = try ints(1, "Slice starts"), let ends = try ints(2, "Slice ends") else {
                throw c.error(.invalidGraph, "Slice needs starts and ends")
            }
            let axes = try ints(3, "Slice axes") ?? Array(0..<starts.count)
            let steps = try ints(4, "Slice steps") ?? Array(repeating: 1, count: starts.count)
            guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
                throw c.error(.invalidGraph, "Slice starts/ends/axes/steps differ in length")
            }
            var ranges = x.shape.map { Array(0..<$0) }
            for k in 0..<starts.count {
                let a = try normalizedAxis(c, axes[k], x.shape.count), d = x.shape[a], s = steps[k]
                guard s != 0 else { throw c.error(.invalidGraph, "Slice step 0") }
                var lo = starts[k] < 0 ? starts[k] &+ d : starts[k]
                var hi = ends[k] < 0 ? ends[k] &+ d : ends[k]
                if s > 0 { lo = min(max(lo, 0), d); hi = min(max(hi, 0), d) } else { lo = min(max(lo, 0), d - 1); hi = min(max(hi, -1), d - 1) }
                ranges[a] = Array(stride(from: lo, to: hi, by: s))
            }
            let st = strides(x.shape)
            let outShape = ranges.map(\.count)
            let idx = indices(outShape).map { o in o.enumerated().reduce(0) { $0 + ranges[$1.offset][$1.element] * st[$1.offset] } }
            return [x.picking(idx, shape: outShape)]
        case "ConstantOfShape":
            guard let shape = try ints(0, "ConstantOfShape shape"), shape.allSatisfy({ $0 >= 0 }) else {
                throw c.error(.invalidGraph, "ConstantOfShape needs a known non-negative shape")
            }
            let value = try c.tensor("value") ?? HostTensor(shape: [1], floats: [0])
            guard value.count == 1 else { throw c.error(.invalidGraph, "ConstantOfShape value must have one element") }
            return [value.picking(Array(repeating: 0, count: shape.reduce(1, *)), shape: shape)]
        default:
            return nil
        }
    }

    // MARK: elementwise

    static func binary(_ c: NodeContext, _ a: HostTensor, _ b: HostTensor) throws -> HostTensor {
        guard let shape = broadcastShape(a.shape, b.shape) else {
            throw c.error(.invalidGraph, "cannot broadcast \(a.shape) with \(b.shape)")
        }
        let ia = broadcastIndices(a.shape, to: shape), ib = broadcastIndices(b.shape, to: shape)
        switch (a.elements, b.elements) {
        case (.floats(let x), .floats(let y)):
            let f: (Float, Float) -> Float
            switch c.op {
            case "Add": f = (+)
            case "Sub": f = (-)
            case "Mul": f = (*)
            case "Div": f = (/)
            default: f = { Float(libmPow(Double($0), Double($1))) }
            }
            return HostTensor(shape: shape, floats: zip(ia, ib).map { f(x[$0], y[$1]) })
        case (.ints(let x), .ints(let y)):
            let out = try zip(ia, ib).map { (i, j) -> Dim in
                guard let r = dimArithmetic(c.op, x[i], y[j]) else {
                    throw c.error(.unsupportedAttribute, "cannot evaluate \(x[i]) \(c.op) \(y[j]) on shape values at import")
                }
                return r
            }
            return HostTensor(shape: shape, dims: out)
        default:
            throw c.error(.unsupportedType, "\(c.op) of a float and an integer tensor")
        }
    }

    static func dimArithmetic(_ op: String, _ a: Dim, _ b: Dim) -> Dim? {
        switch op {
        case "Add": return a + b
        case "Sub":
            if let v = b.value { return a - v }
            if a == b { return .known(0) }
            return nil
        case "Mul":
            if let v = b.value { return v == 0 ? .known(0) : a.multiplied(by: v) }
            if let v = a.value { return v == 0 ? .known(0) : b.multiplied(by: v) }
            return nil
        case "Div":
            if let x = a.value, let y = b.value { return y == 0 ? nil : .known(x / y) }
            if let y = b.value, y > 0 { return a.exactlyDivided(by: y) ?? a.floorDivided(by: y) }
            if a == b { return .known(1) }
            return nil
        case "Pow":
            if let x = a.value, let y = b.value, y >= 0, y < 63 {
                var r = 1
                for _ in 0..<y { r = r &* x }
                return .known(r)
            }
            return nil
        default: return nil
        }
    }

    static func unary(_ c: NodeContext, _ a: HostTensor) throws -> HostTensor {
        if case .ints(let d) = a.elements {
            guard c.op == "Neg" || c.op == "Relu" else { throw c.error(.unsupportedType, "\(c.op) of an integer tensor") }
            let out = try d.map { x -> Dim in
                if c.op == "Relu", let v = x.value { return .known(max(v, 0)) }
                if c.op == "Neg", let m = x.multiplied(by: -1) { return m }
                throw c.error(.unsupportedAttribute, "cannot evaluate \(c.op) of \(x) at import")
            }
            return HostTensor(shape: a.shape, dims: out)
        }
        let x = a.floats ?? []
        let f: (Float) -> Float
        switch c.op {
        case "Sqrt": f = { $0.squareRoot() }
        case "Relu": f = { max($0, 0) }
        case "Sigmoid": f = { 1 / (1 + Float(libmExp(Double(-$0)))) }
        case "Neg": f = { -$0 }
        case "Floor": f = { $0.rounded(.down) }
        case "Ceil": f = { $0.rounded(.up) }
        case "Exp": f = { Float(libmExp(Double($0))) }
        default: f = { 1 / $0 }
        }
        return HostTensor(shape: a.shape, floats: x.map(f))
    }

    static func cast(_ c: NodeContext, _ a: HostTensor) throws -> HostTensor? {
        let to = Int32(try c.int("to", 0))
        switch to {
        case 1, 10, 11, 16:
            if a.isFloat { return a }
            guard let v = a.knownInts else { throw c.error(.unsupportedAttribute, "cannot cast symbolic shape values to float") }
            return HostTensor(shape: a.shape, floats: v.map { Float($0) })
        case 2, 3, 4, 5, 6, 7, 12, 13, 9:
            guard let f = a.floats else {
                if to == 9, let v = a.knownInts { return HostTensor(shape: a.shape, ints: v.map { $0 != 0 ? 1 : 0 }) }
                return a
            }
            if to == 9 { return HostTensor(shape: a.shape, ints: f.map { $0 != 0 ? 1 : 0 }) }
            return HostTensor(shape: a.shape, ints: try f.map {
                guard $0.isFinite, abs($0) < 9.2e18 else { throw c.error(.unsupportedAttribute, "cannot cast \($0) to an integer") }
                return Int64($0.rounded(.towardZero))
            })
        default:
            throw c.error(.unsupportedType, "Cast to \(TensorDecoding.typeName(to)) is not supported")
        }
    }

    // MARK: helpers

    static func clampAxis(_ a: Int, _ r: Int) -> Int { min(max(a < 0 ? a + r : a, 0), r) }

    static func normalizedAxis(_ c: NodeContext, _ a: Int, _ r: Int) throws -> Int {
        let v = a < 0 ? a + r : a
        guard v >= 0 && v < r else { throw c.error(.invalidGraph, "axis \(a) out of range for rank \(r)") }
        return v
    }

    /// ONNX Reshape on a known shape: 0 copies (unless allowzero), -1 is inferred.
    static func resolveReshape(_ c: NodeContext, input: [Int], target: [Int], allowZero: Bool) throws -> [Int] {
        var out: [Int] = [], infer: Int? = nil
        for (i, t) in target.enumerated() {
            if t == 0 && !allowZero {
                guard i < input.count else { throw c.error(.invalidGraph, "Reshape 0 at axis \(i) beyond input rank") }
                out.append(input[i])
            } else if t == -1 {
                guard infer == nil else { throw c.error(.invalidGraph, "Reshape target \(target) has two -1") }
                infer = i; out.append(1)
            } else if t >= 0 { out.append(t) } else { throw c.error(.invalidGraph, "Reshape target \(target) is invalid") }
        }
        let total = input.reduce(1, *), known = out.reduce(1, *)
        if let k = infer {
            guard known > 0, total % known == 0 else { throw c.error(.invalidGraph, "cannot reshape \(input) to \(target)") }
            out[k] = total / known
        }
        guard out.reduce(1, *) == total else { throw c.error(.invalidGraph, "cannot reshape \(input) to \(target)") }
        return out
    }

    static func strides(_ s: [Int]) -> [Int] {
        var st = Array(repeating: 1, count: s.count)
        var acc = 1
        for i in stride(from: s.count - 1, through: 0, by: -1) { st[i] = acc; acc *= s[i] }
        return st
    }

    /// All multi-indices of a shape in row-major order.
    static func indices(_ shape: [Int]) -> [[Int]] {
        let n = shape.reduce(1, *)
        guard n > 0 else { return [] }
        var out: [[Int]] = []
        out.reserveCapacity(n)
        var cur = Array(repeating: 0, count: shape.count)
        for _ in 0..<n {
            out.append(cur)
            var k = shape.count - 1
            while k >= 0 { cur[k] += 1; if cur[k] < shape[k] { break }; cur[k] = 0; k -= 1 }
        }
        return out
    }

    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out: [Int] = []
        for i in 0..<r {
            let x = i - (r - a.count) >= 0 ? a[i - (r - a.count)] : 1
            let y = i - (r - b.count) >= 0 ? b[i - (r - b.count)] : 1
            if x == y || y == 1 { out.append(x) } else if x == 1 { out.append(y) } else { return nil }
        }
        return out
    }

    /// For each element of `shape` (row-major), the index into a tensor of shape `s` broadcast to it.
    static func broadcastIndices(_ s: [Int], to shape: [Int]) -> [Int] {
        let st = strides(s), off = shape.count - s.count
        return indices(shape).map { o in
            var i = 0
            for k in 0..<s.count where s[k] != 1 { i += o[k + off] * st[k] }
            return i
        }
    }
}

extension HostTensor {
    /// A tensor made of this one's elements at `idx`.
    func picking(_ idx: [Int], shape: [Int]) -> HostTensor {
        switch elements {
        case .floats(let f): return HostTensor(shape: shape, floats: idx.map { f[$0] })
        case .ints(let d): return HostTensor(shape: shape, dims: idx.map { d[$0] })
        }
    }

    /// All elements of same-kind tensors, one after another (flat).
    static func joined(_ parts: [HostTensor]) -> HostTensor {
        if parts.first?.isFloat ?? true {
            let f = parts.flatMap { $0.floats ?? [] }
            return HostTensor(shape: [f.count], floats: f)
        }
        let d = parts.flatMap { $0.dims ?? [] }
        return HostTensor(shape: [d.count], dims: d)
    }
}
