import Foundation
import ONNXImport
import SRGraph
import XCTest

/// Every way a model can be rejected gives an ImportError naming file, node, op and opset.
final class ImportErrorTests: XCTestCase {
    /// Small bad models, written by the onnx package (one file per case, named after it).
    static let makeModels = #"""
import sys, os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as T
out = sys.argv[1]
def io(name, shape, t=T.FLOAT): return helper.make_tensor_value_info(name, t, shape)
def conv_w(): return numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32) * 0.1, "w")
def save(name, nodes, inputs, outputs, inits=(), opset=17, domain_opsets=()):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domain_opsets]
    m = helper.make_model(g, opset_imports=ops, producer_name="errors")
    m.ir_version = 8
    onnx.save(m, os.path.join(out, name + ".onnx"))
x = io("input", [1, 3, "h", "w"]); y = io("output", None)
save("gelu", [helper.make_node("Gelu", ["input"], ["output"], name="foo")], [x], [y])
save("conv", [helper.make_node("Conv", ["input", "w"], ["output"], name="c1", pads=[1, 1, 1, 1])], [x], [y], [conv_w()])
save("int_input", [helper.make_node("Relu", ["input"], ["output"], name="r")], [io("input", [1, 3, "h", "w"], T.INT64)], [y])
save("rank3", [helper.make_node("Conv", ["input", "w"], ["output"], name="c1")], [io("input", [3, "h", "w"])], [y], [conv_w()])
save("undefined", [helper.make_node("Add", ["input", "nope"], ["output"], name="a1")], [x], [y])
save("no_output", [helper.make_node("Relu", ["input"], ["r"], name="r1")], [x], [io("output", None)])
scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
save("resize_linear", [helper.make_node("Resize", ["input", "", "scales"], ["output"], name="up", mode="linear")], [x], [y], [scales])
save("opset9", [helper.make_node("Relu", ["input"], ["output"], name="r")], [x], [y], opset=9)
save("opset22", [helper.make_node("Relu", ["input"], ["output"], name="r")], [x], [y], opset=22)
save("domain", [helper.make_node("FusedConv", ["input", "w"], ["output"], name="fc", domain="com.microsoft")], [x], [y], [conv_w()],
     domain_opsets=[("com.microsoft", 1)])
