import Foundation
import ONNXImport
import SRGraph
import XCTest

/// The pretrained models in ../shared/models, checked against PROVENANCE.md.
final class ModelImportTests: XCTestCase {
    /// Op histogram per file from PROVENANCE.md's "**ONNX ops:**" lines (e.g. "Conv ×14, Relu ×8" or "Conv 46").
    static func provenanceOpCounts(_ text: String) -> [String: [String: Int]] {
        var result: [String: [String: Int]] = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                let title = line.dropFirst(3).split(separator: " ").first.map(String.init) ?? ""
                current = title.hasSuffix(".onnx") ? title : nil
            }
            guard let file = current, let r = line.range(of: "**ONNX ops:**") else { continue }
            var body = String(line[r.upperBound...])
            if let stop = body.range(of: ". Op types") { body = String(body[..<stop.lowerBound]) }
            var counts: [String: Int] = [:]
            for item in body.split(separator: ",") {
                // "Conv ×14", "Clip ×1 (min and max ...)", "DepthToSpace 1 (CRD)"
                let words = item.replacingOccurrences(of: "×", with: " ").split(separator: " ")
                guard words.count >= 2, let n = Int(words[1]) else { continue }
                counts[String(words[0]), default: 0] += n
            }
            result[file] = counts
        }
        return result
    }

    func testSharedModelsImport() throws {
        let dir = try TestSupport.sharedModels()
        let provenance = try String(contentsOf: dir.appendingPathComponent("PROVENANCE.md"), encoding: .utf8)
        let expected = Self.provenanceOpCounts(provenance)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".onnx") }.sorted()
        XCTAssertFalse(files.isEmpty, "no .onnx files in \(dir.path)")
        for file in files {
            let path = dir.appendingPathComponent(file).path
            let graph = try ONNXImporter.load(path: path)
            var counts: [String: Int] = [:]
            for n in graph.nodes { counts[n.op.name, default: 0] += 1 }
            guard var want = expected[file] else { XCTFail("\(file) has no ONNX ops line in PROVENANCE.md"); continue }
            want["Constant"] = nil   // folded into initializers / attributes at import
            XCTAssertEqual(counts, want, "\(file): op counts after import")

            let scale = Int(file.split(separator: "_").last { $0.hasPrefix("x") }.map { $0.dropFirst().prefix { $0.isNumber } } ?? "") ?? 0
            XCTAssertGreaterThan(scale, 1, "\(file): scale from the file name")
            XCTAssertEqual(graph.inputs.map(\.shape), [[.known(1), .known(3), .symbolic("H"), .symbolic("W")]], file)
            XCTAssertEqual(graph.outputs.count, 1)
            XCTAssertEqual(graph.outputs.first?.shape,
                           [.known(1), .known(3), Dim(symbol: "H", coefficient: scale), Dim(symbol: "W", coefficient: scale)], file)
            XCTAssertEqual(graph.metadata["source"], file)
            XCTAssertEqual(graph.metadata["opset"], "17")

            let again = try ONNXImporter.load(bytes: TestSupport.bytes(URL(fileURLWithPath: path)), fileName: file)
            XCTAssertEqual(TextDump.render(graph), TextDump.render(again), "\(file): dump is not deterministic")
            print("\(file): \(graph.nodes.count) nodes, \(graph.parameterCount) parameters, output \(graph.outputs[0].shape.text)")
        }
    }

    func testRDNImportBothPixelShuffleStyles() throws {
        let python = try TestSupport.pythonWithONNX()
        let dir = try TestSupport.temporaryDirectory("rdn")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = TestSupport.root.appendingPathComponent("scripts/make_rdn.py").path
        for scale in [2, 3, 4] {
            var dumps: [String] = []
            for old in [false, true] {
                let out = dir.appendingPathComponent("rdn_x\(scale)\(old ? "_old" : "").onnx")
                let r = try TestSupport.run(python, [script, "--scale", "\(scale)", "-o", out.path] + (old ? ["--old-pixel-shuffle"] : []))
                XCTAssertEqual(r.status, 0, r.stderr)
                let g = try ONNXImporter.load(path: out.path)
                XCTAssertEqual(g.outputs.first?.shape,
                               [.known(1), .known(3), Dim(symbol: "H", coefficient: scale), Dim(symbol: "W", coefficient: scale)],
                               "x\(scale) old=\(old)")
                let ops = g.nodes.map(\.op.name)
                XCTAssertFalse(ops.contains("Reshape") || ops.contains("Transpose"), "x\(scale) old=\(old): \(Set(ops))")
                let d2s = g.nodes.compactMap { n -> Int? in
                    if case .depthToSpace(let b, .crd) = n.op { return b }
                    return nil
                }
                XCTAssertEqual(d2s, scale == 4 ? [2, 2] : [scale], "x\(scale) old=\(old): DepthToSpace CRD blocks")
                // Defaults D=4, C=4: 2 shallow + D*(C+1) + 2 GFF + upsampler convs + final conv.
                XCTAssertEqual(ops.filter { $0 == "Conv" }.count, 2 + 4 * 5 + 2 + (scale == 4 ? 2 : 1) + 1)
                dumps.append(g.initializers.values.map(TextDump.tensorSummary).sorted().joined(separator: "\n"))
            }
            // Both styles give the same weights and the same number of nodes.
            XCTAssertEqual(dumps[0], dumps[1], "x\(scale): both pixel-shuffle styles must keep the same weights")
        }
    }
}

