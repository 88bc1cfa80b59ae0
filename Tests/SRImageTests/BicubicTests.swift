import Foundation
import XCTest
@testable import SRImage

/// Paths and helpers shared by the SRImage tests (BicubicTests, MetricsTests).
enum SRTestSupport {
    /// The package root: three levels up from this file (Tests/SRImageTests/<file>).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let datasetsDir: URL = packageRoot.deletingLastPathComponent()
        .appendingPathComponent("shared").appendingPathComponent("datasets")

    static let scriptsDir: URL = packageRoot.appendingPathComponent("scripts")

    /// The datasets directory, or an XCTSkip if the shared data is not checked out next to the package.
    static func requireDatasets() throws -> URL {
        var isDir: ObjCBool = false
        let set5 = datasetsDir.appendingPathComponent("Set5").path
        guard FileManager.default.fileExists(atPath: set5, isDirectory: &isDir), isDir.boolValue else {
            throw XCTSkip("SR benchmark images not found at \(datasetsDir.path) "
                          + "(expected <package root>/../shared/datasets/{Set5,Set14}); skipping dataset test")
        }
        return datasetsDir
    }

    static func hrPath(_ set: String, _ name: String) -> String {
        datasetsDir.appendingPathComponent("\(set)/HR/\(name).png").path
    }

    static func lrPath(_ set: String, _ name: String, scale: Int) -> String {
        datasetsDir.appendingPathComponent("\(set)/LR_bicubic/X\(scale)/\(name).png").path
    }

    /// Image names (without .png) of a set's HR folder, sorted.
    static func names(in set: String) throws -> [String] {
        let dir = datasetsDir.appendingPathComponent("\(set)/HR").path
        return try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".png") }
            .map { String($0.dropLast(4)) }
            .sorted()
    }

    static func makeTempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("srimage-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func writePPM(_ image: RGBImage, to url: URL) throws {
        var data = Data("P6\n\(image.width) \(image.height)\n255\n".utf8)
        data.append(contentsOf: image.pixels)
        try data.write(to: url)
    }

    /// Reads the P6 files the Python scripts write ("P6\n<w> <h>\n255\n" + pixels).
    static func readPPM(_ url: URL) throws -> RGBImage {
        let bytes = [UInt8](try Data(contentsOf: url))
        var fields: [Int] = []
        var pos = 2   // after "P6"
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "6") else {
            throw NSError(domain: "PPM", code: 1, userInfo: [NSLocalizedDescriptionKey: "not P6: \(url.path)"])
        }
        while fields.count < 3 {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A { pos += 1 }
            var v = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
                v = v * 10 + Int(bytes[pos] - 0x30); pos += 1
            }
            fields.append(v)
        }
        pos += 1
        let (w, h) = (fields[0], fields[1])
        guard fields[2] == 255, bytes.count >= pos + w * h * 3 else {
            throw NSError(domain: "PPM", code: 2, userInfo: [NSLocalizedDescriptionKey: "bad PPM: \(url.path)"])
        }
        return RGBImage(width: w, height: h, pixels: Array(bytes[pos..<(pos + w * h * 3)]))
    }

    /// Runs `python3 scripts/<script> args...`; fails the test on a non-zero exit. Returns stdout.
    static func runPython(_ script: String, _ args: [String],
                          file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", scriptsDir.appendingPathComponent(script).path] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let stdout = String(decoding: outData, as: UTF8.self)
        if p.terminationStatus != 0 {
            XCTFail("python3 \(script) \(args.joined(separator: " ")) exited \(p.terminationStatus): "
                    + String(decoding: errData, as: UTF8.self), file: file, line: line)
            throw NSError(domain: "python", code: Int(p.terminationStatus))
        }
        return stdout
    }

    /// A deterministic pseudo-random image with some smooth structure and some noise
    /// (so that resampling produces non-trivial values and rounding ties are exercised).
    static func syntheticImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        var img = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let smooth = 127.5 + 100 * sin(Double(x) * 0.21 + Double(c)) * cos(Double(y) * 0.13)
                    let noise = Double(next() % 61) - 30
                    let v = (x + y + c) % 17 == 0 ? Double(next() % 256) : smooth + noise
                    img[x, y, c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return img
    }
}

final class BicubicTests: XCTestCase {

    // MARK: - Algorithm details

    func testCubicKernelValues() {
        XCTAssertEqual(matlabCubic(0), 1)
        XCTAssertEqual(matlabCubic(1), 0)
        XCTAssertEqual(matlabCubic(-1), 0)
        XCTAssertEqual(matlabCubic(2), 0)
        XCTAssertEqual(matlabCubic(2.5), 0)
        // a = -0.5: k(0.5) = 1.5/8 - 2.5/4 + 1 = 0.5625, k(1.5) = -0.5*3.375 + 2.5*2.25 - 6 + 2 = -0.0625
        XCTAssertEqual(matlabCubic(0.5), 0.5625, accuracy: 1e-15)
        XCTAssertEqual(matlabCubic(-1.5), -0.0625, accuracy: 1e-15)
    }

