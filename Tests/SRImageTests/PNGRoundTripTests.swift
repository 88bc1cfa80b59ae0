import Foundation
import XCTest
@testable import SRImage

/// Deterministic test data (SplitMix64).
struct PNGTestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

final class PNGRoundTripTests: XCTestCase {
    static let sizes = [(1, 1), (7, 3), (257, 5), (3, 257), (2, 1), (1, 2), (64, 48)]

    /// Noise for half the images, smooth gradients plus noise for the rest (so every filter type wins somewhere).
    static func testImage(_ w: Int, _ h: Int, seed: UInt64, smooth: Bool) -> RGBImage {
        var rng = PNGTestRNG(state: seed)
        var img = RGBImage(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    img[x, y, c] = smooth ? UInt8(truncatingIfNeeded: x * 3 + y * 5 + c * 40 + rng.int(3)) : rng.byte()
                }
            }
        }
        return img
    }

    func testEncodeDecodeRoundTrip() throws {
        var seed: UInt64 = 1
        var filtersUsed = Set<UInt8>()
        for (w, h) in Self.sizes {
            for smooth in [false, true] {
                let img = Self.testImage(w, h, seed: seed, smooth: smooth)
                seed += 1
                let png = PNG.encode(img)
                XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                XCTAssertEqual(try PNG.decodeRGB(png), img, "\(w)x\(h) smooth=\(smooth)")
                let full = try PNG.decode(png)
                XCTAssertEqual(full.channels, 3)
                XCTAssertEqual(full.bitDepth, 8)
                XCTAssertEqual(full.colorType, 2)
                XCTAssertFalse(full.interlaced)
                XCTAssertNil(full.transparentColor)
                XCTAssertEqual(full.samples, img.pixels.map { UInt16($0) })
                filtersUsed.formUnion(try Self.filterTypes(png))
            }
        }
        // The adaptive filter choice actually varies between rows.
        XCTAssertGreaterThanOrEqual(filtersUsed.count, 3, "filters used: \(filtersUsed.sorted())")
    }

    /// The filter byte of every row of one of our (non-interlaced RGB8) encodes.
    static func filterTypes(_ png: [UInt8]) throws -> Set<UInt8> {
        var result = Set<UInt8>()
        try png.withUnsafeBufferPointer { buf in
            let chunks = try PNGChunkReader.read(buf)
            let raw = try PNGInflate.inflate(buf, segments: chunks.imageData, expectedSize: chunks.header.rawDataSize)
            let stride = chunks.header.rowBytes(pixels: chunks.header.width) + 1
            for y in 0..<chunks.header.height { result.insert(raw[y * stride]) }
        }
        return result
    }

    func testOurFilesDecodeIdenticallyInPillow() throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("srimage-png-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var expected: [String: RGBImage] = [:]
        var seed: UInt64 = 100
        for (w, h) in Self.sizes {
            let name = "rt_\(w)x\(h).png"
            let img = Self.testImage(w, h, seed: seed, smooth: seed % 2 == 0)
            seed += 1
            try PNG.write(img, path: dir.appendingPathComponent(name).path)
            expected[name] = img
        }
        // write() leaves no temporary files behind.
        let listed = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(listed, expected.keys.sorted())

        let refs = try PNGTestSupport.pillowReference(expected.keys.sorted().map { dir.appendingPathComponent($0).path })
        XCTAssertEqual(refs.count, expected.count)
        for ref in refs {
            let name = ref["name"] as? String ?? "?"
            guard let img = expected[name] else { XCTFail("unexpected \(name)"); continue }
            XCTAssertEqual(ref["mode"] as? String, "RGB", name)
            XCTAssertEqual(ref["width"] as? Int, img.width, name)
            XCTAssertEqual(ref["height"] as? Int, img.height, name)
            XCTAssertEqual(PNGTestSupport.hexBytes(ref["native"] as? String ?? ""), img.pixels, "\(name): Pillow reads different pixels")
            XCTAssertEqual(try PNG.read(path: dir.appendingPathComponent(name).path), img, name)
        }
    }

    func testWriteReplacesExistingFileAndReportsErrors() throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("srimage-png-w-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.png").path
        let first = Self.testImage(5, 4, seed: 7, smooth: false)
        let second = Self.testImage(9, 2, seed: 8, smooth: true)
        try PNG.write(first, path: path)
        try PNG.write(second, path: path)
        XCTAssertEqual(try PNG.read(path: path), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["a.png"])

        XCTAssertThrowsError(try PNG.write(first, path: dir.appendingPathComponent("missing/dir/b.png").path)) { error in
            guard case .io? = error as? PNGError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try PNG.write(RGBImage(width: 0, height: 3), path: path))
        XCTAssertEqual(try PNG.read(path: path), second, "a failed write must not touch the existing file")
        XCTAssertThrowsError(try PNG.read(path: dir.appendingPathComponent("nope.png").path)) { error in
            guard case .io? = error as? PNGError else { return XCTFail("\(error)") }
        }
    }

    func testCrc32KnownValues() {
        XCTAssertEqual(crc32([]), 0)
        XCTAssertEqual(crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(crc32(Array("IEND".utf8)), 0xAE42_6082)
    }
}
