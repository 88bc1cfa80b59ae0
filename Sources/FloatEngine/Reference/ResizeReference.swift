import Foundation
import SRGraph

/// Source index along one axis of ONNX Resize (mode nearest) for output index `o`.
/// Coordinates are computed in Double from the given scale, as ONNX's reference does.
func resizeNearestSourceIndex(_ o: Int, inputSize: Int, outputSize: Int, scale: Float,
                              _ a: ResizeNearestAttributes) -> Int {
    let s = Double(scale), od = Double(o)
    let x: Double
    switch a.coordinateTransformation {
    case .halfPixel: x = (od + 0.5) / s - 0.5
    case .pytorchHalfPixel: x = outputSize > 1 ? (od + 0.5) / s - 0.5 : 0
    case .asymmetric: x = od / s
    case .tfHalfPixelForNN: x = (od + 0.5) / s
    case .alignCorners: x = outputSize == 1 ? 0 : od * Double(inputSize - 1) / Double(outputSize - 1)
    }
    let i: Double
    switch a.nearestMode {
    case .floor: i = x.rounded(.down)
    case .ceil: i = x.rounded(.up)
    // An exact half goes down (prefer floor) or up (prefer ceil); otherwise ordinary rounding.
    case .roundPreferFloor: i = x - x.rounded(.down) == 0.5 ? x.rounded(.down) : x.rounded()
    case .roundPreferCeil: i = x - x.rounded(.down) == 0.5 ? x.rounded(.up) : x.rounded()
    }
    return min(max(Int(i), 0), inputSize - 1)
}

/// ONNX Resize, mode nearest, any rank.
func resizeNearestReference(_ x: Tensor, _ a: ResizeNearestAttributes, outputShape: [Int]) -> Tensor {
    let rank = x.shape.count
    let maps: [[Int]] = (0..<rank).map { d in
        (0..<outputShape[d]).map {
            resizeNearestSourceIndex($0, inputSize: x.shape[d], outputSize: outputShape[d], scale: a.scales[d], a)
        }
    }
    var inStrides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * x.shape[i + 1] }
    let total = outputShape.reduce(1, *)
    var out = [Float](repeating: 0, count: total)
    var index = [Int](repeating: 0, count: rank)
    for i in 0..<total {
        var offset = 0
        for d in 0..<rank { offset += maps[d][index[d]] * inStrides[d] }
        out[i] = x.floats[offset]
        var axis = rank - 1
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < outputShape[axis] { break }
            index[axis] = 0; axis -= 1
        }
    }
    return Tensor(shape: outputShape, floats: out)
}
