import XCTest
import SRGraph
import FloatEngine

/// What the quantizer's passes rely on the engine for: convs with a fused activation
/// attribute and per-channel pad values, and FakeQuantize.
final class QuantizationSupportTests: XCTestCase {
    func testConvPadValuesAndActivationAttributeMatchReference() throws {
        var rng = SplitMix(state: 7)
        for (cin, cout, group, h, w) in [(3, 16, 1, 5, 19), (8, 8, 4, 9, 33), (3, 12, 3, 1, 50)] {
            for activation in [nil, ConvActivation.relu, .leakyRelu(alpha: 0.05), .clip(min: -0.2, max: 0.7)] {
                let pads = (0..<cin).map { _ in rng.next() * 2 }
                let a = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: group, activation: activation, padValues: pads)
                let inits = ["w": rng.tensor([cout, cin / group, 3, 3]), "b": rng.tensor([cout])]
                let g = makeGraph(input: [.known(1), .known(cin), .symbolic("H"), .symbolic("W")], output: "y",
                                  nodes: [Node(name: "c", op: .conv(a), inputs: ["x", "w", "b"], outputs: ["y"])], initializers: inits)
                let x = rng.tensor([1, cin, h, w])
                let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
                for k in fastKernelChoices() {
                    assertClose(try FloatEngine(graph: g, kernels: k).run(x), ref, "\(k) cin=\(cin) group=\(group) \(String(describing: activation))")
                }
                // The pad values are what a folded normalisation needs: conv over an input padded
                // with them equals the conv of an explicitly padded input with no padding.
                var padded = [Float](repeating: 0, count: cin * (h + 2) * (w + 2))
                for c in 0..<cin { for y in 0..<(h + 2) { for xx in 0..<(w + 2) {
                    let inside = y >= 1 && y <= h && xx >= 1 && xx <= w
                    padded[(c * (h + 2) + y) * (w + 2) + xx] = inside ? x.floats[(c * h + y - 1) * w + xx - 1] : pads[c]
                } } }
                var noPad = a; noPad.pads = [0, 0, 0, 0]; noPad.padValues = nil
                let g2 = makeGraph(input: [.known(1), .known(cin), .symbolic("H"), .symbolic("W")], output: "y",
                                   nodes: [Node(name: "c", op: .conv(noPad), inputs: ["x", "w", "b"], outputs: ["y"])], initializers: inits)
                assertClose(try FloatEngine(graph: g2, kernels: .reference).run(Tensor(shape: [1, cin, h + 2, w + 2], floats: padded)), ref, "explicit padding")
            }
        }
    }

    func testFakeQuantizeMatchesFormula() throws {
        var rng = SplitMix(state: 3)
        let x = rng.tensor([1, 4, 33, 65], scale: 3)
        for q in [FakeQuant(bits: 8, signed: true, alpha: 2), FakeQuant(bits: 4, signed: false, alpha: 1.5), FakeQuant(bits: 16, signed: true, alpha: 2.5)] {
            let g = makeGraph(input: [.known(1), .known(4), .symbolic("H"), .symbolic("W")], output: "y",
                              nodes: [Node(name: "q", op: .fakeQuantize(q), inputs: ["x"], outputs: ["y"])])
            let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
            for k in fastKernelChoices() { XCTAssertEqual(try FloatEngine(graph: g, kernels: k).run(x).floats, ref.floats, "\(k)") }
            // Every output is on the grid and within the clamp range.
            let s = q.scale
            for v in ref.floats {
                XCTAssertEqual((v / s).rounded() * s, v)
                XCTAssertLessThanOrEqual(v, q.alpha * 1.000001)
                XCTAssertGreaterThanOrEqual(v, q.signed ? -q.alpha * 1.000001 : 0)
            }
            XCTAssertEqual(q.apply(q.alpha * 10), q.alpha, accuracy: q.alpha * 1e-6)
            XCTAssertEqual(q.apply(s * 0.5), s, "ties away from zero")
        }
    }
}
