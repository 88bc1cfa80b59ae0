/// Shape rules of every op, on symbolic dims. The float engine calls the same rules with
/// known dims, so the shapes a dump promises are the shapes the engine allocates.
extension Op {
    /// Output shapes from input shapes (`nil` for an omitted optional input).
    public func outputShapes(of node: Node, inputs: [Shape?]) throws -> [Shape] {
        func input(_ i: Int) throws -> Shape {
            guard i < inputs.count, let s = inputs[i] else { throw GraphError(node, "missing input \(i)") }
            return s
        }
        func rank(_ s: Shape, _ r: Int, _ what: String) throws {
            guard s.count == r else { throw GraphError(node, "\(what) must have rank \(r), got shape \(s.text)") }
        }
        func axis(_ a: Int, _ r: Int) throws -> Int {
            let v = a < 0 ? a + r : a
            guard v >= 0 && v < r else { throw GraphError(node, "axis \(a) out of range for rank \(r)") }
            return v
        }
        switch self {
        case .conv(let a):
            let x = try input(0), w = try input(1)
            try rank(x, 4, "Conv input"); try rank(w, 4, "Conv weight")
            guard let m = w[0].value, let cg = w[1].value, w[2].value == a.kernel[0], w[3].value == a.kernel[1] else {
                throw GraphError(node, "weight shape \(w.text) does not match kernel \(a.kernel)")
            }
            if let c = x[1].value, c != cg * a.group {
                throw GraphError(node, "input has \(c) channels but weight expects \(cg) x group \(a.group)")
            }
            guard a.group >= 1, m % a.group == 0 else { throw GraphError(node, "output channels \(m) not divisible by group \(a.group)") }
            if let p = a.padValues, let c = x[1].value, p.count != c {
                throw GraphError(node, "\(p.count) pad values for \(c) input channels")
            }
            if inputs.count > 2, let b = inputs[2] {
                guard b.count == 1, b[0].value == m else { throw GraphError(node, "bias shape \(b.text) does not match \(m) output channels") }
            }
            var out: Shape = [x[0], .known(m)]
            for i in 0..<2 {
                let size = x[2 + i], s = a.strides[i], k = a.dilations[i] * (a.kernel[i] - 1) + 1
                switch a.autoPad {
                case .notSet: out.append((size + (a.pads[i] + a.pads[i + 2] - k)).floorDivided(by: s) + 1)
                case .valid: out.append((size - k).floorDivided(by: s) + 1)
                case .sameUpper, .sameLower: out.append((size + (s - 1)).floorDivided(by: s))
                }
                if let v = out.last!.value, v <= 0 { throw GraphError(node, "output size \(v) <= 0") }
            }
            return [out]
        case .relu, .leakyRelu, .clip, .sigmoid, .sqrt, .identity, .fakeQuantize:
            return [try input(0)]
        case .prelu:
            return [try input(0)]
        case .add, .sub, .mul, .div, .pow:
            return [try broadcast(try input(0), try input(1), node)]
        case .concat(let ax):
            let first = try input(0)
            let a = try axis(ax, first.count)
            var out = first
            for i in 1..<inputs.count {
                let s = try input(i)
                guard s.count == first.count else { throw GraphError(node, "Concat inputs differ in rank") }
                for d in 0..<s.count where d != a && s[d] != first[d] {
                    throw GraphError(node, "Concat input \(i) shape \(s.text) does not match \(first.text) off axis \(a)")
                }
                guard let sum = out[a] + s[a] else { throw GraphError(node, "cannot add dims \(out[a]) and \(s[a])") }
                out[a] = sum
            }
            return [out]
        case .split(let ax, let sizes):
            let x = try input(0)
            let a = try axis(ax, x.count)
            let n = node.outputs.count
            if let sizes {
                guard sizes.count == n else { throw GraphError(node, "split has \(sizes.count) sizes for \(n) outputs") }
                if let total = x[a].value, total != sizes.reduce(0, +) {
                    throw GraphError(node, "split sizes \(sizes) do not sum to \(total)")
                }
                return sizes.map { var s = x; s[a] = .known($0); return s }
            }
            guard let part = x[a].exactlyDivided(by: n) else { throw GraphError(node, "dim \(x[a]) does not split evenly into \(n)") }
            return Array(repeating: { var s = x; s[a] = part; return s }(), count: n)
        case .depthToSpace(let b, _):
            let x = try input(0)
            try rank(x, 4, "DepthToSpace input")
            guard let c = x[1].exactlyDivided(by: b * b), let h = x[2].multiplied(by: b), let w = x[3].multiplied(by: b) else {
                throw GraphError(node, "shape \(x.text) incompatible with blocksize \(b)")
            }
            return [[x[0], c, h, w]]
        case .reduceMean(let axes, let keep):
            let x = try input(0)
            let set = Set(try (axes ?? Array(0..<x.count)).map { try axis($0, x.count) })
            var out: Shape = []
            for (i, d) in x.enumerated() {
                if set.contains(i) { if keep { out.append(.known(1)) } } else { out.append(d) }
            }
            return [out]
        case .reshape(let target, let allowZero):
            let x = try input(0)
            var out: [Dim?] = []
            var inferAt: Int? = nil
            for (i, t) in target.enumerated() {
                if t == 0 && !allowZero {
                    guard i < x.count else { throw GraphError(node, "0 in target shape at \(i) beyond input rank") }
                    out.append(x[i])
                } else if t == -1 {
                    guard inferAt == nil else { throw GraphError(node, "more than one -1 in target shape") }
                    inferAt = i; out.append(nil)
                } else if t >= 0 { out.append(.known(t)) } else { throw GraphError(node, "invalid target dim \(t)") }
            }
            let known = out.compactMap { $0 }
            if let k = inferAt {
                guard let d = Op.quotient(of: x, by: known) else {
                    throw GraphError(node, "cannot infer -1 of \(target) from input shape \(x.text)")
                }
                out[k] = d
            } else if let a = x.knownValues?.reduce(1, *), let b = known.knownValues?.reduce(1, *), a != b {
                throw GraphError(node, "cannot reshape \(x.text) (\(a) elements) to \(target)")
            }
            return [out.map { $0! }]
        case .transpose(let perm):
            let x = try input(0)
            guard perm.count == x.count, Set(perm) == Set(0..<x.count) else { throw GraphError(node, "perm \(perm) invalid for rank \(x.count)") }
            return [perm.map { x[$0] }]
        case .resizeNearest(let a):
            let x = try input(0)
            guard a.scales.count == x.count else { throw GraphError(node, "\(a.scales.count) scales for rank \(x.count)") }
            var out: Shape = []
            for (d, s) in zip(x, a.scales) {
                if let v = d.value { out.append(.known(Int((Float(v) * s).rounded(.down)))); continue }
                guard s == s.rounded(), s >= 1, let m = d.multiplied(by: Int(s)) else {
                    throw GraphError(node, "non-integer scale \(s) on symbolic dim \(d)")
                }
                out.append(m)
            }
            return [out]
        }
    }

