import XCTest
import SRGraph
import FloatEngine
@testable import SRQuant

/// The segmented runner (round-weights, tune-alpha and mixed-precision run the network through
/// it) must compute exactly what one run of the whole graph computes, wherever it is cut.
final class SegmentedRunnerTests: XCTestCase {
    /// IMDN after calibrate: branches, channel splits, concats, pooled attention values and a
    /// global residual, so the frontier carries values across many segments.
    func testSegmentsReproduceTheWholeRunOnIMDN() throws {
        let m = QuantHarness.Model.imdn
        let pairs = try QuantHarness.dataset("Set5", scale: m.scale)
        var o = try QuantHarness.options(m, bits: 4, calibrateOn: "Set5")
        o.calibrationBatches = 2; o.calibrationBatchSize = 2
        var g = try QuantizationPipeline.run(try QuantHarness.graph(m), options: o, through: "calibrate", log: { _ in })
        try g.inferShapes()
        let inputs = pairs.prefix(2).map { crop(QuantHarness.tensor($0.lr, m), top: 3, left: 5, height: 20, width: 28) }
        let whole = try FloatEngine(graph: g)
        let expected = try inputs.map { try whole.run($0) }

        var runner = SegmentedRunner(graph: g, inputs: inputs, threads: nil)
        var cuts = 0
        for i in stride(from: 0, to: g.nodes.count, by: 7) {
            try runner.advance(g, to: i)
            let got = try runner.finish(g)
            for (e, r) in zip(expected, got) { XCTAssertEqual(e.floats, r.floats, "cut before node \(i) (\(g.nodes[i].name))") }
            // Only values that later nodes read are kept.
            let later = Set(g.nodes[i...].flatMap(\.inputs) + g.outputs.map(\.name))
            XCTAssertTrue(runner.states[0].keys.allSatisfy(later.contains), "node \(i)")
            cuts += 1
        }
        XCTAssertGreaterThan(cuts, 20)
        try runner.advance(g, to: g.nodes.count)
        XCTAssertEqual(runner.states.map { $0[g.outputs[0].name]!.floats }, expected.map(\.floats))
    }

    /// A cut after a DepthToSpace leaves a [1,1,2*H,2*W] value as the only input of the rest:
    /// the engine binds H from it (RDN's upsampler is cut like this).
    func testCutAfterAnUpscaleBindsTheSymbols() throws {
        let h = Dim.symbolic("H"), w = Dim.symbolic("W")
        let g = Graph(name: "d2s", inputs: [ValueInfo(name: "x", shape: [.known(1), .known(4), h, w])],
                      outputs: [ValueInfo(name: "z", shape: [.known(1), .known(1), h.multiplied(by: 2)!, w.multiplied(by: 2)!])],
                      initializers: [:],
                      nodes: [Node(name: "d2s", op: .depthToSpace(blockSize: 2, mode: .dcr), inputs: ["x"], outputs: ["y"]),
                              Node(name: "relu", op: .relu, inputs: ["y"], outputs: ["z"])])
        var graph = g
        try graph.inferShapes()
        let x = Tensor(shape: [1, 4, 3, 5], floats: (0..<60).map { Float($0 % 7) - 3 })
        var runner = SegmentedRunner(graph: graph, inputs: [x], threads: nil)
        try runner.advance(graph, to: 1)
        XCTAssertEqual(Array(runner.states[0].keys), ["y"])
        XCTAssertEqual(try runner.finish(graph)[0].floats, try FloatEngine(graph: graph).run(x).floats)
    }
}
