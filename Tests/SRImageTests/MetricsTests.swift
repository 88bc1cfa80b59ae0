import Foundation
import XCTest
@testable import SRImage

final class MetricsTests: XCTestCase {

    func testLumaFormula() {
        var img = RGBImage(width: 2, height: 1)
        img[0, 0, 0] = 255; img[0, 0, 1] = 255; img[0, 0, 2] = 255
        img[1, 0, 0] = 10; img[1, 0, 1] = 20; img[1, 0, 2] = 30
        let y = lumaY(img)
        XCTAssertEqual(y[0], 235, accuracy: 1e-12)   // 16 + 219
        XCTAssertEqual(y[1], 16 + (65.481 * 10 + 128.553 * 20 + 24.966 * 30) / 255, accuracy: 1e-12)
        XCTAssertEqual(lumaY(RGBImage(width: 1, height: 1))[0], 16)
    }

    func testIdenticalImages() {
        let img = SRTestSupport.syntheticImage(width: 40, height: 31, seed: 11)
        XCTAssertEqual(psnrY(img, img, shave: 0), .infinity)
        XCTAssertEqual(psnrY(img, img, shave: 4), .infinity)
        XCTAssertEqual(ssimY(img, img, shave: 2), 1, accuracy: 1e-12)
    }

    func testConstantOffsetClosedForm() {
        // B = A + d on every channel: Y differs by d * (65.481 + 128.553 + 24.966) / 255 = d * 219/255
        // everywhere, so PSNR = 20 log10(255 / (d * 219 / 255)).
        var a = SRTestSupport.syntheticImage(width: 48, height: 36, seed: 12)
        for i in 0..<a.pixels.count { a.pixels[i] = a.pixels[i] / 2 }   // room for the offset
        for d in [1, 3, 10] {
            var b = a
            for i in 0..<b.pixels.count { b.pixels[i] += UInt8(d) }
            let expected = 20 * log10(255.0 / (Double(d) * 219.0 / 255.0))
            XCTAssertEqual(psnrY(b, a, shave: 0), expected, accuracy: 1e-9, "offset \(d)")
            XCTAssertEqual(psnrY(a, b, shave: 3), expected, accuracy: 1e-9, "offset \(d), shaved")
        }
        // d = 1: 20 log10(255^2 / 219) = 49.4527... dB
        XCTAssertEqual(psnrY(a, RGBImage(width: a.width, height: a.height, pixels: a.pixels.map { $0 + 1 }),
                             shave: 0), 49.452725, accuracy: 1e-6)
    }

    func testShaveIgnoresBorders() {
        let a = SRTestSupport.syntheticImage(width: 30, height: 30, seed: 13)
        var b = a
        for x in 0..<30 { b[x, 0, 0] = 255 &- b[x, 0, 0]; b[x, 29, 1] = 0 }
        for y in 0..<30 { b[0, y, 2] = 255; b[29, y, 0] = 3 }
        XCTAssertEqual(psnrY(a, b, shave: 1), .infinity)
        XCTAssertLessThan(psnrY(a, b, shave: 0), 40)
        XCTAssertEqual(ssimY(a, b, shave: 1), 1, accuracy: 1e-12)
        XCTAssertLessThan(ssimY(a, b, shave: 0), 0.9995)
    }

    func testSSIMOfConstantImagesClosedForm() {
        // Constant planes: zero variances, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
        func gray(_ v: UInt8) -> RGBImage {
            RGBImage(width: 20, height: 15, pixels: [UInt8](repeating: v, count: 20 * 15 * 3))
        }
        let c1 = (0.01 * 255.0) * (0.01 * 255.0)
        let m1 = 16 + 100 * 219.0 / 255, m2 = 16 + 160 * 219.0 / 255
        let expected = (2 * m1 * m2 + c1) / (m1 * m1 + m2 * m2 + c1)
        XCTAssertEqual(ssimY(gray(100), gray(160), shave: 2), expected, accuracy: 1e-12)
        XCTAssertLessThan(expected, 0.96)
    }

    func testGaussianWindow() {
        let g = gaussianWindow1D()
        XCTAssertEqual(g.count, 11)
        XCTAssertEqual(g.reduce(0, +), 1, accuracy: 1e-15)
        XCTAssertEqual(g[0], g[10])
        // exp(-25/4.5) relative to the centre
        XCTAssertEqual(g[0] / g[5], exp(-25.0 / 4.5), accuracy: 1e-15)
    }

    // MARK: - Against the Python reference (scripts/metrics_reference.py)

