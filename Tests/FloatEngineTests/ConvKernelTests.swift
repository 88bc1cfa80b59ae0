import XCTest
import SRGraph
import FloatEngine

/// Every fast conv kernel set against the reference, over the shapes that exercise tails:
/// widths around the 16-lane vectors and 48-pixel tiles (full and masked), heights spanning
/// several row bands, output channels not a multiple of the
/// 8 (AVX-512) or 6 (AVX2) channel blocks, groups, both paddings, bias, fused activations.
final class ConvKernelTests: XCTestCase {
    struct Case {
        var cin: Int, cout: Int, kernel: Int, group: Int, pad: Int, h: Int, w: Int
        var bias: Bool, activation: Op?
        var dilation = 1
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        let activations: [Op?] = [nil, .relu, .leakyRelu(alpha: 0.2), .clip(min: -0.3, max: 0.5)]
        var i = 0
        for (h, w) in [(1, 1), (7, 7), (3, 17), (2, 33), (5, 49), (1, 100), (19, 21)] {   // 19 rows: several row bands per thread
            for (cin, cout, group) in [(3, 5, 1), (17, 9, 1), (8, 20, 2), (12, 12, 12), (16, 16, 4), (5, 3, 1)] {
                for kernel in [1, 3] {
                    for pad in kernel == 1 ? [0, 1] : [0, 1, 2] {
                        if kernel == 3 && pad == 0 && (h < 3 || w < 3) { continue }
                        i += 1
                        cases.append(Case(cin: cin, cout: cout, kernel: kernel, group: group, pad: pad, h: h, w: w,
                                          bias: i % 3 != 0, activation: activations[i % 4], dilation: (i % 7 == 0 && kernel == 3) ? 2 : 1))
                    }
                }
            }
        }
        return cases.filter { c in
            let k = c.dilation * (c.kernel - 1) + 1
            return c.h + 2 * c.pad >= k && c.w + 2 * c.pad >= k
        }
    }()

    func convGraph(_ c: Case, seed: UInt64) -> Graph {
        var rng = SplitMix(state: seed)
        let cg = c.cin / c.group
        var inits = ["w": rng.tensor([c.cout, cg, c.kernel, c.kernel], scale: 0.5)]
        var inputs = ["x", "w"]
        if c.bias { inits["b"] = rng.tensor([c.cout]); inputs.append("b") }
        let attrs = Conv2DAttributes(kernel: [c.kernel, c.kernel], pads: [c.pad, c.pad, c.pad, c.pad],
                                     dilations: [c.dilation, c.dilation], group: c.group)
        var nodes = [Node(name: "conv", op: .conv(attrs), inputs: inputs, outputs: ["c"])]
        var out = "c"
        if let a = c.activation { nodes.append(Node(name: "act", op: a, inputs: ["c"], outputs: ["y"])); out = "y" }
        return makeGraph(input: [.known(1), .known(c.cin), .symbolic("H"), .symbolic("W")], output: out,
                         nodes: nodes, initializers: inits)
    }

    func testFastConvMatchesReference() throws {
        let choices = fastKernelChoices()
        for (n, c) in Self.cases.enumerated() {
            let g = convGraph(c, seed: UInt64(n + 1))
            var rng = SplitMix(state: UInt64(1000 + n))
            let x = rng.tensor([1, c.cin, c.h, c.w])
            let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
            for k in choices {
                for threads in [1, 2] {
                    let got = try FloatEngine(graph: g, threads: threads, kernels: k).run(x)
                    assertClose(got, ref, "\(c) kernels \(k) threads \(threads)")
                }
            }
        }
    }

    /// The fast convs flush denormals (FTZ/DAZ) on every worker, whatever the thread count, so a
    /// denormal-heavy input gives the same bits for 1, 2 and 3 threads and stays within the
    /// reference's tolerance (the flushed terms are below 1.2e-38).
    func testDenormalInputsGiveThreadIndependentResults() throws {
        let c = Case(cin: 8, cout: 7, kernel: 3, group: 1, pad: 1, h: 11, w: 37, bias: true, activation: .relu)
        let g = convGraph(c, seed: 99)
        var rng = SplitMix(state: 5)
        let normal = rng.tensor([1, 8, 11, 37])
        // Every other value denormal (1e-39 scale), the rest ordinary.
        let x = Tensor(shape: normal.shape, floats: normal.floats.enumerated().map { $0.offset % 2 == 0 ? $0.element * 1e-39 : $0.element })
        XCTAssertTrue(x.floats.contains { $0 != 0 && !$0.isNormal }, "the input holds denormals")
        let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
        for k in fastKernelChoices() {
            let one = try FloatEngine(graph: g, threads: 1, kernels: k).run(x)
            assertClose(one, ref, "kernels \(k)")
            for threads in [2, 3] {
                XCTAssertEqual(try FloatEngine(graph: g, threads: threads, kernels: k).run(x).floats, one.floats, "kernels \(k) threads \(threads)")
            }
        }
    }

    func testBatchOfTwoAndStridedFallback() throws {
        var rng = SplitMix(state: 7)
        let inits = ["w": rng.tensor([6, 4, 3, 3]), "b": rng.tensor([6])]
        for strides in [[1, 1], [2, 2], [1, 2]] {
            let attrs = Conv2DAttributes(kernel: [3, 3], strides: strides, pads: [1, 0, 1, 2])
            let g = makeGraph(input: [.symbolic("N"), .known(4), .symbolic("H"), .symbolic("W")], output: "y",
                              nodes: [Node(name: "conv", op: .conv(attrs), inputs: ["x", "w", "b"], outputs: ["c"]),
                                      Node(name: "relu", op: .relu, inputs: ["c"], outputs: ["y"])],
                              initializers: inits)
            let x = rng.tensor([2, 4, 9, 19])
            let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
            for k in fastKernelChoices() {
                assertClose(try FloatEngine(graph: g, kernels: k).run(x), ref, "strides \(strides) \(k)")
            }
        }
    }

    /// A conv output read by its activation and by another node must not be fused away.
    func testConvOutputWithSeveralReadersIsNotFused() throws {
        var rng = SplitMix(state: 3)
        let attrs = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])
        let g = makeGraph(input: [.known(1), .known(2), .symbolic("H"), .symbolic("W")], output: "y",
                          nodes: [Node(name: "conv", op: .conv(attrs), inputs: ["x", "w"], outputs: ["c"]),
                                  Node(name: "relu", op: .relu, inputs: ["c"], outputs: ["r"]),
                                  Node(name: "add", op: .add, inputs: ["c", "r"], outputs: ["y"])],
                          initializers: ["w": rng.tensor([3, 2, 3, 3])])
        let x = rng.tensor([1, 2, 5, 6])
        let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
        assertClose(try FloatEngine(graph: g, kernels: .best).run(x), ref, "two readers")
        // Negative conv outputs appear (x in [-1,1]), so relu-fused would differ visibly.
        XCTAssertTrue(ref.floats.contains { $0 < 0 })
    }
}