/// The old exporters' DCR pixel shuffle (Reshape [N,r,r,C,H,W] -> Transpose [0,3,4,1,5,2] -> Reshape)
/// becomes DepthToSpace DCR, and is left alone when an intermediate has another user.
final class PixelShuffleRewriteTests: XCTestCase {
    static let script = #"""
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto as T
def model(path, extra_user):
    c = lambda n, v: numpy_helper.from_array(np.array(v, np.int64), n)
    nodes = [helper.make_node("Shape", ["input"], ["s"]),
             helper.make_node("Gather", ["s", "i2"], ["h"], axis=0), helper.make_node("Gather", ["s", "i3"], ["w"], axis=0),
             helper.make_node("Unsqueeze", ["h", "ax"], ["h1"]), helper.make_node("Unsqueeze", ["w", "ax"], ["w1"]),
             helper.make_node("Concat", ["head", "h1", "w1"], ["t6"], axis=0),
             helper.make_node("Reshape", ["input", "t6"], ["r6"], name="split"),
             helper.make_node("Transpose", ["r6"], ["p6"], perm=[0, 3, 4, 1, 5, 2], name="perm"),
             helper.make_node("Mul", ["h1", "two"], ["h2"]), helper.make_node("Mul", ["w1", "two"], ["w2"]),
             helper.make_node("Concat", ["nc", "h2", "w2"], ["t4"], axis=0),
             helper.make_node("Reshape", ["p6", "t4"], ["output"], name="merge")]
    outputs = [helper.make_tensor_value_info("output", T.FLOAT, None)]
    if extra_user:
        nodes.append(helper.make_node("Relu", ["p6"], ["side"], name="side"))
        outputs.append(helper.make_tensor_value_info("side", T.FLOAT, None))
    g = helper.make_graph(nodes, "dcr", [helper.make_tensor_value_info("input", T.FLOAT, [1, 12, "h", "w"])], outputs,
                          [c("i2", 2), c("i3", 3), c("ax", [0]), c("head", [1, 2, 2, 3]), c("two", [2]), c("nc", [1, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
    onnx.save(m, path)
model(sys.argv[1], False)
model(sys.argv[2], True)
"""#

    func testDCRChainBecomesDepthToSpace() throws {
        let python = try TestSupport.pythonWithONNX()
        let dir = try TestSupport.temporaryDirectory("dcr")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("dcr.onnx"), shared = dir.appendingPathComponent("dcr_shared.onnx")
        _ = try TestSupport.python(python, script: Self.script, [plain.path, shared.path])

        let g = try ONNXImporter.load(path: plain.path)
        XCTAssertEqual(g.nodes.map(\.op), [.depthToSpace(blockSize: 2, mode: .dcr)])
        XCTAssertEqual(g.outputs.first?.shape, [.known(1), .known(3), Dim(symbol: "H", coefficient: 2), Dim(symbol: "W", coefficient: 2)])

        // With a second user of the transposed tensor the chain must stay, and its rank-6
        // reshape with two symbolic dims cannot be expressed in the IR: a clear error.
        XCTAssertThrowsError(try ONNXImporter.load(path: shared.path)) { error in
            let e = error as? ImportError
            XCTAssertEqual(e?.node, "split")
            XCTAssertEqual(e?.op, "Reshape")
            XCTAssertTrue(e?.message.contains("cannot express") ?? false, "\(error)")
        }
    }
}
