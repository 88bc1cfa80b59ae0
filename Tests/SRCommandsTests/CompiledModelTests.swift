import XCTest
import Foundation
import SRCommands
import SRImage
import QSRFormat
import SRVM

/// Every shared model (and the self-built RDN) compiles at 8 and 4 bits, and srvm's kernels
/// compute exactly the pixels of its reference kernels (the oracle) on real images. How close
/// the programs are to the float model is the accuracy tests' business (QuantAccuracyTests).
final class CompiledModelTests: XCTestCase {
    func compile(_ model: String, _ args: [String]) throws -> (Program, [UInt8]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compiled-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.qsr").path
        var command = try SrccCommand.parseAsRoot(["compile", model, "-o", out, "--quiet"] + args)
        try command.run()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        return (try decode(bytes), bytes)
    }

    func assertBitExact(_ program: Program, _ image: RGBImage, _ label: String) throws {
        let vm = try VirtualMachine(program: program, kernels: .best)
        let ours = try vm.run(image)
        let reference = try VirtualMachine(program: program, kernels: .reference, threads: 1).run(image)
        XCTAssertEqual(ours.width, image.width * program.metadata.scale, label)
        XCTAssertEqual(ours, reference, "\(label): srvm --kernels \(vm.kernels.rawValue) differs from its reference kernels")
        XCTAssertGreaterThan(Set(ours.pixels).count, 32, "\(label): degenerate output")
    }

    func testSharedModelsBitExact() throws {
        let shared = try SharedData.require()
        for record in try SharedData.provenance() {
            let model = shared.appendingPathComponent("models/\(record.file)").path
            let calib = shared.appendingPathComponent("datasets/Set14/LR_bicubic/X\(record.scale)").path
            let lr = try PNG.read(path: shared.appendingPathComponent("datasets/Set5/LR_bicubic/X\(record.scale)/butterfly.png").path)
            let crop = lr.cropped(width: 40, height: 28)
            var convention = ["--range", record.range255 ? "255" : "1"]
            if record.bgr { convention += ["--channels", "bgr"] }
            for bits in ["8", "4"] {
                // round-weights only changes which grid point weights take (and the biases); it
                // runs on XLSR (fast) and is skipped on the big models to keep the suite short.
                let rounding = record.file.hasPrefix("xlsr") ? [] : ["--no-round-weights"]
                let (program, bytes) = try compile(model, ["-b", bits, "--calib", calib, "--calib-count", "4", "--no-tune-alpha"] + rounding + convention)
                XCTAssertEqual(program.metadata.channelOrder, record.bgr ? .bgr : .rgb)
                XCTAssertEqual(program.metadata.scale, record.scale)
                try assertBitExact(program, crop, "\(record.file) -b \(bits)")
                let percent = Double(bytes.count) / Double(program.metadata.sourceBytes) * 100
                print("compiled \(record.file) -b \(bits): \(bytes.count) bytes = \(String(format: "%.1f", percent))% of the float model")
                if record.file.hasPrefix("edsr") && bits == "4" {
                    XCTAssertLessThanOrEqual(percent, 15, "EDSR-8 x2 at -b 4 must be at most 15% of the float ONNX")
                }
            }
        }
    }

    func testRDNCompilesAndRunsBitExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rdn-q-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pattern = try PNG.read(path: SharedData.packageRoot.appendingPathComponent("samples/pattern.png").path)
        for (scale, bits) in [(2, "8"), (3, "4"), (4, "8")] {
            let model = dir.appendingPathComponent("rdn_x\(scale).onnx").path
            try PythonTool.run("make_rdn.py", ["--scale", "\(scale)", "-o", model])
            let (program, _) = try compile(model, ["-b", bits, "--no-tune-alpha"])
            try assertBitExact(program, pattern.cropped(width: 30, height: 22), "rdn x\(scale) -b \(bits)")
        }
    }
}
