import Foundation
import XCTest
@testable import SRImage

/// Shared helpers for the PNG tests: locating the package, running the Pillow reference script,
/// building PNG files by hand.
enum PNGTestSupport {
    /// The package root: this file is <root>/Tests/SRImageTests/PNGSuiteTests.swift.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var pngSuiteDir: URL {
        packageRoot.appendingPathComponent("../shared/pngsuite").standardizedFileURL
    }

    /// Runs scripts/png_reference.py (Pillow) and returns its "files" entries.
    static func pillowReference(_ arguments: [String]) throws -> [[String: Any]] {
        let script = packageRoot.appendingPathComponent("scripts/png_reference.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting: the JSON is larger than a pipe buffer.
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "png_reference.py", code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "png_reference.py failed: " + String(decoding: errData, as: UTF8.self),
            ])
        }
        let json = try JSONSerialization.jsonObject(with: data)
        guard let root = json as? [String: Any], let files = root["files"] as? [[String: Any]] else {
            throw NSError(domain: "png_reference.py", code: -1,
                          userInfo: [NSLocalizedDescriptionKey: "unexpected JSON from png_reference.py"])
        }
        return files
    }

    static func hexBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count / 2)
        var hi: UInt8 = 0
        var odd = false
        for c in s.utf8 {
            let v: UInt8 = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
            if odd { out.append(hi << 4 | v) } else { hi = v }
            odd.toggle()
        }
        return out
    }

    /// Our decode presented the way Pillow holds the same file (see scripts/png_reference.py):
    /// "L", "LA", "RGB", "RGBA" are 8-bit (16-bit samples reduced to the high byte, as Pillow's
    /// 16-bit unpackers do; 16-bit gray+alpha becomes RGBA in Pillow), "I16LE" is full-precision
    /// 16-bit gray, little-endian. Palette images without tRNS get an opaque alpha for "RGBA".
    static func pillowView(_ image: PNGImage, kind: String) -> [UInt8]? {
        let s = image.samples
        let hi: (UInt16) -> UInt8 = { image.bitDepth == 16 ? UInt8($0 >> 8) : UInt8(truncatingIfNeeded: $0) }
        let n = image.width * image.height
        switch (kind, image.channels) {
        case ("I16LE", 1) where image.bitDepth == 16:
            return s.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        case ("L", 1) where image.bitDepth == 8, ("LA", 2) where image.bitDepth == 8,
             ("RGB", 3), ("RGBA", 4):
            return s.map(hi)
        case ("RGBA", 2):
            return (0..<n).flatMap { p -> [UInt8] in
                let g = hi(s[2 * p])
                return [g, g, g, hi(s[2 * p + 1])]
            }
        case ("RGBA", 3) where image.colorType == 3:
            return (0..<n).flatMap { p in [hi(s[3 * p]), hi(s[3 * p + 1]), hi(s[3 * p + 2]), 255] }
        default:
            return nil
        }
    }

    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
        if a.count != b.count { return "length \(a.count) vs \(b.count)" }
        for i in 0..<a.count where a[i] != b[i] { return "byte \(i): \(a[i]) vs \(b[i])" }
        return "none"
    }

    /// Compares one decoded file with its Pillow entry; returns a list of problems (empty = identical).
    static func compare(_ bytes: [UInt8], with ref: [String: Any]) -> [String] {
        let name = ref["name"] as? String ?? "?"
        var problems: [String] = []
        let image: PNGImage
        do { image = try PNG.decode(bytes) } catch { return ["\(name): decode threw \(error)"] }
        let w = ref["width"] as? Int ?? -1, h = ref["height"] as? Int ?? -1
        if image.width != w || image.height != h {
            problems.append("\(name): size \(image.width)x\(image.height), Pillow \(w)x\(h)")
        }
        if image.colorType != UInt8(ref["ihdr_color"] as? Int ?? -1)
            || image.sourceBitDepth != ref["ihdr_depth"] as? Int ?? -1 {
            problems.append("\(name): IHDR colour/depth \(image.colorType)/\(image.sourceBitDepth) mismatch")
        }
        let kind = ref["native_kind"] as? String ?? "?"
        let native = hexBytes(ref["native"] as? String ?? "")
        if let mine = pillowView(image, kind: kind) {
            if mine != native {
                problems.append("\(name): \(kind) samples differ from Pillow (\(firstDifference(mine, native)))")
            }
        } else {
            problems.append("\(name): no \(kind) view of our \(image.channels)-channel \(image.bitDepth)-bit decode")
        }

        // The 8-bit RGB path against convert("RGB") (or the high byte of Pillow's I;16 samples).
        let rgbRef = hexBytes(ref["rgb"] as? String ?? "")
        do {
            let rgb = try PNG.decodeRGB(bytes)
            if rgb.pixels != rgbRef {
                problems.append("\(name): decodeRGB differs from Pillow (\(ref["rgb_rule"] ?? "?"), \(firstDifference(rgb.pixels, rgbRef)))")
            }
            if rgb != image.rgbImage() { problems.append("\(name): decodeRGB != decode().rgbImage()") }
        } catch {
            problems.append("\(name): decodeRGB threw \(error)")
        }

        // tRNS colour key: Pillow reports the raw tRNS value(s) (for mode "1": 255 or 0).
        let depth = image.sourceBitDepth
        let mask = (1 << depth) - 1
        let scale: (Int) -> UInt16 = { UInt16(depth < 8 ? ($0 & mask) * 255 / mask : $0 & mask) }
        let expectedKey: [UInt16]?
        switch ref["transparency"] {
        case let v as Int where image.colorType == 0:
            expectedKey = depth == 1 ? [v == 0 ? 0 : 255] : [scale(v)]
        case let v as [Int]:
            expectedKey = v.map(scale)
        default:
            expectedKey = nil
        }
        if image.transparentColor != expectedKey {
            problems.append("\(name): transparent colour \(String(describing: image.transparentColor)), expected \(String(describing: expectedKey))")
        }
        if let rgbaHex = ref["rgba"] as? String {
            let mine = image.withTransparencyAsAlpha().samples.map { UInt8(truncatingIfNeeded: $0) }
            let theirs = hexBytes(rgbaHex)
            if mine != theirs && !(image.channels == 1 && mine == grayToRGBA(theirs)) {
                problems.append("\(name): tRNS alpha differs from convert('RGBA') (\(firstDifference(mine, theirs)))")
            }
        }
        return problems
    }

    /// Pillow's RGBA of a gray image reduced back to gray + alpha (R = G = B checked by caller's compare).
    static func grayToRGBA(_ rgba: [UInt8]) -> [UInt8] {
        stride(from: 0, to: rgba.count, by: 4).flatMap { [rgba[$0], rgba[$0 + 3]] }
    }
}

