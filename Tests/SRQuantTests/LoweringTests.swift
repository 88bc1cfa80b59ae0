import XCTest
import SRGraph
import FloatEngine
import FixedPoint
import QSRFormat
import SRVM
import SRImage
import SRQuant

/// Lowering a hand-quantized graph that uses every integer instruction: the program validates,
/// survives the file round trip, srvm's reference kernels (the oracle of SPEC.md §5.3) run it
/// within rounding of the float fake-quant graph, and every other kernel set and thread count
/// computes the reference's pixels exactly.
final class LoweringTests: XCTestCase {
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s &+= 0x9E37_79B9_7F4A_7C15; var z = s; z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB; return z ^ (z >> 31) }
        mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
    }

    /// Conv weights on a `bits` grid with per-channel or per-layer scales.
    func conv(_ name: String, _ input: String, _ output: String, cin: Int, cout: Int, k: Int, bits: Int, perChannel: Bool,
              activation: ConvActivation?, rng: inout Rng, inits: inout [String: Tensor], padValues: [Float]? = nil, gain: Float = 1,
              inputScales: [Float]? = nil) -> Node {
        let qmax = (1 << (bits - 1)) - 1
        let scales = (0..<(perChannel ? cout : 1)).map { Float(0.5 + Double($0 % 3) * 0.25) * gain / Float(qmax) / Float(cin * k * k).squareRoot() }
        var w = [Float](repeating: 0, count: cout * cin * k * k)
        // With per-channel input scales s_c the integer weights are round(w·s_c / s_w): make w = q·s_w / s_c.
        for o in 0..<cout { for i in 0..<(cin * k * k) {
            let fold = inputScales.map { $0[i / (k * k)] } ?? 1
            w[o * cin * k * k + i] = Float(rng.int(-qmax...qmax)) * scales[perChannel ? o : 0] / fold
        } }
        inits[name + ".w"] = Tensor(shape: [cout, cin, k, k], floats: w)
        inits[name + ".b"] = Tensor(shape: [cout], floats: (0..<cout).map { _ in Float(rng.int(-100...100)) / 400 })
        let a = Conv2DAttributes(kernel: [k, k], pads: Array(repeating: k / 2, count: 4), activation: activation, padValues: padValues,
                                 weightQuantization: WeightQuantization(bits: bits, scales: scales))
        return Node(name: name, op: .conv(a), inputs: [input, name + ".w", name + ".b"], outputs: [output])
    }

    func fq(_ name: String, _ input: String, _ bits: Int, _ signed: Bool, _ alpha: Float) -> Node {
        Node(name: name, op: .fakeQuantize(FakeQuant(bits: bits, signed: signed, alpha: alpha)), inputs: [input], outputs: [name])
    }

    /// input -> conv -> residual block with 4-bit body -> IMDN-style contrast attention -> concat -> x2 upsampler.
    func testGraph(range: Float) -> Graph {
        var rng = Rng(s: 42)
        var inits: [String: Tensor] = ["two": Tensor(shape: [], floats: [2])]
        var n: [Node] = []
        n.append(fq("q_in", "x", 8, false, range))
        n.append(conv("head", "q_in", "head_out", cin: 3, cout: 8, k: 3, bits: 8, perChannel: false, activation: nil, rng: &rng, inits: &inits,
                      padValues: [0.3 * range, 0.5 * range, 0.1 * range], gain: 4 / range))
        n.append(fq("h", "head_out", 16, true, 3))
        // An asymmetric grid (zero point 100) for a conv input re-quantized from the wide stream.
        n.append(Node(name: "h8", op: .fakeQuantize(FakeQuant(bits: 8, signed: false, alpha: 2, zeroPoint: 100)), inputs: ["h"], outputs: ["h8"]))
        n.append(conv("body1", "h8", "b1", cin: 8, cout: 8, k: 3, bits: 4, perChannel: true, activation: .leakyRelu(alpha: 0.05), rng: &rng, inits: &inits))
        // Per-channel α on a 4-bit conv input: the channel scales fold into body2's weights.
        let alphas: [Float] = [1.5, 0.5, 1, 2, 0.75, 1.25, 0.6, 1.1]
        n.append(Node(name: "b1q", op: .fakeQuantize(FakeQuant(bits: 4, signed: true, alpha: 2, channelAlphas: alphas)), inputs: ["b1"], outputs: ["b1q"]))
        n.append(conv("body2", "b1q", "b2", cin: 8, cout: 8, k: 3, bits: 4, perChannel: false, activation: nil, rng: &rng, inits: &inits,
                      inputScales: alphas.map { $0 / 7 }))
        n.append(fq("b2q", "b2", 16, true, 3))
        n.append(Node(name: "res", op: .add, inputs: ["h", "b2q"], outputs: ["sum"]))
        n.append(fq("sumq", "sum", 16, true, 4))
        // contrast: mean + std over the plane, as IMDN's CCA computes it
        n.append(Node(name: "mean", op: .reduceMean(axes: [2, 3], keepDims: true), inputs: ["sumq"], outputs: ["m"]))
        n.append(fq("mq", "m", 16, true, 2))
        n.append(Node(name: "centre", op: .sub, inputs: ["sumq", "mq"], outputs: ["d"]))
        n.append(fq("dq", "d", 16, true, 4))
        n.append(Node(name: "square", op: .pow, inputs: ["dq", "two"], outputs: ["p"]))
        n.append(fq("pq", "p", 16, true, 8))
        n.append(Node(name: "var", op: .reduceMean(axes: [2, 3], keepDims: true), inputs: ["pq"], outputs: ["v"]))
        n.append(fq("vq", "v", 16, true, 4))
        n.append(Node(name: "std", op: .sqrt, inputs: ["vq"], outputs: ["s"]))
        n.append(fq("sq", "s", 15, false, 2))
        n.append(Node(name: "contrast", op: .add, inputs: ["sq", "mq"], outputs: ["c"]))
        n.append(fq("c8", "c", 8, true, 2))
        n.append(conv("att", "c8", "a", cin: 8, cout: 8, k: 1, bits: 8, perChannel: true, activation: nil, rng: &rng, inits: &inits))
        n.append(fq("a8", "a", 8, true, 4))
        n.append(Node(name: "gate", op: .sigmoid, inputs: ["a8"], outputs: ["g"]))
        n.append(fq("gq", "g", 8, false, 1))
        n.append(Node(name: "scale", op: .mul, inputs: ["sumq", "gq"], outputs: ["y"]))
        n.append(fq("yq", "y", 16, true, 4))
        n.append(Node(name: "split", op: .split(axis: 1, sizes: [3, 5]), inputs: ["yq"], outputs: ["y1", "y2"]))
        n.append(Node(name: "relu", op: .relu, inputs: ["y1"], outputs: ["r1"]))
        n.append(fq("r1q", "r1", 16, true, 4))
        n.append(Node(name: "cat", op: .concat(axis: 1), inputs: ["r1q", "y2", "h"], outputs: ["cat"]))
        n.append(fq("cat8", "cat", 8, true, 3))
        n.append(conv("tail", "cat8", "t", cin: 16, cout: 12, k: 3, bits: 8, perChannel: true, activation: .clip(min: 0, max: range), rng: &rng, inits: &inits, gain: range))
        n.append(fq("q_out", "t", 8, false, range))
        n.append(Node(name: "shuffle", op: .depthToSpace(blockSize: 2, mode: .crd), inputs: ["q_out"], outputs: ["out"]))
        return Graph(name: "lowering-test", inputs: [ValueInfo(name: "x", shape: [.known(1), .known(3), .symbolic("H"), .symbolic("W")])],
                     outputs: [ValueInfo(name: "out", shape: [])], initializers: inits, nodes: n)
    }

    func image(_ w: Int, _ h: Int, seed: UInt64) -> RGBImage {
        var rng = Rng(s: seed)
        return RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng.int(0...255)) })
    }

    func testEveryInstructionLowersAndRunsBitExact() throws {
        for (range, order) in [(Float(1), ModelMetadata.ChannelOrder.bgr), (255, .rgb)] {
            let graph = testGraph(range: range)
            let md = ModelMetadata(modelName: "t", scale: 2, channelOrder: order, valueRange: Int(range), inputName: "x", outputName: "out", sourceBytes: 1000)
            let program = try lowerToProgram(graph, metadata: md)
            try validate(program)
            let mnemonics = Set(program.instructions.map(\.mnemonic))
            XCTAssertEqual(mnemonics, ["input_pixels", "conv", "requantize", "add", "mul", "concat", "slice_channels", "depth_to_space",
                                       "reduce_mean", "sqrt", "lookup", "output_pixels"])
            let decoded = try decode(encode(program))
            XCTAssertEqual(decoded, program)
            let reference = try VirtualMachine(program: decoded, kernels: .reference, threads: 1)
            let others = try [VirtualMachine(program: decoded, kernels: .best), VirtualMachine(program: decoded, kernels: .portable, threads: 3)]
            for (w, h, seed) in [(13, 9, UInt64(1)), (8, 8, 2), (3, 17, 3)] {
                let img = image(w, h, seed: seed)
                let ours = try reference.run(img)
                for vm in others {
                    XCTAssertEqual(try vm.run(img), ours, "srvm \(vm.kernels.rawValue) (\(vm.threads) threads) vs reference \(w)x\(h) range \(range)")
                }
                XCTAssertEqual(ours.width, 2 * w)
                // The float fake-quant graph computes the same quantized network in float; the
                // integer program differs by rounding of requantization only.
                var float = graph
                float.outputs = [ValueInfo(name: "out", shape: [])]
                let engine = try FloatEngine(graph: float, kernels: .reference)
                var t = [Float](repeating: 0, count: 3 * w * h)
                let chan = order == .rgb ? [0, 1, 2] : [2, 1, 0]
                for c in 0..<3 { for y in 0..<h { for x in 0..<w { t[(c * h + y) * w + x] = Float(img[x, y, chan[c]]) * range / 255 } } }
                let out = try engine.run(Tensor(shape: [1, 3, h, w], floats: t))
                var diffs: [Int] = []
                for c in 0..<3 { for y in 0..<(2 * h) { for x in 0..<(2 * w) {
                    let f = Int((out.floats[(c * 2 * h + y) * 2 * w + x] * 255 / range).rounded())
                    diffs.append(abs(f - Int(ours[x, y, chan[c]])))
                } } }
                let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
                let distinct = Set(ours.pixels).count
                print("lowering \(w)x\(h) range \(range): mean |int - float| \(mean) levels, max \(diffs.max()!), \(distinct) distinct output levels")
                XCTAssertGreaterThan(distinct, 20, "a degenerate (flat) output would make the comparison vacuous")
                XCTAssertLessThan(mean, 0.35, "integer vs float fake-quant, mean |diff| in pixel levels")
                // A requantization rounding that differs by one step on a 4-bit grid moves a value by
                // 1/15 of its range, so a few output pixels may move by several levels.
                XCTAssertLessThanOrEqual(diffs.max()!, 6, "integer vs float fake-quant, max |diff|")
            }
        }
    }

    /// reduce_mean rounds the mean once, on the output grid: with an output grid finer than the
    /// input's (here var's steps are 4× finer than the squares'), a mean first rounded to whole
    /// input steps would be off by up to 2 output steps (IMDN's variance: 20-30× finer, which
    /// cost its integer program 0.04 dB over the fake-quant graph).
    func testReduceMeanRoundsOnceOnTheOutputGrid() throws {
        var g = testGraph(range: 1)
        for i in g.nodes.indices where g.nodes[i].name == "vq" { g.nodes[i].op = .fakeQuantize(FakeQuant(bits: 16, signed: true, alpha: 2)) }
        let program = try lowerToProgram(g, metadata: ModelMetadata(modelName: "t", scale: 2, channelOrder: .rgb, valueRange: 1, inputName: "x", outputName: "out", sourceBytes: 0))
        let ids = Dictionary(program.values.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let (p, v) = (ids["pq"]!, ids["vq"]!)
        let ratio = Double(program.values[p].scale) / Double(program.values[v].scale)
        XCTAssertEqual(ratio, 4, accuracy: 1e-3)
        var worst = 0.0
        for seed in UInt64(1)...4 {
            let values = try VirtualMachine(program: program, kernels: .reference).runRaw(image(11, 7, seed: seed)).values
            let squares = values[ValueID(p)]!, variance = values[ValueID(v)]!
            let channels = Int(program.values[p].channels), plane = squares.count / channels
            XCTAssertEqual(variance.count, channels)
            for c in 0..<channels {
                let sum = squares[(c * plane)..<((c + 1) * plane)].reduce(0.0) { $0 + Double($1) }
                worst = max(worst, abs(sum / Double(plane) * ratio - Double(variance[c])))
            }
        }
        XCTAssertLessThanOrEqual(worst, 0.5 + 1e-6, "reduce_mean's result is the exact mean rounded once (worst \(worst) steps)")
    }

    func testSlotsAreReused() throws {
        let program = try lowerToProgram(testGraph(range: 1), metadata: ModelMetadata(modelName: "t", scale: 2, channelOrder: .rgb, valueRange: 1, inputName: "x", outputName: "out", sourceBytes: 0))
        XCTAssertLessThan(program.slotCount, program.values.count / 2, "liveness should let values share buffers")
    }

    func testMissingQuantizationIsAClearError() throws {
        var g = testGraph(range: 1)
        g.nodes.removeAll { $0.name == "b1q" }
        g.nodes = g.nodes.map { n in var n = n; n.inputs = n.inputs.map { $0 == "b1q" ? "b1" : $0 }; return n }
        XCTAssertThrowsError(try lowerToProgram(g, metadata: ModelMetadata(modelName: "t", scale: 2, channelOrder: .rgb, valueRange: 1, inputName: "x", outputName: "out", sourceBytes: 0))) { e in
            XCTAssertTrue("\(e)".contains("node 'body1' (Conv)"), "\(e)")
        }
    }
}