save("runtime_bound", [helper.make_node("Clip", ["input", "lo"], ["output"], name="clip")], [x, io("lo", [])], [y])
# External data: the weight lives in a side file.
g = helper.make_graph([helper.make_node("Conv", ["input", "w"], ["output"], name="c1")], "ext", [x], [y], [conv_w()])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
onnx.save_model(m, os.path.join(out, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                location="external.bin", size_threshold=0)
"""#

    nonisolated(unsafe) static var dir: URL?

    func models() throws -> URL {
        if let d = Self.dir { return d }
        let python = try TestSupport.pythonWithONNX()
        let d = try TestSupport.temporaryDirectory("import-errors")
        _ = try TestSupport.python(python, script: Self.makeModels, [d.path])
        Self.dir = d
        return d
    }

    override class func tearDown() {
        if let d = dir { try? FileManager.default.removeItem(at: d) }
        super.tearDown()
    }

    /// Imports `name.onnx` (or the given bytes) and returns the error it must raise.
    func importError(_ name: String, bytes: [UInt8]? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> ImportError? {
        let data = try bytes ?? TestSupport.bytes(try models().appendingPathComponent(name + ".onnx"))
        do {
            let g = try ONNXImporter.load(bytes: data, fileName: name + ".onnx")
            XCTFail("\(name): imported without error (\(g.nodes.count) nodes)", file: file, line: line)
            return nil
        } catch let e as ImportError {
            XCTAssertFalse(e.description.isEmpty)
            return e
        }
    }

    func testValidModelImports() throws {
        let g = try ONNXImporter.load(path: try models().appendingPathComponent("conv.onnx").path)
        XCTAssertEqual(g.nodes.map(\.op.name), ["Conv"])
        XCTAssertEqual(g.outputs.first?.shape, [.known(1), .known(4), .symbolic("H"), .symbolic("W")])
    }

    func testUnsupportedOperator() throws {
        let e = try XCTUnwrap(try importError("gelu"))
        XCTAssertEqual(e.kind, .unsupportedOperator)
        XCTAssertEqual(e.description, "gelu.onnx: node 'foo' (op Gelu, opset 17): unsupported operator")
    }

    func testTruncatedProtobuf() throws {
        let good = try TestSupport.bytes(try models().appendingPathComponent("conv.onnx"))
        for cut in [good.count / 2, good.count - 7, 3] {
            let e = try XCTUnwrap(try importError("truncated", bytes: Array(good.prefix(cut))))
            XCTAssertEqual(e.kind, .malformed, "cut at \(cut): \(e)")
            XCTAssertTrue(e.description.hasPrefix("truncated.onnx: "), e.description)
        }
    }

    func testCorruptProtobuf() throws {
        var bad = try TestSupport.bytes(try models().appendingPathComponent("conv.onnx"))
        bad.replaceSubrange(0..<8, with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        XCTAssertEqual(try XCTUnwrap(try importError("corrupt", bytes: bad)).kind, .malformed)
        let text = Array("this is not a model\n".utf8)
        XCTAssertEqual(try XCTUnwrap(try importError("text", bytes: text)).kind, .malformed)
    }

    func testEmptyFile() throws {
        let e = try XCTUnwrap(try importError("empty", bytes: []))
        XCTAssertEqual(e.kind, .malformed)
        XCTAssertTrue(e.message.contains("empty file"), e.description)
    }

    func testExternalData() throws {
        let e = try XCTUnwrap(try importError("external"))
        XCTAssertEqual(e.kind, .externalData)
        XCTAssertTrue(e.message.contains("external data not supported, re-save with all tensors inside the file"), e.description)
        XCTAssertTrue(e.message.contains("'w'"), e.description)
    }

    func testNonFloatInput() throws {
        let e = try XCTUnwrap(try importError("int_input"))
        XCTAssertEqual(e.kind, .unsupportedType)
        XCTAssertTrue(e.message.contains("INT64") && e.message.contains("'input'"), e.description)
    }

    func testWrongRankForConv() throws {
        let e = try XCTUnwrap(try importError("rank3"))
        XCTAssertEqual(e.kind, .invalidGraph)
        XCTAssertEqual(e.node, "c1")
        XCTAssertEqual(e.op, "Conv")
        XCTAssertTrue(e.message.contains("rank 3"), e.description)
    }

    func testUndefinedInput() throws {
        let e = try XCTUnwrap(try importError("undefined"))
        XCTAssertEqual(e.kind, .undefinedValue)
        XCTAssertEqual(e.node, "a1")
        XCTAssertTrue(e.message.contains("'nope'"), e.description)
        let o = try XCTUnwrap(try importError("no_output"))
        XCTAssertEqual(o.kind, .undefinedValue)
        XCTAssertTrue(o.message.contains("'output'"), o.description)
    }

    func testUnsupportedResizeMode() throws {
        let e = try XCTUnwrap(try importError("resize_linear"))
        XCTAssertEqual(e.kind, .unsupportedAttribute)
        XCTAssertEqual(e.description, "resize_linear.onnx: node 'up' (op Resize, opset 17): Resize mode 'linear' is not supported (only nearest)")
    }

    func testOpsetOutOfRange() throws {
        for (name, v) in [("opset9", 9), ("opset22", 22)] {
            let e = try XCTUnwrap(try importError(name))
            XCTAssertEqual(e.kind, .unsupportedOpset)
            XCTAssertEqual(e.opset, v)
            XCTAssertTrue(e.message.contains("opset \(v) is not supported"), e.description)
        }
    }

    func testOtherDomain() throws {
        let e = try XCTUnwrap(try importError("domain"))
        XCTAssertEqual(e.kind, .unsupportedOpset)
        XCTAssertTrue(e.message.contains("com.microsoft"), e.description)
    }

    func testNonConstantParameter() throws {
        let e = try XCTUnwrap(try importError("runtime_bound"))
        XCTAssertEqual(e.kind, .nonConstantParameter)
        XCTAssertEqual(e.node, "clip")
        XCTAssertTrue(e.message.contains("'lo'"), e.description)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try ONNXImporter.load(path: "/nonexistent/dir/model.onnx")) { error in
            XCTAssertEqual((error as? ImportError)?.kind, .io)
        }
    }
}
