import Foundation
import XCTest
import SRGraph
import FloatEngine
import ONNXImport
import SRQuant
import SRRuntime

/// Unit tests of the individual passes.
final class PassTests: XCTestCase {
    // MARK: canonicalize

    /// The canonicalized graph computes what the imported one does, on real images.
    func testCanonicalizeKeepsEveryModelsOutput() throws {
        var models: [(String, Graph, QuantHarness.Model)] = try QuantHarness.Model.all.map { ($0.file, try QuantHarness.graph($0), $0) }
        models.append(("rdn", try rdnGraph(), QuantHarness.Model(file: "rdn", scale: 2, bgr: false, range: 1)))
        let images = try QuantHarness.dataset("Set5", scale: 4).prefix(2)
        for (name, g, m) in models {
            var c = g
            c = try QuantizationPipeline.run(c, options: QuantizationOptions(), through: "canonicalize", log: { _ in })
            XCTAssertLessThanOrEqual(c.nodes.count, g.nodes.count)
            let e0 = try FloatEngine(graph: g), e1 = try FloatEngine(graph: c)
            for p in images {
                let x = QuantHarness.tensor(p.lr, m)
                let a = try e0.run(x), b = try e1.run(x)
                XCTAssertEqual(a.shape, b.shape)
                let scale = max(1e-6, a.floats.reduce(0) { max($0, abs($1)) })
                let diff = zip(a.floats, b.floats).reduce(0) { max($0, abs($1.0 - $1.1)) }
                XCTAssertLessThan(diff / scale, 2e-5, "\(name): canonicalize changed the output by \(diff)")
            }
            for n in c.nodes {
                switch n.op {
                case .identity, .div: XCTFail("\(name): \(n.op.name) \(n.name) survived canonicalize")
                case .relu, .leakyRelu, .clip: XCTFail("\(name): activation \(n.name) not fused")
                default: break
                }
            }
        }
    }

    func testEDSRNormalisationIsFolded() throws {
        var g = try QuantHarness.graph(.edsr)
        g = try QuantizationPipeline.run(g, options: QuantizationOptions(), through: "canonicalize", log: { _ in })
        XCTAssertFalse(g.nodes.contains { [.sub, .div, .mul, .add].contains($0.op) && readers(g)[$0.outputs[0]] == nil }, "trailing affine left")
        let head = g.nodes.first { $0.inputs.first == g.inputs[0].name }!
        guard case .conv(let a) = head.op, let pads = a.padValues else { return XCTFail("head conv has no pad values") }
        XCTAssertEqual(pads.count, 3)
        XCTAssertTrue(pads.allSatisfy { $0 > 90 && $0 < 130 }, "pad values are the mean pixel: \(pads)")
        XCTAssertEqual(g.nodes.last.map { if case .conv = $0.op { true } else { false } }, true, "EDSR ends in its conv")
    }

    // MARK: insert-quant