final class PNGSuiteTests: XCTestCase {
    func testPngSuiteMatchesPillowAndRejectsCorruptFiles() throws {
        let dir = PNGTestSupport.pngSuiteDir
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw XCTSkip("../shared/pngsuite not found: expected the PngSuite files at \(dir.path)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".png") }.sorted()
        // The suite as checked in: 175 PNGs (plus README/LICENSE), 14 of them corrupt ("x*").
        XCTAssertEqual(names.count, 175, "PngSuite file count changed")
        let corrupt = names.filter { $0.hasPrefix("x") }
        let valid = names.filter { !$0.hasPrefix("x") }

        var rejected = 0
        for name in corrupt {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            do {
                let img = try PNG.decode(bytes)
                XCTFail("\(name): corrupt file decoded as \(img.width)x\(img.height)")
            } catch {
                XCTAssertTrue(error is PNGError, "\(name): unexpected error type \(error)")
                rejected += 1
            }
            XCTAssertThrowsError(try PNG.decodeRGB(bytes), "\(name): decodeRGB accepted a corrupt file")
        }
        XCTAssertEqual(rejected, 14)
        XCTAssertEqual(rejected, corrupt.count)

        let reference = try PNGTestSupport.pillowReference([dir.path])
        let refByName = Dictionary(reference.compactMap { e in (e["name"] as? String).map { ($0, e) } },
                                   uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(refByName.keys), Set(valid), "Pillow reference does not cover exactly the valid files")

        var identical = 0
        var interlaced = 0, sixteenBit = 0, palette = 0, lowBit = 0
        for name in valid {
            guard let ref = refByName[name] else { XCTFail("\(name): no Pillow reference"); continue }
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            let problems = PNGTestSupport.compare(bytes, with: ref)
            for p in problems { XCTFail(p) }
            if problems.isEmpty {
                identical += 1
                if let img = try? PNG.decode(bytes) {
                    if img.interlaced { interlaced += 1 }
                    if img.sourceBitDepth == 16 { sixteenBit += 1 }
                    if img.sourceBitDepth < 8 { lowBit += 1 }
                    if img.colorType == 3 { palette += 1 }
                }
            }
        }
        print("PngSuite: \(identical)/\(valid.count) valid files identical to Pillow "
              + "(\(interlaced) interlaced, \(sixteenBit) 16-bit, \(lowBit) low-bit, \(palette) palette); "
              + "\(rejected)/\(corrupt.count) corrupt files rejected")
        XCTAssertEqual(identical, 161)
        XCTAssertEqual(identical, valid.count)
        // The comparison really exercised the interesting cases.
        XCTAssertGreaterThan(interlaced, 30)
        XCTAssertGreaterThan(sixteenBit, 15)
        XCTAssertGreaterThan(lowBit, 15)
        XCTAssertGreaterThan(palette, 30)
    }

    /// The specific reason each corrupt PngSuite file is rejected (from PngSuite.README).
    func testCorruptPngSuiteFilesFailForTheRightReason() throws {
        let dir = PNGTestSupport.pngSuiteDir
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw XCTSkip("../shared/pngsuite not found: expected the PngSuite files at \(dir.path)")
        }
        func error(_ name: String) throws -> PNGError? {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            do { _ = try PNG.decode(bytes); return nil } catch let e as PNGError { return e }
        }
        for name in ["xs1n0g01.png", "xs2n0g01.png", "xs4n0g01.png", "xs7n0g01.png",
                     "xcrn0g04.png", "xlfn0g04.png"] {
            XCTAssertEqual(try error(name), .badSignature, name)
        }
        XCTAssertEqual(try error("xc1n0g08.png"), .invalidColorTypeAndDepth(colorType: 1, bitDepth: 8))
        XCTAssertEqual(try error("xc9n2c08.png"), .invalidColorTypeAndDepth(colorType: 9, bitDepth: 8))
        XCTAssertEqual(try error("xd0n2c08.png"), .invalidColorTypeAndDepth(colorType: 2, bitDepth: 0))
        XCTAssertEqual(try error("xd3n2c08.png"), .invalidColorTypeAndDepth(colorType: 2, bitDepth: 3))
        XCTAssertEqual(try error("xd9n2c08.png"), .invalidColorTypeAndDepth(colorType: 2, bitDepth: 99))
        XCTAssertEqual(try error("xdtn0g01.png"), .missingImageData)
        guard case .crcMismatch(chunk: "IHDR", _, _)? = try error("xhdn0g08.png") else {
            return XCTFail("xhdn0g08: \(String(describing: try error("xhdn0g08.png")))")
        }
        guard case .crcMismatch(chunk: "IDAT", _, _)? = try error("xcsn0g01.png") else {
            return XCTFail("xcsn0g01: \(String(describing: try error("xcsn0g01.png")))")
        }
    }
}
