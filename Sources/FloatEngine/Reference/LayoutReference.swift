import SRGraph

/// Ops that only move data: Identity, Reshape, Concat, Split, Transpose.
/// Identity and Reshape keep int64 tensors too (shape-like constants may pass through them).
func reshapeReference(_ x: Tensor, to shape: [Int]) -> Tensor {
    x.dtype == .int64 ? Tensor(shape: shape, ints: x.ints) : Tensor(shape: shape, floats: x.floats)
}

/// Outer size (axes before `axis`) and inner size (axes after it).
private func outerInner(_ shape: [Int], _ axis: Int) -> (Int, Int) {
    (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
}

func concatReference(_ xs: [Tensor], axis: Int, outputShape: [Int]) -> Tensor {
    let (outer, inner) = outerInner(outputShape, axis)
    var out: [Float] = []
    out.reserveCapacity(outputShape.reduce(1, *))
    for o in 0..<outer {
        for x in xs {
            let run = x.shape[axis] * inner
            out.append(contentsOf: x.floats[(o * run)..<((o + 1) * run)])
        }
    }
    return Tensor(shape: outputShape, floats: out)
}

func splitReference(_ x: Tensor, axis: Int, outputShapes: [[Int]]) -> [Tensor] {
    let (outer, inner) = outerInner(x.shape, axis)
    let runIn = x.shape[axis] * inner
    var start = 0
    return outputShapes.map { shape in
        let run = shape[axis] * inner
        var out: [Float] = []
        out.reserveCapacity(outer * run)
        for o in 0..<outer {
            let base = o * runIn + start
            out.append(contentsOf: x.floats[base..<(base + run)])
        }
        start += run
        return Tensor(shape: shape, floats: out)
    }
}

/// out[i_0..i_r] = x[j] with j[perm[k]] = i_k, any rank.
func transposeReference(_ x: Tensor, perm: [Int]) -> Tensor {
    let rank = x.shape.count
    let outShape = perm.map { x.shape[$0] }
    var inStrides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * x.shape[i + 1] }
    let strides = perm.map { inStrides[$0] }
    let total = x.count
    var out = [Float](repeating: 0, count: total)
    var index = [Int](repeating: 0, count: rank)
    var offset = 0
    for i in 0..<total {
        out[i] = x.floats[offset]
        var axis = rank - 1
        while axis >= 0 {
            index[axis] += 1; offset += strides[axis]
            if index[axis] < outShape[axis] { break }
            offset -= strides[axis] * index[axis]; index[axis] = 0
            axis -= 1
        }
    }
    return Tensor(shape: outShape, floats: out)
}
