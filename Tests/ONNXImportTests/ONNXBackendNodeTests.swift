import Foundation
import ONNXImport
import SRGraph
import XCTest

/// ONNX's backend node tests (onnx/backend/test/data/node/test_*), for every test whose model
/// uses only operators the importer translates into IR ops.
///
/// - Inputs that the IR takes as attributes (Clip min/max, Reshape shape, Split sizes, Resize
///   scales/sizes, ReduceMean axes) are bound as initializers from the test data before import:
///   a compiler needs them at compile time.
/// - A test with non-float32 data, or with an attribute value or mode we do not support, must
///   fail to import with an ImportError; those are listed in `expectedNotApplicable` with the
///   error kind, so any change in coverage shows up as a test failure.
/// - Node test models declare the newest opset of the installed onnx package. A test whose
///   opset is above 21 is imported as opset 21 when every one of its operators has the same
///   attributes, inputs and outputs in both versions (the later versions only added element
///   types); otherwise it stays rejected as out of range.
/// - Outputs are compared with ONNX's runner tolerance: |actual - expected| <= 1e-7 + 1e-3 * |expected|.
/// - Recent onnx wheels ship without the node test data; it is then generated from the onnx
///   package's own test case definitions (onnx.backend.test.case.node) into a temporary directory.
final class ONNXBackendNodeTests: XCTestCase {
    static let rtol: Float = 1e-3
    static let atol: Float = 1e-7

    /// Tests that use only supported ops but must be rejected, with the ImportError kind.
    static let expectedNotApplicable: [String: ImportError.Kind] = {
        var e: [String: ImportError.Kind] = [:]
        // Resize modes other than nearest, keep_aspect_ratio_policy other than stretch
        for n in [
            "test_resize_downsample_scales_cubic", "test_resize_downsample_scales_cubic_A_n0p5_exclude_outside", "test_resize_downsample_scales_cubic_align_corners",
            "test_resize_downsample_scales_cubic_antialias", "test_resize_downsample_scales_linear", "test_resize_downsample_scales_linear_align_corners",
            "test_resize_downsample_scales_linear_antialias", "test_resize_downsample_scales_linear_half_pixel_symmetric", "test_resize_downsample_sizes_cubic",
            "test_resize_downsample_sizes_cubic_antialias", "test_resize_downsample_sizes_linear_antialias", "test_resize_downsample_sizes_linear_pytorch_half_pixel",
            "test_resize_downsample_sizes_nearest_not_larger", "test_resize_downsample_sizes_nearest_not_smaller", "test_resize_tf_crop_and_resize",
            "test_resize_tf_crop_and_resize_axes_2_3", "test_resize_tf_crop_and_resize_axes_3_2", "test_resize_tf_crop_and_resize_extrapolation_value",
            "test_resize_upsample_scales_cubic", "test_resize_upsample_scales_cubic_A_n0p5_exclude_outside", "test_resize_upsample_scales_cubic_align_corners",
            "test_resize_upsample_scales_cubic_asymmetric", "test_resize_upsample_scales_linear", "test_resize_upsample_scales_linear_align_corners",
            "test_resize_upsample_scales_linear_half_pixel_symmetric", "test_resize_upsample_sizes_cubic", "test_resize_upsample_sizes_nearest_not_larger",
            "test_resize_upsample_sizes_nearest_not_smaller",
        ] { e[n] = .unsupportedAttribute }
        // integer data
        for n in [
            "test_add_int16", "test_add_int8", "test_add_uint16",
            "test_add_uint32", "test_add_uint64", "test_add_uint8",
            "test_clip_default_int8_inbounds", "test_clip_default_int8_inbounds_expanded", "test_clip_default_int8_max",
            "test_clip_default_int8_min", "test_div_int16", "test_div_int32_trunc",
            "test_div_int8", "test_div_uint16", "test_div_uint32",
            "test_div_uint64", "test_div_uint8", "test_mul_int16",
            "test_mul_int8", "test_mul_uint16", "test_mul_uint32",
            "test_mul_uint64", "test_mul_uint8", "test_pow_types_float32_int32",
            "test_pow_types_float32_int64", "test_pow_types_float32_uint32", "test_pow_types_float32_uint64",
            "test_pow_types_int32_float32", "test_pow_types_int32_int32", "test_pow_types_int64_float32",
            "test_pow_types_int64_int64", "test_sub_int16", "test_sub_int8",
            "test_sub_uint16", "test_sub_uint32", "test_sub_uint64",
            "test_sub_uint8",
        ] { e[n] = .unsupportedType }
        return e
    }()