    /// The placement rules, checked on any quantized graph.
    func checkPlacement(_ g: Graph, _ name: String, convBits: Int = 8, file: StaticString = #filePath, line: UInt = #line) {
        let readers = readers(g), producers = producers(g)
        let grids = valueGrids(g)
        for n in g.nodes where isCompute(n.op) {
            let v = n.outputs[0]
            let r = readers[v] ?? []
            XCTAssertEqual(r.count, 1, "\(name): \(n.name) has \(r.count) readers", file: file, line: line)
            XCTAssertFalse(g.outputs.contains { $0.name == v }, "\(name): \(n.name) result is a graph output", file: file, line: line)
            if let first = r.first { XCTAssertNotNil(g.nodes[first].op.fq, "\(name): \(n.name) read by \(g.nodes[first].op.name)", file: file, line: line) }
            if case .conv = n.op {
                let q = grids[n.inputs[0]]
                XCTAssertNotNil(q, "\(name): conv \(n.name) input not on a grid", file: file, line: line)
                XCTAssertLessThanOrEqual(q?.bits ?? 99, convBits, "\(name): conv \(n.name) input wider than \(convBits) bits", file: file, line: line)
            }
            if case .sigmoid = n.op { XCTAssertLessThanOrEqual(grids[n.inputs[0]]?.bits ?? 99, 8, file: file, line: line) }
        }
        let inputReaders = readers[g.inputs[0].name] ?? []
        XCTAssertEqual(inputReaders.count, 1)
        XCTAssertEqual(g.nodes[inputReaders[0]].op.fq, FakeQuant(bits: 8, signed: false, alpha: g.nodes[inputReaders[0]].op.fq!.alpha))
        // The output is u8 pixels (possibly moved by data movement).
        var v = g.outputs[0].name
        while let p = producers[v], isDataMovement(g.nodes[p].op) { v = g.nodes[p].inputs[0] }
        let q = producers[v].flatMap { g.nodes[$0].op.fq }
        XCTAssertEqual(q?.bits, 8, "\(name): output not u8", file: file, line: line)
        XCTAssertEqual(q?.signed, false, file: file, line: line)
    }

    func testPlacementOnEveryModel() throws {
        for m in QuantHarness.Model.all {
            for bits in [8, 4] {
                var o = QuantizationOptions()
                o.weightBits = bits; o.activationBits = bits; o.inputRange = m.range
                let g = try QuantizationPipeline.run(try QuantHarness.graph(m), options: o, through: "insert-quant", log: { _ in })
                checkPlacement(g, m.file)
                _ = try FloatEngine(graph: g)
                if bits == 4 {
                    // Body convs read 4-bit grids; post-ReLU grids are unsigned.
                    let plan = ConvBitPlan(g, o)
                    let grids = valueGrids(g)
                    for n in g.nodes {
                        guard case .conv = n.op else { continue }
                        XCTAssertEqual(grids[n.inputs[0]]?.bits, plan.inputBits[n.name], "\(m.file) \(n.name)")
                    }
                    // Edges: XLSR's 5 convs reading the input and its last conv; EDSR's and IMDN's
                    // first and last conv. Edge inputs with body weights: what lies between the
                    // last join and the last conv (XLSR conv3, EDSR's upsampler conv) and IMDN's
                    // 2 pooled-attention convs in each of its 6 blocks.
                    let expected = ["xlsr": 6, "edsr": 2, "imdn": 2][String(m.file.prefix(4))]!
                    let expectedWide = ["xlsr": 1, "edsr": 1, "imdn": 12][String(m.file.prefix(4))]!
                    XCTAssertEqual(plan.wideInputs.count, expectedWide, "\(m.file) \(plan.wideInputs.sorted())")
                    XCTAssertEqual(plan.edges.count, expected, "\(m.file) edges \(plan.edges.sorted())")
                }
            }
        }
    }

