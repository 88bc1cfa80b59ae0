import Foundation
import SRGraph

/// Elementwise one-input ops. Comparisons are written so NaN passes through, as in ONNX.
func unaryReference(_ op: Op, _ x: Tensor) -> Tensor {
    let f: (Float) -> Float
    switch op {
    case .relu: f = { $0 < 0 ? 0 : $0 }
    case .leakyRelu(let alpha): f = { $0 < 0 ? alpha * $0 : $0 }
    // min(max(x, lo), hi): when lo > hi every value becomes hi, as ONNX specifies.
    case .clip(let lo, let hi): f = { v in v.isNaN ? v : Swift.min(Swift.max(v, lo), hi) }
    case .sigmoid:
        // Two forms so exp never overflows.
        f = { v in v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v)) }
    case .sqrt: f = { $0.squareRoot() }
    default: preconditionFailure("unaryReference: \(op.name) is not unary")
    }
    return Tensor(shape: x.shape, floats: x.floats.map(f))
}

/// ONNX PRelu: x < 0 ? slope * x : x, slope broadcast to x's shape.
func preluReference(_ x: Tensor, slope: Tensor) -> Tensor {
    broadcastBinaryReference(x, slope, outputShape: x.shape) { v, s in v < 0 ? s * v : v }
}