    /// Product(x) / product(known): the dim a Reshape's -1 stands for, when representable.
    static func quotient(of x: Shape, by known: [Dim]) -> Dim? {
        var num = 1, den = 1
        var symbolic: Dim? = nil
        for d in x {
            if let v = d.value { num *= v } else if symbolic == nil { symbolic = d } else { return nil }
        }
        var kSymbolic: Dim? = nil
        for d in known {
            if let v = d.value { den *= v } else if kSymbolic == nil { kSymbolic = d } else { return nil }
        }
        switch (symbolic, kSymbolic) {
        case (nil, nil): return den != 0 && num % den == 0 ? .known(num / den) : nil
        case (let s?, nil):
            guard let m = s.multiplied(by: num) else { return nil }
            return m.exactlyDivided(by: den)
        case (let s?, let k?): return s == k && num % den == 0 ? .known(num / den) : nil
        case (nil, _?): return nil
        }
    }
}

/// Numpy broadcasting of two shapes.
func broadcast(_ a: Shape, _ b: Shape, _ node: Node) throws -> Shape {
    let r = max(a.count, b.count)
    var out: Shape = []
    for i in 0..<r {
        let da = i - (r - a.count) >= 0 ? a[i - (r - a.count)] : .known(1)
        let db = i - (r - b.count) >= 0 ? b[i - (r - b.count)] : .known(1)
        if da == db || db.value == 1 { out.append(da) } else if da.value == 1 { out.append(db) } else {
            throw GraphError(node, "cannot broadcast \(a.text) with \(b.text)")
        }
    }
    return out
}

extension Graph {
    /// Fills `values` with every node output's dtype and shape; throws naming the first node that fails.
    public mutating func inferShapes() throws {
        values = [:]
        for node in nodes {
            var shapes: [Shape?] = []
            var dtype = DType.float32
            for (i, name) in node.inputs.enumerated() {
                if name.isEmpty { shapes.append(nil); continue }
                guard let info = info(of: name) else { throw GraphError(node, "input '\(name)' is not defined before use") }
                if i == 0 { dtype = info.dtype }
                shapes.append(info.shape)
            }
            let outs = try node.op.outputShapes(of: node, inputs: shapes)
            for (name, shape) in zip(node.outputs, outs) where !name.isEmpty {
                values[name] = ValueInfo(name: name, dtype: dtype, shape: shape)
            }
        }
        for (i, o) in outputs.enumerated() {
            guard let info = info(of: o.name) else { throw GraphError("graph output '\(o.name)' is not produced by any node") }
            outputs[i] = info
        }
    }

    /// Reorders nodes topologically (stable: keeps the given order where dependencies allow).
    /// Throws on a cycle or a use of an undefined value.
    public mutating func sortTopologically() throws {
        var available = Set(inputs.map(\.name)).union(initializers.keys)
        var remaining = nodes
        var sorted: [Node] = []
        sorted.reserveCapacity(nodes.count)
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { $0.inputs.allSatisfy { $0.isEmpty || available.contains($0) } }) else {
                let n = remaining[0]
                let missing = n.inputs.first { !$0.isEmpty && !available.contains($0) } ?? "?"
                throw GraphError(n, "input '\(missing)' is never produced (or the graph has a cycle)")
            }
            let n = remaining.remove(at: i)
            sorted.append(n)
            available.formUnion(n.outputs)
        }
        nodes = sorted
    }

    /// Drops nodes and initializers that no graph output depends on.
    public mutating func removeDeadCode() {
        var live = Set(outputs.map(\.name))
        var kept: [Node] = []
        for n in nodes.reversed() where n.outputs.contains(where: live.contains) {
            kept.append(n)
            live.formUnion(n.inputs.filter { !$0.isEmpty })
        }
        nodes = kept.reversed()
        initializers = initializers.filter { live.contains($0.key) }
        values = values.filter { live.contains($0.key) }
    }
}