    /// x → conv(relu) → conv → add(x') → output: the relu result is unsigned and conv-wide, the
    /// residual sum is wide, the final value u8.
    func testPlacementOnHandBuiltGraph() throws {
        let g = tinyGraph()
        var o = QuantizationOptions()
        o.weightBits = 4; o.activationBits = 4
        let q = try QuantizationPipeline.run(g, options: o, through: "insert-quant", log: { _ in })
        checkPlacement(q, "tiny")
        let byInput = Dictionary(q.nodes.filter { $0.op.fq != nil }.map { ($0.inputs[0], $0.op.fq!) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byInput["a"]?.bits, 16); XCTAssertEqual(byInput["a"]?.signed, true)   // read by a conv and the Add: wide
        XCTAssertEqual(byInput["r"].map { [$0.bits, $0.signed ? 1 : 0] }, [4, 0])
        XCTAssertEqual(byInput["s"].map { [$0.bits, $0.signed ? 1 : 0] }, [8, 1])   // read only by the last conv (edge bits)
        XCTAssertEqual(byInput["y/float"].map { [$0.bits, $0.signed ? 1 : 0] }, [8, 0])
    }

    func testPowWithOtherExponentIsRejected() throws {
        var g = tinyGraph()
        g.initializers["three"] = .scalar(3)
        g.nodes.insert(Node(name: "cube", op: .pow, inputs: ["s", "three"], outputs: ["s3"]), at: 3)
        g.nodes[4].inputs = ["s3"]
        XCTAssertThrowsError(try QuantizationPipeline.run(g, options: QuantizationOptions(), through: "insert-quant", log: { _ in })) {
            XCTAssertTrue("\($0)".contains("cube"), "\($0)")
        }
    }

    /// in(3) → c0 (3x3, 8ch) → a; a → c1 (relu) → r → c2 → b; s = a + b; y = c3(s) (3 ch).
    func tinyGraph() -> Graph {
        var rng = TestRNG(seed: 1)
        func w(_ o: Int, _ i: Int, _ k: Int) -> Tensor {
            Tensor(shape: [o, i, k, k], floats: (0..<(o * i * k * k)).map { _ in Float.random(in: -0.3...0.3, using: &rng) })
        }
        let conv = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])
        let relu = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], activation: .relu)
        let shape: Shape = [.known(1), .known(3), .symbolic("H"), .symbolic("W")]
        return Graph(name: "tiny", inputs: [ValueInfo(name: "x", shape: shape)], outputs: [ValueInfo(name: "y", shape: shape)],
                     initializers: ["w0": w(8, 3, 3), "w1": w(8, 8, 3), "w2": w(8, 8, 3), "w3": w(3, 8, 3)],
                     nodes: [Node(name: "c0", op: .conv(conv), inputs: ["x", "w0"], outputs: ["a"]),
                             Node(name: "c1", op: .conv(relu), inputs: ["a", "w1"], outputs: ["r"]),
                             Node(name: "c2", op: .conv(conv), inputs: ["r", "w2"], outputs: ["b"]),
                             Node(name: "add", op: .add, inputs: ["a", "b"], outputs: ["s"]),
                             Node(name: "c3", op: .conv(conv), inputs: ["s", "w3"], outputs: ["y"])])
    }

    // MARK: calibrate

    func testEMAStartsWithTheFirstBatchAndFollowsTheFormula() {
        var e = EMAAlpha(beta: 0.9)
        e.update(batchMaxima: [2, 4])       // t = 0: β = 0 → mean of the maxima
        XCTAssertEqual(e.value!, 3, accuracy: 1e-12)
        e.update(batchMaxima: [10])
        XCTAssertEqual(e.value!, 0.9 * 3 + 0.1 * 10, accuracy: 1e-12)
        var expected = 0.9 * 3 + 0.1 * 10
        for m in [1.0, 5, 7, 2] {
            e.update(batchMaxima: [m, m])
            expected = 0.9 * expected + 0.1 * m
        }
        XCTAssertEqual(e.value!, expected, accuracy: 1e-12)
    }

    func testPercentileOfMagnitude() {
        let x = (0..<1000).map { Float($0) / 1000 * (($0 % 2 == 0) ? 1 : -1) }
        XCTAssertEqual(percentileOfMagnitude(x, 50, max: 0.999), 0.5, accuracy: 0.01)
    }

    // MARK: quantize-weights, odm

    func testWeightsAreOnTheirGridAfterQuantizeWeights() throws {
        for perChannel in [false, true] {
            var o = QuantizationOptions()
            o.weightBits = 4; o.activationBits = 4; o.perChannelWeights = perChannel
            o.calibration = [Tensor(shape: [1, 3, 20, 20], floats: (0..<1200).map { Float($0 % 97) / 97 })]
            o.calibrationPatch = 16; o.calibrationBatches = 2; o.calibrationBatchSize = 2
            let g = try QuantizationPipeline.run(tinyGraph(), options: o, through: "quantize-weights", log: { _ in })
            let plan = ConvBitPlan(g, o)
            for n in g.nodes {
                guard case .conv(let a) = n.op, let wq = a.weightQuantization else { continue }
                XCTAssertEqual(wq.bits, plan.weightBits[n.name])
                XCTAssertEqual(wq.scales.count, perChannel ? g.initializers[n.inputs[1]]!.shape[0] : 1)
                let w = g.initializers[n.inputs[1]]!
                let per = w.count / w.shape[0], taps = per / w.shape[1]
                // With one α per input channel, the grid is on w·s_c (the scales fold into the weights).
                let inputGrid = g.nodes.first { $0.outputs[0] == n.inputs[0] }?.op
                var fold: [Float]? = nil
                if case .fakeQuantize(let fq)? = inputGrid, let alphas = fq.channelAlphas { fold = alphas.map { $0 / Float(fq.qmax) } }
                for (i, v) in w.floats.enumerated() {
                    let q = v * (fold?[(i % per) / taps] ?? 1) / wq.scale(channel: i / per)
                    XCTAssertEqual(q, q.rounded(), accuracy: 1e-3)
                    XCTAssertLessThanOrEqual(abs(q.rounded()), Float(wq.qmax))
                }
            }
        }
    }

    /// A weight tensor with a few outliers: ODM clips below max|W| and the layer error drops.
    func testODMClipsOutliersAndReducesLayerError() throws {
        var rng = TestRNG(seed: 7)
        var w = (0..<(16 * 16 * 9)).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
        w[5] = 1.5; w[700] = -1.2
        let attrs = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])
        let g = Graph(name: "one", inputs: [ValueInfo(name: "x", shape: [.known(1), .known(3), .symbolic("H"), .symbolic("W")])],
                      outputs: [ValueInfo(name: "y", shape: [.known(1), .known(3), .symbolic("H"), .symbolic("W")])],
                      initializers: ["w0": Tensor(shape: [16, 3, 3, 3], floats: (0..<432).map { _ in Float.random(in: -0.3...0.3, using: &rng) }),
                                     "w1": Tensor(shape: [16, 16, 3, 3], floats: w),
                                     "w2": Tensor(shape: [3, 16, 3, 3], floats: (0..<432).map { _ in Float.random(in: -0.1...0.1, using: &rng) })],
                      nodes: [Node(name: "c0", op: .conv(attrs), inputs: ["x", "w0"], outputs: ["a"]),
                              Node(name: "c1", op: .conv(attrs), inputs: ["a", "w1"], outputs: ["b"]),
                              Node(name: "c2", op: .conv(attrs), inputs: ["b", "w2"], outputs: ["y"])])
        var o = QuantizationOptions()
        o.weightBits = 4; o.activationBits = 8
        o.calibration = [Tensor(shape: [1, 3, 32, 32], floats: (0..<3072).map { _ in Float.random(in: 0...1, using: &rng) })]
        o.calibrationPatch = 32; o.calibrationBatches = 2; o.calibrationBatchSize = 1; o.biasCorrection = false
        o.perChannelWeights = false   // one γ·p99 range for the layer
        var logs: [String] = []
        let q = try QuantizationPipeline.run(g, options: o, log: { logs.append($0) })
        let c1 = q.nodes.first { $0.name == "c1" }!
        guard case .conv(let a) = c1.op, let wq = a.weightQuantization, let gamma = wq.gamma, let p99 = wq.statistic else {
            return XCTFail("no ODM result on c1")
        }
        XCTAssertLessThan(gamma, 1.5 / p99 * 0.9, "γ did not clip the outliers")
        XCTAssertEqual(wq.scales[0], gamma * p99 / 7, accuracy: 1e-6)
        let line = logs.first { $0.contains("[odm] c1:") }!
        // "error E vs M at max|W|"
        let nums = line.components(separatedBy: "error ")[1].components(separatedBy: " vs ")
        let chosen = Double(nums[0])!, atMax = Double(nums[1].components(separatedBy: " ")[0])!
        XCTAssertLessThan(chosen, atMax * 0.9, line)
        XCTAssertNil(q.initializers.keys.first { $0.hasSuffix(".float") })
    }

    /// tune-alpha only accepts a change of α that lowers the network's output error on the
    /// calibration patches, so the error it reports can only go down; at 4 bits it moves some α.
    func testTuneAlphaNeverIncreasesTheOutputError() throws {
        var o = QuantizationOptions()
        o.weightBits = 4; o.activationBits = 4
        o.calibration = [Tensor(shape: [1, 3, 24, 24], floats: (0..<1728).map { Float(($0 * 37) % 101) / 101 })]
        o.calibrationPatch = 16; o.calibrationBatches = 2; o.calibrationBatchSize = 2
        var logs: [String] = []
        let before = try QuantizationPipeline.run(tinyGraph(), options: o, through: "calibrate", log: { _ in })
        let after = try QuantizationPipeline.run(tinyGraph(), options: o, through: "tune-alpha", log: { logs.append($0) })
        let line = try XCTUnwrap(logs.first { $0.hasPrefix("[tune-alpha]") && $0.contains("output error") })
        let numbers = line.components(separatedBy: ": ").last!.components(separatedBy: " -> ").compactMap { Double($0) }
        XCTAssertEqual(numbers.count, 2, line)
        XCTAssertLessThanOrEqual(numbers[1], numbers[0], line)
        let alphas = { (g: Graph) in g.nodes.compactMap { n -> Float? in if case .fakeQuantize(let q) = n.op { return q.alpha } else { return nil } } }
        XCTAssertEqual(alphas(before).count, alphas(after).count)
        if numbers[1] < numbers[0] { XCTAssertNotEqual(alphas(before), alphas(after), "a lower error must come from a changed α") }
    }

    /// round-weights keeps every weight on its grid (integer multiples of the layer's scale
    /// within ±qmax), changes some of them, and lowers each conv's proxy output error against
    /// round-to-nearest on the calibration columns.
    func testRoundWeightsStaysOnTheGridAndLowersTheLayerError() throws {
        var o = QuantizationOptions()
        o.weightBits = 4; o.activationBits = 4; o.tuneAlpha = false; o.odm = false
        o.perChannelActivations = false   // stored weights are then plain multiples of their scale
        o.calibration = [Tensor(shape: [1, 3, 24, 24], floats: (0..<1728).map { Float(($0 * 37) % 101) / 101 })]
        o.calibrationPatch = 16; o.calibrationBatches = 2; o.calibrationBatchSize = 2
        o.roundingSamples = 512; o.roundingPatches = 4
        let nearest = try QuantizationPipeline.run(tinyGraph(), options: o, through: "odm", log: { _ in })
        var logs: [String] = []
        let rounded = try QuantizationPipeline.run(tinyGraph(), options: o, log: { logs.append($0) })
        var changed = 0
        for n in rounded.nodes {
            guard case .conv(let a) = n.op, let wq = a.weightQuantization else { continue }
            let w = rounded.initializers[n.inputs[1]]!
            let per = w.count / w.shape[0]
            for (i, v) in w.floats.enumerated() {
                let q = v / wq.scale(channel: i / per)
                XCTAssertEqual(q, q.rounded(), accuracy: 1e-3, "\(n.name)[\(i)]")
                XCTAssertLessThanOrEqual(abs(q.rounded()), Float(wq.qmax))
            }
            let before = nearest.initializers[nearest.nodes.first { $0.name == n.name }!.inputs[1]]!
            changed += zip(before.floats, w.floats).filter { $0 != $1 }.count
            let line = try XCTUnwrap(logs.first { $0.contains("[round-weights] \(n.name):") })
            let numbers = line.components(separatedBy: "columns ").last!.components(separatedBy: " -> ")
                .map { $0.components(separatedBy: " ")[0] }.compactMap { Double($0) }
            XCTAssertEqual(numbers.count, 2, line)
            XCTAssertLessThan(numbers[1], numbers[0], line)
        }
        XCTAssertGreaterThan(changed, 0, "round-weights changed no weight")
    }

    /// The tiny graph has two body conv-input grids (c1 reads a narrowed copy of `a`, c2 the ReLU
    /// result `r`), each read by a conv with 576 of the 1584 conv MACs (36.4%). mixed-precision
    /// widens none within a 30% budget, exactly one within 40%: the one whose widening lowered
    /// the output error most, now at the edge input width (8 bits at -b 4).
    func testMixedPrecisionPromotesWithinTheBudget() throws {
        var o = QuantizationOptions()
        o.weightBits = 4; o.activationBits = 4; o.edgeActivationBits = 8
        o.calibration = [Tensor(shape: [1, 3, 24, 24], floats: (0..<1728).map { Float(($0 * 37) % 101) / 101 })]
        o.calibrationPatch = 16; o.calibrationBatches = 2; o.calibrationBatchSize = 2
        func run(_ budget: Double) throws -> (bits: [String: Int], log: [String]) {
            o.wideInputBudget = budget
            var logs: [String] = []
            let g = try QuantizationPipeline.run(tinyGraph(), options: o, through: "mixed-precision", log: { logs.append($0) })
            var bits: [String: Int] = [:]
            for n in g.nodes { if let q = n.op.fq { bits[n.name] = q.bits } }
            return (bits, logs.filter { $0.hasPrefix("[mixed-precision]") })
        }
        let off = try run(0)
        XCTAssertTrue(off.log.contains { $0.contains("off") }, "\(off.log)")
        let narrow = off.bits.filter { $0.value == 4 }.keys.sorted()
        XCTAssertEqual(narrow.count, 2, "\(off.bits)")
        let tight = try run(0.3)
        XCTAssertEqual(tight.bits, off.bits)
        XCTAssertTrue(tight.log.contains { $0.contains("0 of 2 body conv inputs promoted") }, "\(tight.log)")
        let one = try run(0.4)
        let widened = narrow.filter { one.bits[$0] == 8 }
        XCTAssertEqual(widened.count, 1, "\(one.log)")
        XCTAssertEqual(one.bits.filter { !widened.contains($0.key) }, off.bits.filter { !widened.contains($0.key) })
        XCTAssertTrue(one.log.contains { $0.contains("1 of 2 body conv inputs promoted, 36.4% of the conv MACs") }, "\(one.log)")
        XCTAssertTrue(one.log.contains { $0.hasPrefix("[mixed-precision] \(widened.first ?? "?"): ") && $0.contains("-> 8 bits") }, "\(one.log)")
    }

    /// wide-headroom gives grids wider than 8 bits exactly `wideGridHeadroom` × their
    /// calibrated α; the narrow ones, the pixel grids and grids with channel α keep theirs.
    func testWideGridsGetHeadroom() throws {
        var o = QuantizationOptions()
        o.calibration = [Tensor(shape: [1, 3, 24, 24], floats: (0..<1728).map { Float(($0 * 37) % 101) / 101 })]
        o.calibrationPatch = 16; o.calibrationBatches = 2; o.calibrationBatchSize = 2
        func grids(_ headroom: Float) throws -> [String: FakeQuant] {
            o.wideGridHeadroom = headroom
            let g = try QuantizationPipeline.run(tinyGraph(), options: o, through: "wide-headroom", log: { _ in })
            var out: [String: FakeQuant] = [:]
            for n in g.nodes { if let q = n.op.fq { out[n.name] = q } }
            return out
        }
        let plain = try grids(1), roomy = try grids(2)
        XCTAssertEqual(Set(plain.keys), Set(roomy.keys))
        var wide = 0
        for (name, q) in plain {
            let r = roomy[name]!
            if q.bits > 8 && q.channelAlphas == nil {
                wide += 1
                XCTAssertEqual(r.alpha, 2 * q.alpha, name)
            } else {
                XCTAssertEqual(r, q, name)
            }
        }
        XCTAssertGreaterThan(wide, 0, "tinyGraph's residual sum is a 16-bit grid")
    }

    // MARK: channel-alpha

    /// c1's ReLU output (read only by c2) gets per-channel α from calibrate. At 8 bits the pass
    /// keeps them exactly when one α would raise the output error by at least the threshold;
    /// the rise it logs is large when c1's channels have very different ranges, small when not.
    /// 4-bit grids keep their channel α.
    func testChannelAlphaKeepsPerChannelAlphaOnlyWhereItPays() throws {
        var o = QuantizationOptions()
        o.weightBits = 8; o.activationBits = 8; o.edgeActivationBits = 16; o.wideInputBudget = 0
        // pixels on the u8 grid, so the input's own rounding does not swamp the 8-bit grids' error
        o.calibration = [Tensor(shape: [1, 3, 24, 24], floats: (0..<1728).map { Float(($0 * 37) % 256) / 255 })]
        o.calibrationPatch = 16; o.calibrationBatches = 2; o.calibrationBatchSize = 2
        func graph(channelSpread: Float) -> Graph {
            var g = tinyGraph()
            var w1 = g.initializers["w1"]!, w2 = g.initializers["w2"]!
            // c1's output channel k scaled by spread^(k/7) and c2's input channel k by the
            // inverse: the same float network, with r's channel ranges spread apart
            for k in 0..<8 {
                let f = pow(channelSpread, Float(k) / 7)
                for i in 0..<(8 * 9) { w1.floats[k * 8 * 9 + i] *= f }
                for o in 0..<8 { for i in 0..<9 { w2.floats[(o * 8 + k) * 9 + i] /= f } }
            }
            g.initializers["w1"] = w1; g.initializers["w2"] = w2
            // the output mostly inside the pixel range, so clipping at the output grid does not
            // swamp the error the grids add
            g.initializers["w3"]!.floats = g.initializers["w3"]!.floats.map { $0 * 0.05 }
            g.initializers["b3"] = Tensor(shape: [3], floats: [0.5, 0.5, 0.5])
            let c3 = g.nodes.firstIndex { $0.name == "c3" }!
            g.nodes[c3].inputs.append("b3")
            return g
        }
        func rGrid(_ g: Graph) -> (name: String, q: FakeQuant) {
            let n = g.nodes.first { $0.inputs.first == "r" && $0.op.fq != nil }!
            return (n.name, n.op.fq!)
        }
        var rises: [Float: Double] = [:]
        for spread: Float in [1, 64] {
            let calibrated = try QuantizationPipeline.run(graph(channelSpread: spread), options: o, through: "calibrate", log: { _ in })
            let (name, q) = rGrid(calibrated)
            let channelAlphas = try XCTUnwrap(q.channelAlphas, "calibrate gives r one α per channel")
            var logs: [String] = []
            o.perChannelActivationGain = 0.02
            _ = try QuantizationPipeline.run(graph(channelSpread: spread), options: o, through: "channel-alpha", log: { logs.append($0) })
            let line = try XCTUnwrap(logs.first { $0.hasPrefix("[channel-alpha] \(name): ") }, "\(logs)")
            let rise = try XCTUnwrap(Double(line.components(separatedBy: "would add ").last!.components(separatedBy: "%").first!), line) / 100
            rises[spread] = rise
            for (gain, keeps) in [(rise * 0.9, true), (rise * 1.1, false), (0, true)] {
                o.perChannelActivationGain = gain
                let r = rGrid(try QuantizationPipeline.run(graph(channelSpread: spread), options: o, through: "channel-alpha", log: { _ in })).q
                if keeps {
                    XCTAssertEqual(r.channelAlphas, channelAlphas, "spread \(spread): \(line), gain \(gain)")
                } else {
                    XCTAssertNil(r.channelAlphas, "spread \(spread): \(line), gain \(gain)")
                    XCTAssertEqual(r.alpha, channelAlphas.max()!, "one α: the largest channel α")
                }
            }
        }
        XCTAssertGreaterThan(rises[64]!, 0.02, "a 64x spread of channel ranges: one α costs much more output error")
        XCTAssertGreaterThan(rises[64]!, 10 * rises[1]!)

        o.weightBits = 4; o.activationBits = 4; o.edgeActivationBits = 8; o.perChannelActivationGain = 1
        var logs: [String] = []
        let calibrated = try QuantizationPipeline.run(graph(channelSpread: 64), options: o, through: "calibrate", log: { _ in })
        let after = try QuantizationPipeline.run(graph(channelSpread: 64), options: o, through: "channel-alpha", log: { logs.append($0) })
        XCTAssertEqual(rGrid(calibrated).q.bits, 4)
        XCTAssertNotNil(rGrid(after).q.channelAlphas)
        XCTAssertEqual(rGrid(after).q, rGrid(calibrated).q, "4-bit grids keep their channel α")
        XCTAssertTrue(logs.contains("[channel-alpha] no 8-bit per-channel grids"), "\(logs)")
    }

    func testPassNamesAndThrough() throws {
        XCTAssertEqual(QuantizationPipeline.passNames, ["canonicalize", "insert-quant", "calibrate", "wide-headroom", "mixed-precision", "channel-alpha", "tune-alpha", "quantize-weights", "odm", "round-weights"])
        XCTAssertThrowsError(try QuantizationPipeline.run(tinyGraph(), options: QuantizationOptions(), through: "nope", log: { _ in }))
        var o = QuantizationOptions(); o.odm = false
        o.calibration = [Tensor(shape: [1, 3, 20, 20], floats: [Float](repeating: 0.5, count: 1200))]
        var logs: [String] = []
        _ = try QuantizationPipeline.run(tinyGraph(), options: o, log: { logs.append($0) })
        XCTAssertTrue(logs.contains { $0.hasPrefix("[odm]") && $0.contains("disabled") })
    }

    func readers(_ g: Graph) -> [String: [Int]] {
        var r: [String: [Int]] = [:]
        for (i, n) in g.nodes.enumerated() { for v in n.inputs where !v.isEmpty { r[v, default: []].append(i) } }
        return r
    }

    func producers(_ g: Graph) -> [String: Int] {
        var p: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for v in n.outputs { p[v] = i } }
        return p
    }

    func rdnGraph() throws -> Graph {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("srquant_rdn_x2.onnx").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                        .deletingLastPathComponent().appendingPathComponent("scripts/make_rdn.py").path, "--scale", "2", "-o", out]
        try p.run(); p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("scripts/make_rdn.py failed (python3 with onnx needed)") }
        return try ONNXImporter.load(path: out)
    }
}

func isCompute(_ op: Op) -> Bool {
    switch op {
    case .conv, .add, .sub, .mul, .div, .pow, .relu, .leakyRelu, .clip, .prelu, .sigmoid, .reduceMean, .sqrt: return true
    default: return false
    }
}

func isDataMovement(_ op: Op) -> Bool {
    switch op {
    case .identity, .depthToSpace, .split, .concat, .reshape, .transpose, .resizeNearest: return true
    default: return false
    }
}

extension Op {
    var fq: FakeQuant? { if case .fakeQuantize(let q) = self { return q } else { return nil } }
}

typealias TestRNG = SeededGenerator
