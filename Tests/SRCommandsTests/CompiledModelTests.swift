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
    static func compile(_ model: String, _ args: [String]) throws -> (Program, [UInt8]) {
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

    /// The kernel sets this CPU runs besides the reference (portable always; each SIMD set only
    /// where the CPU has it, so a test on an older CPU skips that set and says so).
    static var simdSets: [KernelSet] {
        var sets: [KernelSet] = []
        for (set, name) in [(KernelSet.avx2, "AVX2"), (.vnni, "AVX-VNNI"), (.avx512, "AVX-512 VNNI"), (.amx, "AMX-INT8")] {
            if (try? VirtualMachine(program: Self.tiny, kernels: set)) != nil { sets.append(set) }
            else { print("CompiledModelTests: this CPU lacks \(name); --kernels \(set.rawValue) not tested") }
        }
        return sets
    }
    static let tiny: Program = {
        let md = ModelMetadata(modelName: "t", scale: 1, channelOrder: .rgb, valueRange: 255, inputName: "i", outputName: "o", sourceBytes: 0)
        let v = ValueDescriptor(name: "x", type: .u8, channels: 3, height: DimExpr(symbol: 0), width: DimExpr(symbol: 1), scale: 1,
                                qmin: 0, qmax: 255, slot: 0)
        return Program(metadata: md, values: [v], constants: [], instructions: [.inputPixels(dst: 0), .outputPixels(src: 0)], slotCount: 1)
    }()

    /// Whole programs, bit for bit: every SIMD kernel set at 1, 2 and 3 threads against the
    /// reference kernels on every full-size Set5 image (the reference runs the images in
    /// parallel, one thread each), and the portable set on a crop (it is plain Swift, slow).
    func assertBitExactOnSet5(_ program: Program, _ images: [RGBImage], _ label: String) throws {
        var expected = [Result<RGBImage, Error>](repeating: .failure(VMError("not run")), count: images.count)
        expected.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let base = out.baseAddress!   // each iteration writes its own element
            DispatchQueue.concurrentPerform(iterations: images.count) { i in
                base[i] = Result { try VirtualMachine(program: program, kernels: .reference, threads: 1).run(images[i]) }
            }
        }
        for (i, image) in images.enumerated() {
            let reference = try expected[i].get()
            XCTAssertEqual(reference.width, image.width * program.metadata.scale, label)
            XCTAssertGreaterThan(Set(reference.pixels).count, 32, "\(label): degenerate output")
            for set in Self.simdSets {
                for threads in [1, 2, 3] {
                    let ours = try VirtualMachine(program: program, kernels: set, threads: threads).run(image)
                    XCTAssertTrue(ours == reference, "\(label) image \(i) (\(image.width)x\(image.height)): --kernels \(set.rawValue) --threads \(threads) differs from the reference kernels")
                }
            }
        }
        try assertBitExact(program, images[0].cropped(width: 40, height: 28), label + " (crop)")
        let crop = images[0].cropped(width: 40, height: 28)
        XCTAssertEqual(try VirtualMachine(program: program, kernels: .portable, threads: 2).run(crop),
                       try VirtualMachine(program: program, kernels: .reference, threads: 1).run(crop), "\(label): --kernels portable")
    }

    func testSharedModelsBitExact() throws {
        let shared = try SharedData.require()
        let records = try SharedData.provenance()
        let jobs = records.flatMap { r in ["8", "4"].map { (record: r, bits: $0) } }
        // Compiling is mostly one thread: two at a time halve the wall time.
        var compiled = [Result<(Program, [UInt8]), Error>](repeating: .failure(VMError("not compiled")), count: jobs.count)
        compiled.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let base = out.baseAddress!   // each iteration writes its own element
            DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
                let (record, bits) = jobs[k]
                let model = shared.appendingPathComponent("models/\(record.file)").path
                let calib = shared.appendingPathComponent("datasets/Set14/LR_bicubic/X\(record.scale)").path
                var convention = ["--range", record.range255 ? "255" : "1"]
                if record.bgr { convention += ["--channels", "bgr"] }
                // round-weights only changes which grid point weights take (and the biases); it
                // runs on XLSR (fast) and is skipped on the big models to keep the suite short.
                let rounding = record.file.hasPrefix("xlsr") ? [] : ["--no-round-weights"]
                base[k] = Result { try CompiledModelTests.compile(model, ["-b", bits, "--calib", calib, "--calib-count", "4", "--no-tune-alpha"] + rounding + convention) }
            }
        }
        for ((record, bits), result) in zip(jobs, compiled) {
            let (program, bytes) = try result.get()
            let dir = shared.appendingPathComponent("datasets/Set5/LR_bicubic/X\(record.scale)")
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".png") }.sorted()
            let images = try names.map { try PNG.read(path: dir.appendingPathComponent($0).path) }
            XCTAssertEqual(images.count, 5)
            XCTAssertEqual(program.metadata.channelOrder, record.bgr ? .bgr : .rgb)
            XCTAssertEqual(program.metadata.scale, record.scale)
            try assertBitExactOnSet5(program, images, "\(record.file) -b \(bits)")
            let percent = Double(bytes.count) / Double(program.metadata.sourceBytes) * 100
            print("compiled \(record.file) -b \(bits): \(bytes.count) bytes = \(String(format: "%.1f", percent))% of the float model")
            if record.file.hasPrefix("edsr") && bits == "4" {
                XCTAssertLessThanOrEqual(percent, 15, "EDSR-8 x2 at -b 4 must be at most 15% of the float ONNX")
            }
        }
    }

    func testRDNCompilesAndRunsBitExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rdn-q-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pattern = try PNG.read(path: SharedData.packageRoot.appendingPathComponent("samples/pattern.png").path)
        let jobs = [(2, "8"), (3, "4"), (4, "8")]
        for (scale, _) in jobs {
            try PythonTool.run("make_rdn.py", ["--scale", "\(scale)", "-o", dir.appendingPathComponent("rdn_x\(scale).onnx").path])
        }
        // Two compiles at a time (each is mostly one thread).
        var compiled = [Result<(Program, [UInt8]), Error>](repeating: .failure(VMError("not compiled")), count: jobs.count)
        compiled.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let base = out.baseAddress!   // each iteration writes its own element
            DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
                let model = dir.appendingPathComponent("rdn_x\(jobs[k].0).onnx").path
                base[k] = Result { try CompiledModelTests.compile(model, ["-b", jobs[k].1, "--no-tune-alpha"]) }
            }
        }
        for ((scale, bits), result) in zip(jobs, compiled) {
            try assertBitExact(try result.get().0, pattern.cropped(width: 30, height: 22), "rdn x\(scale) -b \(bits)")
        }
    }
}