    func testMirrorIndex() {
        // n = 3, period 6: ... 2 2 1 0 | 0 1 2 | 2 1 0 | 0 ...  (MATLAB's aux = [1 2 3 3 2 1], 0-based)
        let got = (-4...6).map { mirrorIndex($0, 3) }
        XCTAssertEqual(got, [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0])
        XCTAssertEqual(mirrorIndex(-7, 3), 0)
        XCTAssertEqual(mirrorIndex(12, 3), 0)
    }

    func testContributionsHalving() {
        // x2 downscale: u = 2x - 0.5, width 8, taps left..left+9 (10), weights normalised.
        let c = ResizeContributions(inLength: 8, outLength: 4, scale: 0.5)
        for o in 0..<c.outLength {
            let s = (0..<c.taps).reduce(0.0) { $0 + c.weights[o * c.taps + $1] }
            XCTAssertEqual(s, 1, accuracy: 1e-14)
        }
        // Output 1 (1-based) samples u = 1.5; its taps are input pixels -2...5 (1-based) at distances
        // 3.5 ... -3.5, weighted 0.5 * k(0.5 * d) before normalisation; the out-of-range ones mirror.
        XCTAssertEqual(c.taps, 8, "the two all-zero tap columns (distance 4.5 > 4) are dropped")
        let w0 = Array(c.weights[0..<c.taps]), i0 = Array(c.indices[0..<c.taps])
        XCTAssertEqual(i0, [2, 1, 0, 0, 1, 2, 3, 4])
        let k = { (d: Double) in 0.5 * matlabCubic(0.5 * d) }
        let distances = [3.5, 2.5, 1.5, 0.5, -0.5, -1.5, -2.5, -3.5]
        let unnorm = distances.map(k)
        let sum = unnorm.reduce(0, +)
        for t in 0..<8 { XCTAssertEqual(w0[t], unnorm[t] / sum, accuracy: 1e-15) }
    }

    func testOutputSizeRule() {
        let img = SRTestSupport.syntheticImage(width: 361, height: 250, seed: 1)
        let third = matlabImresize(img, scale: 1.0 / 3.0)
        XCTAssertEqual(third.width, 121)   // ceil(120.33)
        XCTAssertEqual(third.height, 84)   // ceil(83.33)
        let up = matlabImresize(img, scale: 1.5)
        XCTAssertEqual(up.width, 542)      // ceil(541.5)
        XCTAssertEqual(up.height, 375)
    }

    func testScaleOneIsIdentity() {
        let img = SRTestSupport.syntheticImage(width: 37, height: 23, seed: 2)
        XCTAssertEqual(matlabImresize(img, scale: 1), img)
    }

    func testConstantImageStaysConstant() {
        var img = RGBImage(width: 30, height: 20)
        for y in 0..<20 { for x in 0..<30 { img[x, y, 0] = 200; img[x, y, 1] = 7; img[x, y, 2] = 255 } }
        for s in [0.25, 1.0 / 3.0, 0.5, 2.0, 3.0] {
            let out = matlabImresize(img, scale: s)
            XCTAssertEqual(Set(stride(from: 0, to: out.pixels.count, by: 3).map { out.pixels[$0] }), [200], "scale \(s)")
            XCTAssertEqual(Set(stride(from: 1, to: out.pixels.count, by: 3).map { out.pixels[$0] }), [7], "scale \(s)")
            XCTAssertEqual(Set(stride(from: 2, to: out.pixels.count, by: 3).map { out.pixels[$0] }), [255], "scale \(s)")
        }
    }

    func testPlaneVariantAgreesBeforeRounding() {
        // A vertical-only resize (the width pass has scale 1, an exact identity), so the uint8
        // result must be the Double plane result rounded once.
        let img = SRTestSupport.syntheticImage(width: 16, height: 40, seed: 3)
        let out = matlabImresize(img, outputWidth: 16, outputHeight: 13)
        let plane = (0..<(16 * 40)).map { Double(img.pixels[$0 * 3 + 1]) }
        let p = matlabImresizePlane(plane, width: 16, height: 40, outputWidth: 16, outputHeight: 13,
                                    scaleX: 1, scaleY: 13.0 / 40.0)
        XCTAssertEqual(p.count, 16 * 13)
        for i in 0..<p.count {
            XCTAssertEqual(out.pixels[i * 3 + 1], saturateUInt8(p[i]), "pixel \(i)")
        }
        XCTAssertTrue(p.contains { $0 != $0.rounded() }, "the plane result is not rounded")
    }

    // MARK: - Against the Python reference (scripts/matlab_imresize.py)

    /// A resize to check: the input, the Swift result, and the reference script's arguments.
    private struct ResizeJob {
        let tag: String
        let input: RGBImage
        let swift: RGBImage
        let args: [String]
    }

