import XCTest
import SRGraph
import FloatEngine

/// Whole-graph behaviour: fast vs reference on a small SR-like net, input checks.
final class EngineTests: XCTestCase {
    /// Conv/ReLU/residual Add/DepthToSpace, like EDSR, plus a per-channel mean shift and a 1x1 conv.
    func smallNet(seed: UInt64) -> Graph {
        var rng = SplitMix(state: seed)
        var inits: [String: Tensor] = ["mean": Tensor(shape: [1, 3, 1, 1], floats: [0.4, 0.5, 0.3])]
        var nodes: [Node] = []
        func conv(_ x: String, _ cin: Int, _ cout: Int, _ k: Int, _ out: String, group: Int = 1) {
            inits["w_" + out] = rng.tensor([cout, cin / group, k, k], scale: 0.3)
            inits["b_" + out] = rng.tensor([cout], scale: 0.1)
            let p = k / 2
            nodes.append(Node(name: out, op: .conv(Conv2DAttributes(kernel: [k, k], pads: [p, p, p, p], group: group)),
                              inputs: [x, "w_" + out, "b_" + out], outputs: [out]))
        }
        nodes.append(Node(name: "shift", op: .sub, inputs: ["x", "mean"], outputs: ["s"]))
        conv("s", 3, 20, 3, "head")
        conv("head", 20, 20, 3, "c1")
        nodes.append(Node(name: "r1", op: .relu, inputs: ["c1"], outputs: ["r1"]))
        conv("r1", 20, 20, 3, "c2", group: 4)
        nodes.append(Node(name: "res", op: .add, inputs: ["head", "c2"], outputs: ["a1"]))
        conv("a1", 20, 20, 1, "c3")
        nodes.append(Node(name: "lr", op: .leakyRelu(alpha: 0.1), inputs: ["c3"], outputs: ["l3"]))
        conv("l3", 20, 12, 3, "up")
        nodes.append(Node(name: "d2s", op: .depthToSpace(blockSize: 2, mode: .dcr), inputs: ["up"], outputs: ["d"]))
        conv("d", 3, 3, 3, "tail")
        nodes.append(Node(name: "unshift", op: .add, inputs: ["tail", "mean"], outputs: ["t"]))
        nodes.append(Node(name: "clip", op: .clip(min: 0, max: 1), inputs: ["t"], outputs: ["y"]))
        return makeGraph(input: [.known(1), .known(3), .symbolic("H"), .symbolic("W")], output: "y",
                         nodes: nodes, initializers: inits)
    }

    func testSmallNetFastMatchesReference() throws {
        let g = smallNet(seed: 11)
        var rng = SplitMix(state: 5)
        for (h, w) in [(1, 1), (7, 17), (12, 33)] {
            let x = rng.tensor([1, 3, h, w])
            let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
            XCTAssertEqual(ref.shape, [1, 3, 2 * h, 2 * w])
            for k in fastKernelChoices() {
                for threads in [1, 2] {
                    assertClose(try FloatEngine(graph: g, threads: threads, kernels: k).run(x), ref, "\(h)x\(w) \(k) t\(threads)")
                }
            }
        }
    }

    func testRunTwiceWithDifferentSizes() throws {
        let e = try FloatEngine(graph: smallNet(seed: 2))
        XCTAssertEqual(try e.run(Tensor(shape: [1, 3, 4, 5], floats: .init(repeating: 0.5, count: 60))).shape, [1, 3, 8, 10])
        XCTAssertEqual(try e.run(Tensor(shape: [1, 3, 3, 2], floats: .init(repeating: 0.5, count: 18))).shape, [1, 3, 6, 4])
    }

    func assertGraphError(_ body: () throws -> Void, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected GraphError", file: file, line: line)
        } catch let e as GraphError {
            XCTAssertTrue(e.description.contains(mentions), "\(e)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testWrongInputsThrowGraphError() throws {
        let e = try FloatEngine(graph: smallNet(seed: 1))
        assertGraphError({ _ = try e.run(Tensor(shape: [3, 4, 4], floats: .init(repeating: 0, count: 48))) }, mentions: "rank")
        assertGraphError({ _ = try e.run(Tensor(shape: [1, 4, 4, 4], floats: .init(repeating: 0, count: 64))) }, mentions: "shift")
        assertGraphError({ _ = try e.run(["other": Tensor(shape: [1], floats: [0])]) }, mentions: "no tensor")
    }

    /// Channel count checked by the conv's shape rule when the input declares channels symbolically.
    func testChannelMismatchNamesTheConv() throws {
        var rng = SplitMix(state: 9)
        let g = makeGraph(input: [.known(1), .symbolic("C"), .symbolic("H"), .symbolic("W")], output: "y",
                          nodes: [Node(name: "myconv", op: .conv(Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
                                       inputs: ["x", "w"], outputs: ["y"])],
                          initializers: ["w": rng.tensor([4, 3, 3, 3])])
        let e = try FloatEngine(graph: g)
        XCTAssertEqual(try e.run(rng.tensor([1, 3, 5, 5])).shape, [1, 4, 5, 5])
        assertGraphError({ _ = try e.run(rng.tensor([1, 5, 5, 5])) }, mentions: "myconv")
    }

    func testInvalidGraphIsRejectedAtInit() {
        let g = makeGraph(input: [.known(1), .known(3), .symbolic("H"), .symbolic("W")], output: "y",
                          nodes: [Node(name: "bad", op: .add, inputs: ["x", "missing"], outputs: ["y"])])
        assertGraphError({ _ = try FloatEngine(graph: g) }, mentions: "bad")
    }
}