    static let generator = #"""
import os, sys
import numpy as np
from onnx import numpy_helper, TensorProto
import onnx.backend.test.case.node as node_cases
out = sys.argv[1]
for case in node_cases.collect_testcases():
    model = case.model
    try:
        sets = []
        for inputs, outputs in case.data_sets:
            def pb(values, infos):
                res = []
                for a, info in zip(values, infos):
                    if isinstance(a, TensorProto): res.append(a.SerializeToString())
                    elif isinstance(a, np.ndarray) or np.isscalar(a): res.append(numpy_helper.from_array(np.asarray(a), info.name).SerializeToString())
                    else: raise TypeError("not a tensor")
                return res
            sets.append((pb(inputs, model.graph.input), pb(outputs, model.graph.output)))
    except Exception:
        continue   # sequences, optionals, maps: not tensors, never applicable
    d = os.path.join(out, case.name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f: f.write(model.SerializeToString())
    for i, (ins, outs) in enumerate(sets):
        dd = os.path.join(d, f"test_data_set_{i}")
        os.makedirs(dd, exist_ok=True)
        for j, b in enumerate(ins):
            with open(os.path.join(dd, f"input_{j}.pb"), "wb") as f: f.write(b)
        for j, b in enumerate(outs):
            with open(os.path.join(dd, f"output_{j}.pb"), "wb") as f: f.write(b)
open(os.path.join(out, "COMPLETE"), "w").close()
"""#

    /// The node test data directory: the onnx package's, or generated once per onnx version.
    static func nodeTestDirectory() throws -> URL {
        let python = try TestSupport.pythonWithONNX()
        let info = try TestSupport.python(python, script: "import onnx, os; print(os.path.dirname(onnx.__file__)); print(onnx.__version__)")
            .split(separator: "\n").map(String.init)
        guard info.count >= 2 else { throw SetupFailure("could not locate the onnx package") }
        let shipped = URL(fileURLWithPath: info[0]).appendingPathComponent("backend/test/data/node")
        if FileManager.default.fileExists(atPath: shipped.path) { return shipped }
        let generated = FileManager.default.temporaryDirectory.appendingPathComponent("srcc-onnx-node-tests-\(info[1])")
        if !FileManager.default.fileExists(atPath: generated.appendingPathComponent("COMPLETE").path) {
            try? FileManager.default.removeItem(at: generated)
            try FileManager.default.createDirectory(at: generated, withIntermediateDirectories: true)
            _ = try TestSupport.python(python, script: generator, [generated.path])
        }
        return generated
    }

    /// Ops whose schema at the newest opset has the same attributes, inputs and outputs as at opset 21.
    static func opsUnchangedSince21(_ ops: Set<String>) throws -> Set<String> {
        let python = try TestSupport.pythonWithONNX()
        let script = """
        import sys, onnx.defs as d
        latest = d.onnx_opset_version()
        for op in sys.argv[1:]:
            a, b = d.get_schema(op, 21), d.get_schema(op, latest)
            if sorted(a.attributes) == sorted(b.attributes) and [i.name for i in a.inputs] == [i.name for i in b.inputs] \
               and [o.name for o in a.outputs] == [o.name for o in b.outputs]:
                print(op)
        """
        return Set(try TestSupport.python(python, script: script, ops.sorted()).split(separator: "\n").map(String.init))
    }

    enum Outcome { case passed, notApplicable(ImportError), failed(String) }

    func testNodeTests() throws {
        let dir = try Self.nodeTestDirectory()
        let supported = ONNXImporter.translatedOperators
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("test_") }.sorted()
        XCTAssertGreaterThan(names.count, 100, "too few node tests in \(dir.path)")
        var passed: [String] = [], failed: [(String, String)] = []
        var notApplicable: [String: ImportError] = [:]
        var otherOps = 0
        let unchanged = try Self.opsUnchangedSince21(supported)
        for name in names {
            let testDir = dir.appendingPathComponent(name)
            guard let bytes = try? TestSupport.bytes(testDir.appendingPathComponent("model.onnx")) else { continue }
            let summary = try ONNXImporter.inspect(bytes: bytes, fileName: name)
            guard !summary.opTypes.isEmpty, summary.opTypes.allSatisfy(supported.contains) else { otherOps += 1; continue }
            let asOpset21 = (summary.opset ?? 0) > 21 && summary.opTypes.allSatisfy(unchanged.contains)
            switch try run(testDir, bytes: bytes, summary: summary, opsetOverride: asOpset21 ? 21 : nil) {
            case .passed: passed.append(name)
            case .notApplicable(let e): notApplicable[name] = e
            case .failed(let why): failed.append((name, why))
            }
        }
        var lines = ["ONNX node tests: \(passed.count) passed, \(notApplicable.count) not applicable, \(failed.count) failed, \(otherOps) use other operators"]
        var byKind: [ImportError.Kind: [String]] = [:]
        for (n, e) in notApplicable { byKind[e.kind, default: []].append(n) }
        for k in byKind.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            lines.append("  not applicable (\(k.rawValue)): \(byKind[k]!.count)")
            for n in byKind[k]!.sorted() { lines.append("    \(n): \(notApplicable[n]!.message)") }
        }
        for (n, why) in failed { lines.append("  FAILED \(n): \(why)") }
        print(lines.joined(separator: "\n"))

        XCTAssertEqual(notApplicable.mapValues(\.kind), Self.expectedNotApplicable,
                       "the set of rejected node tests changed; update expectedNotApplicable if intended")
        for (n, why) in failed { XCTFail("\(n): \(why)") }
        XCTAssertGreaterThan(passed.count, 50)
    }

    func run(_ testDir: URL, bytes: [UInt8], summary: ONNXImporter.ModelSummary, opsetOverride: Int?) throws -> Outcome {
        let sets = try FileManager.default.contentsOfDirectory(atPath: testDir.path).filter { $0.hasPrefix("test_data_set_") }.sorted()
        guard !sets.isEmpty else { return .failed("no test data") }
        for set in sets {
            let setDir = testDir.appendingPathComponent(set)
            var inputs: [String: Tensor] = [:], constants: [String: Tensor] = [:]
            for (j, name) in summary.inputs.enumerated() {
                let t = try ONNXImporter.loadTensor(path: setDir.appendingPathComponent("input_\(j).pb").path)
                if summary.parameterInputs.contains(name) { constants[name] = t } else { inputs[name] = t }
            }
            let graph: Graph
            do {
                graph = try ONNXImporter.load(bytes: bytes, fileName: testDir.lastPathComponent, constantInputs: constants,
                                             opsetOverride: opsetOverride)
            } catch let e as ImportError {
                return .notApplicable(e)
            }
            // A test with non-float data must have been rejected above.
            let types = zip(summary.inputs, summary.inputElementTypes).filter { !summary.parameterInputs.contains($0.0) }.map(\.1)
                + summary.outputElementTypes
            if types.contains(where: { $0 != "FLOAT" }) { return .failed("imported although its data types are \(types)") }

            let results: [String: Tensor]
            do { results = try EngineRunner.run(graph, inputs) } catch { return .failed("engine: \(error)") }
            for (j, name) in summary.outputs.enumerated() {
                let want = try ONNXImporter.loadTensor(path: setDir.appendingPathComponent("output_\(j).pb").path)
                guard let got = results[name] else { return .failed("\(set): no output '\(name)'") }
                if let problem = Self.compare(got, want) { return .failed("\(set) output '\(name)': \(problem)") }
            }
        }
        return .passed
    }

    /// nil when equal within tolerance.
    static func compare(_ got: Tensor, _ want: Tensor) -> String? {
        guard got.shape == want.shape else { return "shape \(got.shape), expected \(want.shape)" }
        guard got.dtype == .float32, want.dtype == .float32 else { return "dtype \(got.dtype), expected \(want.dtype)" }
        var worst = 0, bad = 0
        var worstErr: Float = 0
        for i in 0..<want.floats.count {
            let a = got.floats[i], b = want.floats[i]
            if a.isNaN && b.isNaN { continue }
            if a == b { continue }
            let err = abs(a - b)
            if !(err <= atol + rtol * abs(b)) {
                bad += 1
                if !(err <= worstErr) { worstErr = err; worst = i }
            }
        }
        guard bad > 0 else { return nil }
        return "\(bad)/\(want.floats.count) values out of tolerance; worst at \(worst): \(got.floats[worst]) vs \(want.floats[worst])"
    }
}
