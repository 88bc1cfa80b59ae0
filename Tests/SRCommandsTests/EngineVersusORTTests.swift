import XCTest
import Foundation
import SRCommands
import SRImage
import SRGraph
import FloatEngine

/// Our fp32 engine against ONNX Runtime value by value, on a real image per shared model.
final class EngineVersusORTTests: XCTestCase {
    func testSharedModelsMatchORT() throws {
        let shared = try SharedData.require()
        for record in try SharedData.provenance() {
            let model = shared.appendingPathComponent("models/\(record.file)").path
            let png = shared.appendingPathComponent("datasets/Set5/LR_bicubic/X\(record.scale)/butterfly.png").path
            let convention = ModelConvention(channels: record.bgr ? .bgr : .rgb, range: record.range255 ? .byte : .unit)
            try compare(model: model, png: png, convention: convention, label: record.file)
        }
    }

    func testSampleModelMatchesORT() throws {
        let model = SharedData.packageRoot.appendingPathComponent("samples/cubic_x2.onnx").path
        let png = SharedData.packageRoot.appendingPathComponent("samples/pattern.png").path
        try compare(model: model, png: png, convention: ModelConvention(), label: "cubic_x2")
    }

    /// The self-built RDN (scripts/make_rdn.py; no published RDN weights are available) imports
    /// and runs like ONNX Runtime, at every scale and with the old exporters' pixel shuffle.
    func testRDNMatchesORT() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rdn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = SharedData.packageRoot.appendingPathComponent("samples/pattern.png").path
        for (scale, old) in [(2, false), (3, true), (4, false), (4, true)] {
            let model = dir.appendingPathComponent("rdn_x\(scale)\(old ? "_old" : "").onnx").path
            try PythonTool.run("make_rdn.py", ["--scale", "\(scale)", "-o", model] + (old ? ["--old-pixel-shuffle"] : []))
            let graph = try loadGraph(path: model)
            XCTAssertEqual(try upscaleFactor(of: graph), scale)
            XCTAssertEqual(graph.nodes.filter { $0.op.name == "DepthToSpace" }.count, scale == 4 ? 2 : 1)
            try compare(model: model, png: png, convention: ModelConvention(), label: "rdn x\(scale)\(old ? " old pixel shuffle" : "")")
        }
    }

    func compare(model: String, png: String, convention: ModelConvention, label: String) throws {
        let graph = try loadGraph(path: model)
        let engine = try FloatEngine(graph: graph)
        let input = convention.tensor(from: try PNG.read(path: png))
        let ours = try engine.run([graph.inputs[0].name: input])[graph.outputs[0].name]!
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("ort-\(UUID().uuidString).f32").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        var args = [model, png, tmp]
        if convention.channels == .bgr { args.append("--bgr") }
        if convention.range == .byte { args += ["--range", "255"] }
        try PythonTool.run("ort_reference.py", ["run"] + args)
        let theirs = try PythonTool.readFloats(tmp)
        XCTAssertEqual(ours.floats.count, theirs.count, label)
        guard ours.floats.count == theirs.count else { return }
        var maxDiff: Float = 0, maxRef: Float = 0
        for (a, b) in zip(ours.floats, theirs) { maxDiff = max(maxDiff, abs(a - b)); maxRef = max(maxRef, abs(b)) }
        print("\(label): max |ours - ORT| = \(maxDiff) (output max \(maxRef))")
        // fp32 with a different summation order: ~1e-6 relative per layer, a few dozen layers.
        XCTAssertLessThanOrEqual(maxDiff, 1e-4 * max(1, maxRef), label)
    }
}
