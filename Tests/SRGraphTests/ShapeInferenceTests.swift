import XCTest
import SRGraph

final class ShapeInferenceTests: XCTestCase {
    let x = ValueInfo(name: "x", shape: [.known(1), .known(3), .symbolic("H"), .symbolic("W")])

    func conv(_ name: String, _ input: String, _ w: String, _ cout: Int, _ cin: Int, k: Int = 3, group: Int = 1, stride: Int = 1, pad: Int = 1) -> (Node, Tensor) {
        (Node(name: name, op: .conv(Conv2DAttributes(kernel: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], group: group)),
              inputs: [input, w], outputs: [name + "_out"]),
         Tensor(shape: [cout, cin / group, k, k], floats: [Float](repeating: 0.5, count: cout * cin / group * k * k)))
    }

    func testSRGraphShapes() throws {
        let (c1, w1) = conv("c1", "x", "w1", 12, 3)
        let d2s = Node(name: "d2s", op: .depthToSpace(blockSize: 2, mode: .crd), inputs: ["c1_out"], outputs: ["y"])
        let (c2, w2) = conv("c2", "x", "w2", 4, 3, k: 3, stride: 2, pad: 1)
        let cat = Node(name: "cat", op: .concat(axis: 1), inputs: ["c1_out", "c1_out"], outputs: ["cat_out"])
        let split = Node(name: "split", op: .split(axis: 1, sizes: [5, 19]), inputs: ["cat_out"], outputs: ["s1", "s2"])
        let mean = Node(name: "mean", op: .reduceMean(axes: [2, 3], keepDims: true), inputs: ["s2"], outputs: ["m"])
        let add = Node(name: "add", op: .add, inputs: ["s2", "m"], outputs: ["a"])
        var g = Graph(name: "t", inputs: [x], outputs: [ValueInfo(name: "y", shape: [])],
                      initializers: ["w1": w1, "w2": w2], nodes: [c1, d2s, c2, cat, split, mean, add])
        try g.inferShapes()
        XCTAssertEqual(g.outputs[0].shape.text, "[1,3,2*H,2*W]")
        // floor((H + 2 - 3) / 2) + 1 == floor((H + 1) / 2)
        XCTAssertEqual(g.values["c2_out"]!.shape.text, "[1,4,(H+1)/2,(W+1)/2]")
        XCTAssertEqual(g.values["c2_out"]!.shape.evaluate(["H": 9, "W": 10]), [1, 4, 5, 5])
        XCTAssertEqual(g.values["cat_out"]!.shape.text, "[1,24,H,W]")
        XCTAssertEqual(g.values["s1"]!.shape.text, "[1,5,H,W]")
        XCTAssertEqual(g.values["m"]!.shape.text, "[1,19,1,1]")
        XCTAssertEqual(g.values["a"]!.shape.text, "[1,19,H,W]")
    }

    func testErrorsNameTheNode() {
        let (c1, _) = conv("first_conv", "x", "w1", 12, 3)
        let bad = Tensor(shape: [12, 4, 3, 3], floats: [Float](repeating: 0, count: 12 * 4 * 9))
        var g = Graph(name: "t", inputs: [x], outputs: [ValueInfo(name: "first_conv_out", shape: [])],
                      initializers: ["w1": bad], nodes: [c1])
        XCTAssertThrowsError(try g.inferShapes()) { error in
            XCTAssertTrue("\(error)".contains("node 'first_conv' (Conv)"), "\(error)")
            XCTAssertTrue("\(error)".contains("3 channels"), "\(error)")
        }
        let d2s = Node(name: "d", op: .depthToSpace(blockSize: 2, mode: .dcr), inputs: ["x"], outputs: ["y"])
        var g2 = Graph(name: "t", inputs: [x], outputs: [ValueInfo(name: "y", shape: [])], initializers: [:], nodes: [d2s])
        XCTAssertThrowsError(try g2.inferShapes()) { XCTAssertTrue("\($0)".contains("node 'd' (DepthToSpace)"), "\($0)") }
    }

    func testReshapeInfersMinusOneOnSymbolicDims() throws {
        let r = Node(name: "r", op: .reshape(shape: [1, 3, -1], allowZero: false), inputs: ["x"], outputs: ["y"])
        var g = Graph(name: "t", inputs: [ValueInfo(name: "x", shape: [.known(1), .known(3), .symbolic("H"), .known(4)])],
                      outputs: [ValueInfo(name: "y", shape: [])], initializers: [:], nodes: [r])
        try g.inferShapes()
        XCTAssertEqual(g.outputs[0].shape.text, "[1,3,4*H]")
    }

    func testTopologicalSortAndDeadCode() throws {
        let a = Node(name: "a", op: .relu, inputs: ["x"], outputs: ["ya"])
        let b = Node(name: "b", op: .sigmoid, inputs: ["ya"], outputs: ["yb"])
        let dead = Node(name: "dead", op: .sqrt, inputs: ["x"], outputs: ["unused"])
        var g = Graph(name: "t", inputs: [x], outputs: [ValueInfo(name: "yb", shape: [])],
                      initializers: ["orphan": .scalar(1)], nodes: [b, dead, a])
        try g.sortTopologically()
        XCTAssertEqual(g.nodes.map(\.name), ["dead", "a", "b"])
        g.removeDeadCode()
        XCTAssertEqual(g.nodes.map(\.name), ["a", "b"])
        XCTAssertTrue(g.initializers.isEmpty)
        var cyclic = Graph(name: "c", inputs: [x], outputs: [], initializers: [:],
                           nodes: [Node(name: "p", op: .relu, inputs: ["q_out"], outputs: ["p_out"]),
                                   Node(name: "q", op: .relu, inputs: ["p_out"], outputs: ["q_out"])])
        XCTAssertThrowsError(try cyclic.sortTopologically())
    }
}