    /// Scores every (sr, hr, shave) through scripts/metrics_reference.py in one process.
    private func reference(_ pairs: [(RGBImage, RGBImage, Int)], dir: URL) throws -> [(psnr: Double, ssim: Double)] {
        var args: [String] = []
        for (n, (sr, hr, shave)) in pairs.enumerated() {
            let a = dir.appendingPathComponent("p\(n)-sr.ppm"), b = dir.appendingPathComponent("p\(n)-hr.ppm")
            try SRTestSupport.writePPM(sr, to: a)
            try SRTestSupport.writePPM(hr, to: b)
            args += [a.path, b.path, "\(shave)"]
        }
        let out = try SRTestSupport.runPython("metrics_reference.py", args)
        let rows = out.split(separator: "\n").map { line -> (psnr: Double, ssim: Double) in
            let f = line.split(separator: " ").map { $0 == "inf" ? Double.infinity : (Double($0) ?? .nan) }
            return f.count == 2 ? (f[0], f[1]) : (.nan, .nan)
        }
        XCTAssertEqual(rows.count, pairs.count, "reference output: \(out)")
        XCTAssertFalse(rows.contains { $0.psnr.isNaN || $0.ssim.isNaN }, "unparsable reference output: \(out)")
        guard rows.count == pairs.count else {
            throw NSError(domain: "metrics_reference.py", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "expected \(pairs.count) result lines"])
        }
        return rows
    }

    func testSyntheticPairsMatchPythonReference() throws {
        let dir = try SRTestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hr = SRTestSupport.syntheticImage(width: 64, height: 48, seed: 21)
        let sr = matlabImresize(matlabImresize(hr, scale: 0.5), scale: 2)
        let shaves = [0, 2, 4]
        let refs = try reference(shaves.map { (sr, hr, $0) } + [(hr, hr, 1)], dir: dir)
        for (shave, r) in zip(shaves, refs) {
            XCTAssertEqual(psnrY(sr, hr, shave: shave), r.psnr, accuracy: 1e-6, "shave \(shave)")
            XCTAssertEqual(ssimY(sr, hr, shave: shave), r.ssim, accuracy: 1e-6, "shave \(shave)")
            XCTAssertLessThan(r.ssim, 0.99)
        }
        XCTAssertEqual(refs[3].psnr, .infinity)
        XCTAssertEqual(refs[3].ssim, 1, accuracy: 1e-12)
    }

    /// HR vs the bicubic upscale of its benchmark LR (the "Bicubic" row of SR papers).
    func testBicubicBaselineMatchesPythonReference() throws {
        _ = try SRTestSupport.requireDatasets()
        let dir = try SRTestSupport.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String, Int)] = [
            ("Set5", "baby", 4), ("Set5", "butterfly", 2), ("Set14", "comic", 3), ("Set14", "bridge", 2),
        ]
        var pairs: [(SRPair, Int)] = []
        for (set, name, s) in cases {
            let hrFull = try PNG.read(path: SRTestSupport.hrPath(set, name))
            let lr = try PNG.read(path: SRTestSupport.lrPath(set, name, scale: s))
            let pair = SRPair(sr: matlabImresize(lr, scale: Double(s)), hr: hrFull)
            XCTAssertEqual(pair.hr, SRPair.croppedHR(hrFull, lr: lr, scale: s))
            pairs.append((pair, s))
        }
        let refs = try reference(pairs.map { ($0.0.sr, $0.0.hr, $0.1) }, dir: dir)
        var maxDP = 0.0, maxDS = 0.0
        for (n, ((pair, s), r)) in zip(pairs, refs).enumerated() {
            let what = "\(cases[n].0)/\(cases[n].1) x\(s)"
            let score = pair.score(shave: s)
            XCTAssertEqual(score.psnr, r.psnr, accuracy: 1e-6, "\(what) PSNR")
            XCTAssertEqual(score.ssim, r.ssim, accuracy: 1e-6, "\(what) SSIM")
            XCTAssertGreaterThan(score.psnr, 20, what)
            XCTAssertLessThan(score.psnr, 40, what)
            XCTAssertGreaterThan(score.ssim, 0.5, what)
            XCTAssertLessThan(score.ssim, 1, what)
            maxDP = max(maxDP, abs(score.psnr - r.psnr))
            maxDS = max(maxDS, abs(score.ssim - r.ssim))
        }
        // The published bicubic x4 PSNR-Y for Set5 "baby" is 31.78 dB.
        XCTAssertEqual(pairs[0].0.score(shave: 4).psnr, 31.78, accuracy: 0.01)
        print("metrics vs python reference: max |dPSNR| = \(maxDP) dB, max |dSSIM| = \(maxDS)")
    }
}