    /// Runs all jobs through scripts/matlab_imresize.py in one process; returns the Python outputs.
    private func pythonResizes(_ jobs: [ResizeJob], dir: URL) throws -> [RGBImage] {
        var lines: [String] = []
        for (n, job) in jobs.enumerated() {
            let src = dir.appendingPathComponent("job\(n)-in.ppm")
            let dst = dir.appendingPathComponent("job\(n)-out.ppm")
            try SRTestSupport.writePPM(job.input, to: src)
            lines.append(([src.path, dst.path] + job.args).joined(separator: " "))
        }
        let list = dir.appendingPathComponent("jobs.txt")
        try lines.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        _ = try SRTestSupport.runPython("matlab_imresize.py", ["--batch", list.path])
        return try jobs.indices.map { try SRTestSupport.readPPM(dir.appendingPathComponent("job\($0)-out.ppm")) }
    }

    private func assertBitExact(_ a: RGBImage, _ b: RGBImage, _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.width, b.width, "\(what): width", file: file, line: line)
        XCTAssertEqual(a.height, b.height, "\(what): height", file: file, line: line)
        guard a.pixels.count == b.pixels.count else { return }
        let diff = zip(a.pixels, b.pixels).filter { $0 != $1 }.count
        XCTAssertEqual(diff, 0, "\(what): \(diff) of \(a.pixels.count) samples differ", file: file, line: line)
    }

    func testSyntheticResizesMatchPythonReference() throws {
        let dir = try SRTestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = SRTestSupport.syntheticImage(width: 53, height: 41, seed: 4)
        var jobs: [ResizeJob] = []
        for s in [2.0, 3.0, 0.5, 1.0 / 3.0, 0.25, 0.7, 1.6] {
            jobs.append(ResizeJob(tag: "synthetic scale \(s)", input: img,
                                  swift: matlabImresize(img, scale: s), args: ["--scale", "\(s)"]))
        }
        // Different scales per axis: checks the pass order (the smaller scale first).
        for (w, h) in [(20, 70), (90, 30), (106, 20), (53, 100)] {
            jobs.append(ResizeJob(tag: "synthetic size \(w)x\(h)", input: img,
                                  swift: matlabImresize(img, outputWidth: w, outputHeight: h),
                                  args: ["--size", "\(w)", "\(h)"]))
        }
        let reference = try pythonResizes(jobs, dir: dir)
        XCTAssertEqual(reference.count, 11)
        for (job, ref) in zip(jobs, reference) { assertBitExact(job.swift, ref, job.tag) }
    }

    func testUpscalesMatchPythonReference() throws {
        _ = try SRTestSupport.requireDatasets()
        let dir = try SRTestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String, Int, Int)] = [
            ("Set5", "bird", 2, 2), ("Set5", "woman", 3, 3), ("Set14", "comic", 3, 3),
            ("Set14", "bridge", 2, 2), ("Set14", "zebra", 4, 3), ("Set5", "butterfly", 4, 2),
        ]
        var jobs: [ResizeJob] = []
        for (set, name, lrScale, up) in cases {
            let lr = try PNG.read(path: SRTestSupport.lrPath(set, name, scale: lrScale))
            let sr = matlabImresize(lr, scale: Double(up))
            XCTAssertEqual(sr.width, lr.width * up)
            XCTAssertEqual(sr.height, lr.height * up)
            jobs.append(ResizeJob(tag: "\(set)/\(name) X\(lrScale) LR upscaled x\(up)", input: lr,
                                  swift: sr, args: ["--scale", "\(Double(up))"]))
        }
        let reference = try pythonResizes(jobs, dir: dir)
        XCTAssertEqual(reference.count, 6)
        for (job, ref) in zip(jobs, reference) { assertBitExact(job.swift, ref, job.tag) }
    }

    // MARK: - The benchmark LR files

    /// Every LR file of Set5 and Set14 (x2, x3, x4) must be reproduced bit for bit from its HR
    /// image by modcrop + matlabImresize(1/s). This resizes every HR image of both sets 3 times.
    func testBenchmarkLRIsReproducedBitExact() throws {
        _ = try SRTestSupport.requireDatasets()
        var matched = 0
        var files = 0
        var failures: [String] = []
        for set in ["Set5", "Set14"] {
            let names = try SRTestSupport.names(in: set)
            XCTAssertEqual(names.count, set == "Set5" ? 5 : 14, set)
            for name in names {
                let hr = try PNG.read(path: SRTestSupport.hrPath(set, name))
                for s in 2...4 {
                    let lr = try PNG.read(path: SRTestSupport.lrPath(set, name, scale: s))
                    files += 1
                    let out = bicubicDownscale(hr, scale: s)
                    if out == lr {
                        matched += 1
                    } else if out.width != lr.width || out.height != lr.height {
                        failures.append("\(set)/\(name) X\(s): size \(out.width)x\(out.height) vs \(lr.width)x\(lr.height)")
                    } else {
                        let d = zip(out.pixels, lr.pixels).filter { $0 != $1 }.count
                        failures.append("\(set)/\(name) X\(s): \(d) samples differ")
                    }
                }
            }
        }
        XCTAssertEqual(files, 57)
        XCTAssertEqual(matched, 57, "bit-exact \(matched)/\(files); " + failures.joined(separator: "; "))
    }
}
