import XCTest
import SRGraph

final class TextDumpTests: XCTestCase {
    func graph(weightOrder: [String]) throws -> Graph {
        var inits: [String: Tensor] = [:]
        for name in weightOrder { inits[name] = Tensor(shape: [2, 3, 1, 1], floats: [-1, 0, 0.5, 1, 2, 3.25]) }
        var g = Graph(name: "tiny", inputs: [ValueInfo(name: "x", shape: [.known(1), .known(3), .symbolic("H"), .symbolic("W")])],
                      outputs: [ValueInfo(name: "y", shape: [])], initializers: inits,
                      nodes: [Node(name: "conv 1", op: .conv(Conv2DAttributes(kernel: [1, 1])), inputs: ["x", "w", ""], outputs: ["c"]),
                              Node(name: "clip", op: .clip(min: 0, max: 0.5), inputs: ["c"], outputs: ["y"])],
                      metadata: ["source": "tiny.onnx"])
        try g.inferShapes()
        return g
    }

    func testExactText() throws {
        let text = TextDump.render(try graph(weightOrder: ["w"]))
        let t = Tensor(shape: [2, 3, 1, 1], floats: [-1, 0, 0.5, 1, 2, 3.25])
        XCTAssertEqual(text, """
        # srcc graph dump v1
        graph tiny
        meta source=tiny.onnx
        input x f32[1,3,H,W]
        output y f32[1,2,H,W]
        const w f32[2,3,1,1] min=-1 max=3.25 mean=0.958333 hash=\(TextDump.contentHash(t))
        node "conv 1" Conv(x, w, _) -> (c f32[1,2,H,W]) kernel=[1,1] strides=[1,1] dilations=[1,1] group=1 pads=[0,0,0,0]
        node clip Clip(c) -> (y f32[1,2,H,W]) min=0 max=0.5

        """)
    }

    func testHashSeesEveryValueAndShape() {
        let a = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        XCTAssertEqual(TextDump.contentHash(a), TextDump.contentHash(Tensor(shape: [2, 2], floats: [1, 2, 3, 4])))
        XCTAssertNotEqual(TextDump.contentHash(a), TextDump.contentHash(Tensor(shape: [4], floats: [1, 2, 3, 4])))
        XCTAssertNotEqual(TextDump.contentHash(a), TextDump.contentHash(Tensor(shape: [2, 2], floats: [1, 2, 3, 4.0000005])))
        XCTAssertEqual(TextDump.contentHash(a).count, 12)
    }

    func testStableUnderInitializerInsertionOrder() throws {
        XCTAssertEqual(TextDump.render(try graph(weightOrder: ["w", "z", "a"])), TextDump.render(try graph(weightOrder: ["a", "z", "w"])))
    }
}

final class QuantizationDumpTests: XCTestCase {
    func testQuantizationAttributesAreDumped() throws {
        let a = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], activation: .leakyRelu(alpha: 0.05), padValues: [114.5, 0, 1],
                                 weightQuantization: WeightQuantization(bits: 4, scales: [0.25], gamma: 0.8, statistic: 0.3125))
        XCTAssertEqual(Op.conv(a).attributeText,
                       "kernel=[3,3] strides=[1,1] dilations=[1,1] group=1 pads=[1,1,1,1] activation=leaky_relu(0.05) pad_values=[114.5,0,1] wbits=4 wscale=0.25 gamma=0.8 p99=0.3125")
        XCTAssertEqual(Op.fakeQuantize(FakeQuant(bits: 4, signed: false, alpha: 1.5)).attributeText, "bits=4 signed=0 alpha=1.5")
        XCTAssertEqual(FakeQuant(bits: 4, signed: true, alpha: 7).scale, 1)
        XCTAssertEqual(FakeQuant(bits: 4, signed: false, alpha: 15).scale, 1)
        XCTAssertEqual(FakeQuant(bits: 8, signed: true, alpha: 1).qmin, -127)
    }
}
