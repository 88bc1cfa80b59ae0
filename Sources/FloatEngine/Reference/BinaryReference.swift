import Foundation
import SRGraph

/// The scalar function of each two-input elementwise op.
func binaryFunction(_ op: Op) -> (Float, Float) -> Float {
    switch op {
    case .add: return { $0 + $1 }
    case .sub: return { $0 - $1 }
    case .mul: return { $0 * $1 }
    case .div: return { $0 / $1 }
    case .pow: return { Foundation.pow($0, $1) }
    default: preconditionFailure("binaryFunction: \(op.name) is not binary")
    }
}

/// Row-major strides of `shape` right-aligned to `rank`, 0 on broadcast (size-1 or missing) axes.
func broadcastStrides(_ shape: [Int], rank: Int) -> [Int] {
    var strides = [Int](repeating: 0, count: rank)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let axis = rank - shape.count + i
        strides[axis] = shape[i] == 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// numpy broadcasting of any rank: walks the output index and both inputs' offsets.
func broadcastBinaryReference(_ a: Tensor, _ b: Tensor, outputShape: [Int],
                              _ f: (Float, Float) -> Float) -> Tensor {
    let rank = outputShape.count
    let sa = broadcastStrides(a.shape, rank: rank), sb = broadcastStrides(b.shape, rank: rank)
    let total = outputShape.reduce(1, *)
    var out = [Float](repeating: 0, count: total)
    var index = [Int](repeating: 0, count: rank)
    var oa = 0, ob = 0
    for i in 0..<total {
        out[i] = f(a.floats[oa], b.floats[ob])
        // Odometer increment, keeping the input offsets in step.
        var axis = rank - 1
        while axis >= 0 {
            index[axis] += 1; oa += sa[axis]; ob += sb[axis]
            if index[axis] < outputShape[axis] { break }
            oa -= sa[axis] * index[axis]; ob -= sb[axis] * index[axis]
            index[axis] = 0
            axis -= 1
        }
    }
    return Tensor(shape: outputShape, floats: out)
}
