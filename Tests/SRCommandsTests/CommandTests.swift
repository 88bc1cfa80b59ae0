import XCTest
import Foundation
import SRCommands
import SRImage

/// The srcc commands as a user calls them, on the project's own sample.
final class CommandTests: XCTestCase {
    let sample = SharedData.packageRoot.appendingPathComponent("samples/cubic_x2.onnx").path
    let pattern = SharedData.packageRoot.appendingPathComponent("samples/pattern.png").path
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("srcc-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func srcc(_ args: [String]) throws {
        var command = try SrccCommand.parseAsRoot(args)
        try command.run()
    }

    func testDumpIsDeterministicAndShowsSymbolicShapes() throws {
        let a = tmp.appendingPathComponent("a.txt").path, b = tmp.appendingPathComponent("b.txt").path
        try srcc(["dump", sample, "-o", a])
        try srcc(["dump", sample, "--after", "import", "-o", b])
        let text = try String(contentsOfFile: a, encoding: .utf8)
        XCTAssertEqual(text, try String(contentsOfFile: b, encoding: .utf8))
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.first, "# srcc graph dump v1")
        XCTAssertTrue(lines.contains("input input f32[1,3,H,W]"), text)
        XCTAssertTrue(lines.contains("output output f32[1,3,2*H,2*W]"), text)
        XCTAssertEqual(lines.filter { $0.hasPrefix("node ") }.count, 3, text)
        XCTAssertTrue(text.contains("Conv(input, upsample.weight, upsample.bias) -> (phases f32[1,12,H,W]) kernel=[5,5]"), text)
        XCTAssertTrue(text.contains("DepthToSpace(phases) -> (shuffled f32[1,3,2*H,2*W]) blocksize=2 mode=CRD"), text)
        XCTAssertTrue(text.contains("Clip(shuffled) -> (output f32[1,3,2*H,2*W]) min=0 max=1"), text)
    }

    func testDumpRejectsUnknownStage() {
        XCTAssertThrowsError(try SrccCommand.parseAsRoot(["dump", sample, "--after", "nope"]))
    }

    func testRunUpscalesThePattern() throws {
        let out = tmp.appendingPathComponent("x2.png").path
        try srcc(["run", sample, pattern, "-o", out])
        let input = try PNG.read(path: pattern), result = try PNG.read(path: out)
        XCTAssertEqual(result.width, input.width * 2)
        XCTAssertEqual(result.height, input.height * 2)
        // The sample is bicubic written as a net: away from the zero-padded border it must equal
        // MATLAB's bicubic on a double image (Keys a=-0.5, no per-pass uint8 rounding; the uint8
        // variant clamps overshoot between passes and differs near hard edges), to rounding.
        var maxDiff = 0
        for c in 0..<3 {
            let plane = (0..<(input.width * input.height)).map { Double(input.pixels[$0 * 3 + c]) }
            let reference = matlabImresizePlane(plane, width: input.width, height: input.height, scale: 2)
            XCTAssertEqual(reference.width, result.width)
            for y in 4..<(result.height - 4) { for x in 4..<(result.width - 4) {
                let expected = Int(max(0, min(255, reference.plane[y * reference.width + x].rounded())))
                maxDiff = max(maxDiff, abs(Int(result[x, y, c]) - expected))
            } }
        }
        XCTAssertLessThanOrEqual(maxDiff, 1, "cubic_x2 sample vs matlabImresizePlane")
    }

    func testRunFailsCleanlyAndWritesNothing() throws {
        let out = tmp.appendingPathComponent("never.png").path
        let notPNG = tmp.appendingPathComponent("bad.png").path
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: notPNG))
        XCTAssertThrowsError(try srcc(["run", sample, notPNG, "-o", out]))
        XCTAssertThrowsError(try srcc(["run", tmp.appendingPathComponent("missing.onnx").path, pattern, "-o", out])) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
        XCTAssertThrowsError(try srcc(["run", pattern, pattern, "-o", out])) { error in
            XCTAssertTrue("\(error)".contains("unknown model format"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testEvalOnGeneratedDatasetWritesJSON() throws {
        // A dataset with HR only: eval makes the LR itself with MATLAB bicubic.
        let hrDir = tmp.appendingPathComponent("set/HR")
        try FileManager.default.createDirectory(at: hrDir, withIntermediateDirectories: true)
        let image = try PNG.read(path: pattern)
        try PNG.write(image, path: hrDir.appendingPathComponent("pattern.png").path)
        let images = try loadDataset(directory: tmp.appendingPathComponent("set").path, scale: 2)
        XCTAssertEqual(images.count, 1)
        XCTAssertEqual(images[0].lr.width, 48)
        let upscaler = try Upscaler(graph: try loadGraph(path: sample), convention: ModelConvention())
        let report = try evaluate(images: images, scale: 2, upscale: upscaler.upscale)
        // Bicubic down then up on a smooth synthetic image: well above 20 dB, below lossless.
        XCTAssertGreaterThan(report.psnr_y, 20)
        XCTAssertLessThan(report.psnr_y, 60)
        XCTAssertEqual(report.images.map(\.name), ["pattern"])
        try srcc(["eval", sample, "--dataset", tmp.appendingPathComponent("set").path, "--scale", "2", "--json"])
        XCTAssertThrowsError(try srcc(["eval", sample, "--dataset", tmp.appendingPathComponent("set").path, "--scale", "3"]))
    }

    /// `srcc eval` passes --threads to the engine that runs the model and --kernels to srvm; a
    /// compiled program scores the same with every kernel set and thread count.
    func testEvalThreadsAndKernels() throws {
        let set = tmp.appendingPathComponent("set")
        try FileManager.default.createDirectory(at: set.appendingPathComponent("HR"), withIntermediateDirectories: true)
        try PNG.write(try PNG.read(path: pattern), path: set.appendingPathComponent("HR/pattern.png").path)
        let program = tmp.appendingPathComponent("cubic.qsr").path
        try srcc(["compile", sample, "-b", "8", "-o", program, "--quiet", "--no-tune-alpha", "--no-round-weights"])
        let images = try loadDataset(directory: set.path, scale: 2)
        let reference = try evaluate(images: images, scale: 2, upscale: try openUpscaler(path: program, convention: ModelConvention(), threads: 1, kernels: .reference).upscale)
        let best = try evaluate(images: images, scale: 2, upscale: try openUpscaler(path: program, convention: ModelConvention(), threads: 3).upscale)
        XCTAssertEqual(reference, best)
        XCTAssertGreaterThan(reference.psnr_y, 20)
        try srcc(["eval", program, "--dataset", set.path, "--scale", "2", "--kernels", "reference", "--threads", "1", "--json"])
        try srcc(["eval", sample, "--dataset", set.path, "--scale", "2", "--threads", "1", "--json"])

        func message(_ args: [String]) -> String {
            do { try srcc(args); XCTFail("accepted: \(args)"); return "" } catch { return SrccCommand.message(for: error) }
        }
        let threads = message(["eval", program, "--dataset", set.path, "--scale", "2", "--threads", "0"])
        XCTAssertTrue(threads.contains("--threads must be at least 1 (got 0)"), threads)
        let onnx = message(["eval", sample, "--dataset", set.path, "--scale", "2", "--kernels", "reference"])
        XCTAssertTrue(onnx.contains("--kernels") && onnx.contains(".qsr"), onnx)
        let bogus = message(["eval", program, "--dataset", set.path, "--scale", "2", "--kernels", "bogus"])
        XCTAssertTrue(bogus.contains("bogus"), bogus)
    }
}
