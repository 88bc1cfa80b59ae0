import SRGraph

/// ONNX ReduceMean over `axes` (nil: all), Double accumulation.
func reduceMeanReference(_ x: Tensor, axes: [Int]?, outputShape: [Int]) -> Tensor {
    let rank = x.shape.count
    let reduced = Set((axes ?? Array(0..<rank)).map { $0 < 0 ? $0 + rank : $0 })
    // Strides into the output for each input axis (0 on reduced axes), whether or not keepdims.
    var outStrides = [Int](repeating: 0, count: rank)
    var step = 1
    for i in stride(from: rank - 1, through: 0, by: -1) where !reduced.contains(i) {
        outStrides[i] = step; step *= x.shape[i]
    }
    let outCount = step
    let count = reduced.reduce(1) { $0 * x.shape[$1] }
    var sums = [Double](repeating: 0, count: outCount)
    var index = [Int](repeating: 0, count: rank)
    var o = 0
    for i in 0..<x.count {
        sums[o] += Double(x.floats[i])
        var axis = rank - 1
        while axis >= 0 {
            index[axis] += 1; o += outStrides[axis]
            if index[axis] < x.shape[axis] { break }
            o -= outStrides[axis] * index[axis]; index[axis] = 0
            axis -= 1
        }
    }
    return Tensor(shape: outputShape, floats: sums.map { Float($0 / Double(max(count, 1))) })
}
