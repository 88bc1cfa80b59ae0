import SRRuntime
import SRGraph
import FloatEngine

/// Runs a graph on the float engine and hands back chosen intermediate values.
struct ActivationCapture {
    let engine: FloatEngine
    let names: [String]
    let inputName: String

    init(graph: Graph, capturing names: [String], threads: Int?) throws {
        var g = graph
        try g.inferShapes()
        var seen = Set<String>()
        let unique = names.filter { seen.insert($0).inserted }
        g.outputs = unique.map { ValueInfo(name: $0, shape: g.info(of: $0)!.shape) }
        g.removeDeadCode()   // only what the captured values depend on runs
        engine = try FloatEngine(graph: g, threads: threads)
        self.names = unique
        inputName = g.inputs[0].name
    }

    func run(_ x: Tensor) throws -> [String: Tensor] { try engine.run([inputName: x]) }
}

/// The name under which quantize-weights keeps a conv's float weights for ODM.
func floatWeightName(_ w: String) -> String { w + ".float" }

/// The float network inside a quantized graph: FakeQuantizes become Identity and convs read
/// their float weights again (when quantize-weights kept them).
func floatReference(_ g: Graph) -> Graph {
    var f = g
    for i in f.nodes.indices {
        if f.nodes[i].op.fakeQuant != nil { f.nodes[i].op = .identity }
        if case .conv(var a) = f.nodes[i].op {
            let w = f.nodes[i].inputs[1]
            if f.initializers[floatWeightName(w)] != nil { f.nodes[i].inputs[1] = floatWeightName(w) }
            a.weightQuantization = nil
            f.nodes[i].op = .conv(a)
        }
    }
    return f
}

/// A [1,C,h,w] crop of a [1,C,H,W] tensor.
func crop(_ t: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
    let c = t.shape[1], H = t.shape[2], W = t.shape[3]
    var out = [Float](repeating: 0, count: c * height * width)
    for ch in 0..<c {
        for y in 0..<height {
            let src = (ch * H + top + y) * W + left, dst = (ch * height + y) * width
            for x in 0..<width { out[dst + x] = t.floats[src + x] }
        }
    }
    return Tensor(shape: [1, c, height, width], floats: out)
}

/// The calibration set as batches: whole images one per batch, or random LR patches.
func calibrationBatches(_ o: QuantizationOptions) -> [[Tensor]] {
    guard !o.calibration.isEmpty else { return [] }
    guard let p = o.calibrationPatch else { return o.calibration.map { [$0] } }
    var rng = SeededGenerator(seed: o.seed)
    var batches: [[Tensor]] = []
    for b in 0..<o.calibrationBatches {
        var batch: [Tensor] = []
        for k in 0..<o.calibrationBatchSize {
            let t = o.calibration[(b * o.calibrationBatchSize + k) % o.calibration.count]
            let h = min(p, t.shape[2]), w = min(p, t.shape[3])
            let top = Int.random(in: 0...(t.shape[2] - h), using: &rng), left = Int.random(in: 0...(t.shape[3] - w), using: &rng)
            batch.append(crop(t, top: top, left: left, height: h, width: w))
        }
        batches.append(batch)
    }
    return batches
}

/// The first `count` calibration patches, for a pass that measures on them (`pass` names it in
/// the error when there are none).
func calibrationPatches(_ o: QuantizationOptions, count: Int, pass: String) throws -> [Tensor] {
    let patches = Array(calibrationBatches(o).joined().prefix(count))
    guard !patches.isEmpty else { throw GraphError("\(pass): no calibration images") }
    return patches
}
