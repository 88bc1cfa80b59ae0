import SRGraph

/// A value known at import time. Float data (any ONNX float type, converted to Float), or
/// integer data whose elements are `Dim`s, so that shape computations on a symbolic input
/// (Shape -> Gather -> Mul -> Concat ...) evaluate to expressions in H and W.
struct HostTensor {
    enum Elements {
        case floats([Float])
        case ints([Dim])
    }
    var shape: [Int]
    var elements: Elements

    init(shape: [Int], floats: [Float]) { self.shape = shape; self.elements = .floats(floats) }
    init(shape: [Int], dims: [Dim]) { self.shape = shape; self.elements = .ints(dims) }
    init(shape: [Int], ints: [Int64]) { self.init(shape: shape, dims: ints.map { .known(Int($0)) }) }
    init(_ t: Tensor) {
        switch t.dtype {
        case .float32: self.init(shape: t.shape, floats: t.floats)
        case .int64: self.init(shape: t.shape, ints: t.ints)
        }
    }

    var count: Int { shape.reduce(1, *) }
    var isFloat: Bool { if case .floats = elements { return true } else { return false } }

    var floats: [Float]? { if case .floats(let f) = elements { return f } else { return nil } }
    var dims: [Dim]? { if case .ints(let d) = elements { return d } else { return nil } }

    /// Integer elements when none is symbolic.
    var knownInts: [Int]? {
        guard let d = dims else { return nil }
        var out: [Int] = []
        out.reserveCapacity(d.count)
        for x in d { guard let v = x.value else { return nil }; out.append(v) }
        return out
    }

    /// As an IR tensor (nil when an element is symbolic).
    var tensor: Tensor? {
        switch elements {
        case .floats(let f): return Tensor(shape: shape, floats: f)
        case .ints: return knownInts.map { Tensor(shape: shape, ints: $0.map(Int64.init)) }
        }
    }

    /// Same elements, another shape with equal element count.
    func reshaped(_ s: [Int]) -> HostTensor {
        var t = self; t.shape = s; return t
    }

    /// Elements as doubles (floats, or known ints); nil when symbolic.
    var doubles: [Double]? {
        switch elements {
        case .floats(let f): return f.map(Double.init)
        case .ints: return knownInts?.map(Double.init)
        }
    }
}

/// One value during import: known now (folded), or computed at run time with a known (symbolic) shape.
enum ImportValue {
    case constant(HostTensor)
    case runtime(Shape)

    var shape: Shape {
        switch self {
        case .constant(let t): return Shape(known: t.shape)
        case .runtime(let s): return s
        }
    }
    var constant: HostTensor? { if case .constant(let t) = self { return t } else { return nil } }
}
