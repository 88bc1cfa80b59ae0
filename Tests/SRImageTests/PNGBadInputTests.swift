import XCTest
@testable import SRImage

/// Builds PNG files byte by byte, with zlib streams made of stored (uncompressed) deflate blocks,
/// so tests control every field.
enum PNGBuilder {
    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    static func ihdr(_ w: UInt32, _ h: UInt32, depth: UInt8, color: UInt8,
                     compression: UInt8 = 0, filter: UInt8 = 0, interlace: UInt8 = 0) -> [UInt8] {
        chunk("IHDR", be32(w) + be32(h) + [depth, color, compression, filter, interlace])
    }

    static func adler32(_ d: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in d { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    /// A complete zlib stream holding `d` in stored blocks.
    static func zlibStored(_ d: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(d.count - i, 65535)
            let last: UInt8 = i + n == d.count ? 1 : 0
            out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += d[i..<(i + n)]
            i += n
        } while i < d.count
        return out + be32(adler32(d))
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static let iend = chunk("IEND", [])

    /// signature + chunks + IEND
    static func file(_ chunks: [[UInt8]], iend: Bool = true) -> [UInt8] {
        signature + chunks.flatMap { $0 } + (iend ? PNGBuilder.iend : [])
    }

    /// A valid 4x3 8-bit gray image with the given raw (filtered) scanlines.
    static func gray4x3(raw: [UInt8]) -> [UInt8] {
        file([ihdr(4, 3, depth: 8, color: 0), chunk("IDAT", zlibStored(raw))])
    }

    static let gray4x3Raw: [UInt8] = [0, 1, 2, 3, 4, 1, 5, 5, 5, 5, 2, 1, 1, 1, 1]
}

final class PNGBadInputTests: XCTestCase {
    func assertError(_ bytes: [UInt8], _ check: (PNGError) -> Bool,
                     _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let img = try PNG.decode(bytes)
            XCTFail("decoded \(img.width)x\(img.height), expected an error. \(message)", file: file, line: line)
        } catch let e as PNGError {
            XCTAssertTrue(check(e), "unexpected error: \(e). \(message)", file: file, line: line)
            XCTAssertFalse(e.description.isEmpty)
        } catch {
            XCTFail("non-PNGError \(error)", file: file, line: line)
        }
        XCTAssertThrowsError(try PNG.decodeRGB(bytes), message, file: file, line: line)
    }

    func testHandBuiltBaselineDecodes() throws {
        // Filters: None, Sub, Up.
        let img = try PNG.decode(PNGBuilder.gray4x3(raw: PNGBuilder.gray4x3Raw))
        XCTAssertEqual(img.samples, [1, 2, 3, 4, 5, 10, 15, 20, 6, 11, 16, 21])
        // The same data split over several IDAT chunks, one of them empty.
        let z = PNGBuilder.zlibStored(PNGBuilder.gray4x3Raw)
        let split = PNGBuilder.file([PNGBuilder.ihdr(4, 3, depth: 8, color: 0),
                                     PNGBuilder.chunk("IDAT", Array(z[0..<3])),
                                     PNGBuilder.chunk("IDAT", []),
                                     PNGBuilder.chunk("IDAT", Array(z[3..<10])),
                                     PNGBuilder.chunk("IDAT", Array(z[10...]))])
        XCTAssertEqual(try PNG.decode(split).samples, img.samples)
        // Ancillary chunks (known or not) are skipped; bytes after IEND are ignored.
        let withExtras = PNGBuilder.file([PNGBuilder.ihdr(4, 3, depth: 8, color: 0),
                                          PNGBuilder.chunk("tEXt", Array("a\0b".utf8)),
                                          PNGBuilder.chunk("zzZz", [1, 2, 3]),
                                          PNGBuilder.chunk("IDAT", z)]) + [0, 1, 2]
        XCTAssertEqual(try PNG.decode(withExtras).samples, img.samples)
    }

    func testEmptyAndWrongSignature() {
        assertError([], { $0 == .empty })
        assertError([0x89, 0x50, 0x4E], { $0 == .badSignature })
        let good = PNGBuilder.gray4x3(raw: PNGBuilder.gray4x3Raw)
        for i in 0..<8 {
            var bad = good
            bad[i] ^= 0x20
            assertError(bad, { $0 == .badSignature }, "signature byte \(i)")
        }
        assertError(Array("GIF89a....".utf8), { $0 == .badSignature })
    }

    func testTruncationAtEveryCutPoint() throws {
        let small = PNGBuilder.gray4x3(raw: PNGBuilder.gray4x3Raw)
        let big = PNG.encode(PNGRoundTripTests.testImage(61, 17, seed: 3, smooth: true))
        XCTAssertNoThrow(try PNG.decode(small))
        XCTAssertNoThrow(try PNG.decode(big))
        for file in [small, big] {
            for cut in 0..<file.count {
                XCTAssertThrowsError(try PNG.decode(Array(file[0..<cut])), "cut at \(cut) of \(file.count)")
            }
        }
        // Specific cut points give specific errors.
        assertError(Array(small.dropLast(12)), { $0 == .missingIEND })
        assertError(Array(small.dropLast(13)), { if case .truncatedChunk(chunk: "IDAT", _, _) = $0 { return true }; return false })
        assertError(Array(small.dropLast(5)), { if case .truncatedChunk(chunk: "chunk header", _, _) = $0 { return true }; return false })
    }

    func testFlippedBytesInIDAT() throws {
        let png = PNG.encode(PNGRoundTripTests.testImage(20, 10, seed: 9, smooth: false))
        // Locate the IDAT body: signature (8) + IHDR (25) + length/type (8).
        XCTAssertEqual(Array(png[37..<41]), Array("IDAT".utf8))
        let idatLen = Int(png[33]) << 24 | Int(png[34]) << 16 | Int(png[35]) << 8 | Int(png[36])
        for offset in [0, 1, idatLen / 2, idatLen - 1] {
            var bad = png
            bad[41 + offset] ^= 0x10
            assertError(bad, { if case .crcMismatch(chunk: "IDAT", _, _) = $0 { return true }; return false },
                        "flip at IDAT+\(offset)")
        }
        var badCRC = png
        badCRC[41 + idatLen] ^= 1
        assertError(badCRC, { if case .crcMismatch(chunk: "IDAT", _, _) = $0 { return true }; return false })
    }

    func testZlibStreamProblems() {
        let raw = PNGBuilder.gray4x3Raw
        let ihdr = PNGBuilder.ihdr(4, 3, depth: 8, color: 0)
        func withIDAT(_ z: [UInt8]) -> [UInt8] { PNGBuilder.file([ihdr, PNGBuilder.chunk("IDAT", z)]) }
        let z = PNGBuilder.zlibStored(raw)
        // Too short: a complete stream with one byte missing from the image data.
        assertError(withIDAT(PNGBuilder.zlibStored(Array(raw.dropLast()))), {
            $0 == .imageDataTooShort(decompressed: 14, expected: 15)
        })
        // Too long: one byte more than the image needs.
        assertError(withIDAT(PNGBuilder.zlibStored(raw + [0])), { $0 == .imageDataTooLong(expected: 15) })
        // Stream cut inside the data / just before the Adler-32.
        assertError(withIDAT(Array(z.dropLast(8))), { if case .compressedDataTruncated = $0 { return true }; return false })
        assertError(withIDAT(Array(z.dropLast(4))), { $0 == .compressedDataTruncated(decompressed: 15, expected: 15) })
        // Wrong Adler-32, bad zlib header.
        var badAdler = z
        badAdler[badAdler.count - 1] ^= 1
        assertError(withIDAT(badAdler), { if case .zlibError = $0 { return true }; return false })
        var badHeader = z
        badHeader[0] = 0x77
        assertError(withIDAT(badHeader), { if case .zlibError = $0 { return true }; return false })
        // Compressed bytes after the end of the stream, in the same or a later IDAT.
        assertError(withIDAT(z + [0, 0]), { $0 == .trailingCompressedData(bytes: 2) })
        assertError(PNGBuilder.file([ihdr, PNGBuilder.chunk("IDAT", z), PNGBuilder.chunk("IDAT", [1])]),
                    { $0 == .trailingCompressedData(bytes: 1) })
        // Garbage instead of zlib.
        assertError(withIDAT([1, 2, 3, 4, 5, 6, 7, 8]), { if case .zlibError = $0 { return true }; return false })
    }

    func testBadFilterByte() {
        var raw = PNGBuilder.gray4x3Raw
        raw[5] = 5
        assertError(PNGBuilder.gray4x3(raw: raw), { $0 == .badFilterType(filter: 5, row: 1) })
        raw[5] = 255
        assertError(PNGBuilder.gray4x3(raw: raw), { $0 == .badFilterType(filter: 255, row: 1) })
    }

    func testInvalidIHDR() {
        let idat = PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([0, 0]))
        func check(_ ihdr: [UInt8], _ expect: PNGError, line: UInt = #line) {
            assertError(PNGBuilder.file([ihdr, idat]), { $0 == expect }, line: line)
        }
        check(PNGBuilder.ihdr(0, 1, depth: 8, color: 0), .invalidDimensions(width: 0, height: 1))
        check(PNGBuilder.ihdr(1, 0, depth: 8, color: 0), .invalidDimensions(width: 1, height: 0))
        check(PNGBuilder.ihdr(0x8000_0000, 1, depth: 8, color: 0), .invalidDimensions(width: 0x8000_0000, height: 1))
        check(PNGBuilder.ihdr(20000, 20000, depth: 8, color: 0), .imageTooLarge(width: 20000, height: 20000, limit: 1 << 28))
        check(PNGBuilder.ihdr(1, 1, depth: 16, color: 3), .invalidColorTypeAndDepth(colorType: 3, bitDepth: 16))
        check(PNGBuilder.ihdr(1, 1, depth: 4, color: 2), .invalidColorTypeAndDepth(colorType: 2, bitDepth: 4))
        check(PNGBuilder.ihdr(1, 1, depth: 1, color: 4), .invalidColorTypeAndDepth(colorType: 4, bitDepth: 1))
        check(PNGBuilder.ihdr(1, 1, depth: 8, color: 5), .invalidColorTypeAndDepth(colorType: 5, bitDepth: 8))
        check(PNGBuilder.ihdr(1, 1, depth: 8, color: 0, compression: 1), .unsupportedCompressionMethod(1))
        check(PNGBuilder.ihdr(1, 1, depth: 8, color: 0, filter: 1), .unsupportedFilterMethod(1))
        check(PNGBuilder.ihdr(1, 1, depth: 8, color: 0, interlace: 2), .unsupportedInterlaceMethod(2))
        check(PNGBuilder.chunk("IHDR", [0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0]),
              .badChunkLength(chunk: "IHDR", length: 12, expected: "13"))
        // A tiny file claiming a 16384 x 16384 RGBA16 image (2 GiB raw) is rejected without
        // allocating for the claim: the few compressed bytes cannot fill it.
        assertError(PNGBuilder.file([PNGBuilder.ihdr(16384, 16384, depth: 16, color: 6), idat]),
                    { $0 == .imageDataTooShort(decompressed: 2, expected: 16384 * (1 + 16384 * 8)) })
        // The minimal 1x1 gray image is fine.
        XCTAssertEqual(try PNG.decode(PNGBuilder.file([PNGBuilder.ihdr(1, 1, depth: 8, color: 0), idat])).samples, [0])
    }

    func testChunkOrderingAndPaletteRules() {
        let ihdr0 = PNGBuilder.ihdr(1, 1, depth: 8, color: 0)
        let ihdr3 = PNGBuilder.ihdr(2, 1, depth: 1, color: 3)
        let idat0 = PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([0, 7]))
        let idat3 = PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([0, 0b0100_0000]))  // indices 0, 1
        let plte2 = PNGBuilder.chunk("PLTE", [10, 20, 30, 40, 50, 60])
        let plte1 = PNGBuilder.chunk("PLTE", [10, 20, 30])

        // Valid palette image, with and without tRNS.
        XCTAssertEqual(try PNG.decode(PNGBuilder.file([ihdr3, plte2, idat3])).samples, [10, 20, 30, 40, 50, 60])
        let withTRNS = try? PNG.decode(PNGBuilder.file([ihdr3, plte2, PNGBuilder.chunk("tRNS", [7]), idat3]))
        XCTAssertEqual(withTRNS?.channels, 4)
        XCTAssertEqual(withTRNS?.samples, [10, 20, 30, 7, 40, 50, 60, 255])

        assertError(PNGBuilder.file([idat0]), { $0 == .firstChunkNotIHDR(found: "IDAT") })
        assertError(PNGBuilder.file([ihdr0, ihdr0, idat0]), { $0 == .duplicateChunk(chunk: "IHDR") })
        assertError(PNGBuilder.file([ihdr0]), { $0 == .missingImageData })
        assertError(PNGBuilder.file([ihdr0, idat0], iend: false), { $0 == .missingIEND })
        assertError(PNGBuilder.file([ihdr0, idat0, PNGBuilder.chunk("IEND", [0])], iend: false),
                    { $0 == .badChunkLength(chunk: "IEND", length: 1, expected: "0") })
        assertError(PNGBuilder.file([ihdr0, PNGBuilder.chunk("ABCD", []), idat0]), { $0 == .unknownCriticalChunk(chunk: "ABCD") })
        assertError(PNGBuilder.file([ihdr0, PNGBuilder.chunk("a1cd", []), idat0]), {
            if case .invalidChunkType = $0 { return true }; return false
        })
        // Non-consecutive IDAT.
        let z = PNGBuilder.zlibStored([0, 7])
        assertError(PNGBuilder.file([ihdr0, PNGBuilder.chunk("IDAT", Array(z[0..<4])), PNGBuilder.chunk("tEXt", [65, 0]),
                                     PNGBuilder.chunk("IDAT", Array(z[4...]))]),
                    { if case .misplacedChunk(chunk: "IDAT", _) = $0 { return true }; return false })
        // Palette rules.
        assertError(PNGBuilder.file([ihdr3, idat3]), { $0 == .missingPalette })
        assertError(PNGBuilder.file([ihdr0, plte1, idat0]), { $0 == .paletteNotAllowed(colorType: 0) })
        assertError(PNGBuilder.file([ihdr3, plte2, plte2, idat3]), { $0 == .duplicateChunk(chunk: "PLTE") })
        assertError(PNGBuilder.file([ihdr3, PNGBuilder.chunk("PLTE", [1, 2, 3, 4]), idat3]),
                    { if case .badChunkLength(chunk: "PLTE", 4, _) = $0 { return true }; return false })
        assertError(PNGBuilder.file([ihdr3, PNGBuilder.chunk("PLTE", []), idat3]),
                    { if case .badChunkLength(chunk: "PLTE", 0, _) = $0 { return true }; return false })
        assertError(PNGBuilder.file([ihdr3, PNGBuilder.chunk("PLTE", [UInt8](repeating: 1, count: 9)), idat3]),
                    { $0 == .paletteTooLarge(entries: 3, bitDepth: 1) })
        assertError(PNGBuilder.file([ihdr3, plte1, idat3]), { $0 == .paletteIndexOutOfRange(index: 1, paletteEntries: 1, row: 0) })
        assertError(PNGBuilder.file([ihdr3, idat3, plte2]), { $0 == .missingPalette })
        let rgb = PNGBuilder.ihdr(1, 1, depth: 8, color: 2)
        let idatRGB = PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([0, 1, 2, 3]))
        assertError(PNGBuilder.file([rgb, idatRGB, plte1]), { $0 == .misplacedChunk(chunk: "PLTE", reason: "after IDAT") })
        // tRNS rules.
        assertError(PNGBuilder.file([ihdr0, PNGBuilder.chunk("tRNS", [0]), idat0]),
                    { if case .badChunkLength(chunk: "tRNS", 1, _) = $0 { return true }; return false })
        assertError(PNGBuilder.file([rgb, PNGBuilder.chunk("tRNS", [0, 1]), idatRGB]),
                    { if case .badChunkLength(chunk: "tRNS", 2, _) = $0 { return true }; return false })
        assertError(PNGBuilder.file([ihdr3, plte2, PNGBuilder.chunk("tRNS", [1, 2, 3]), idat3]),
                    { if case .invalidTransparency = $0 { return true }; return false })
        assertError(PNGBuilder.file([ihdr3, PNGBuilder.chunk("tRNS", [1]), plte2, idat3]),
                    { $0 == .misplacedChunk(chunk: "tRNS", reason: "before PLTE") })
        assertError(PNGBuilder.file([PNGBuilder.ihdr(1, 1, depth: 8, color: 6), PNGBuilder.chunk("tRNS", [0, 0]),
                                     PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([0, 1, 2, 3, 4]))]),
                    { if case .invalidTransparency = $0 { return true }; return false })
    }

    func testGrayTransparencyKeyBecomesAlpha() throws {
        // 2-bit gray, 4 pixels 0,1,2,3; tRNS says value 2 (with junk high bits the decoder must mask).
        let png = PNGBuilder.file([PNGBuilder.ihdr(4, 1, depth: 2, color: 0),
                                   PNGBuilder.chunk("tRNS", [0xFF, 0x02]),
                                   PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([0, 0b00_01_10_11]))])
        let img = try PNG.decode(png)
        XCTAssertEqual(img.samples, [0, 85, 170, 255])
        XCTAssertEqual(img.transparentColor, [170])
        XCTAssertEqual(img.withTransparencyAsAlpha().samples, [0, 255, 85, 255, 170, 0, 255, 255])
        XCTAssertEqual(try PNG.decodeRGB(png).pixels, [0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255])
    }

    /// Random corruption of valid files, with and without fixing the CRCs afterwards (so the
    /// damage reaches IHDR validation, zlib, unfiltering and palette lookup). Nothing may trap.
    func testRandomCorruptionNeverCrashes() {
        var rng = PNGTestRNG(state: 42)
        let palette = PNGBuilder.file([PNGBuilder.ihdr(5, 5, depth: 2, color: 3, interlace: 1),
                                       PNGBuilder.chunk("PLTE", [1, 2, 3, 4, 5, 6, 7, 8, 9]),
                                       PNGBuilder.chunk("tRNS", [0]),
                                       PNGBuilder.chunk("IDAT", PNGBuilder.zlibStored([UInt8](repeating: 0, count: 24)))])
        XCTAssertNoThrow(try PNG.decode(palette))
        let seeds = [palette,
                     PNG.encode(PNGRoundTripTests.testImage(13, 9, seed: 5, smooth: true)),
                     PNGBuilder.gray4x3(raw: PNGBuilder.gray4x3Raw)]
        var decoded = 0, rejected = 0
        for iteration in 0..<3000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<(1 + rng.int(3)) {
                let i = 8 + rng.int(bytes.count - 8)
                bytes[i] = rng.int(2) == 0 ? bytes[i] ^ (1 << UInt8(rng.int(8))) : rng.byte()
            }
            if iteration % 2 == 0 { Self.fixCRCs(&bytes) }
            if let img = try? PNG.decode(bytes) {
                decoded += 1
                XCTAssertEqual(img.samples.count, img.width * img.height * img.channels)
                XCTAssertEqual(try? PNG.decodeRGB(bytes), img.rgbImage())
            } else {
                rejected += 1
                XCTAssertThrowsError(try PNG.decodeRGB(bytes))
            }
        }
        print("corruption fuzz: \(decoded) decoded, \(rejected) rejected")
        XCTAssertEqual(decoded + rejected, 3000)
        XCTAssertGreaterThan(rejected, 1000)
        XCTAssertGreaterThan(decoded, 50)  // damage to pixel bytes alone still decodes
    }

    /// Recomputes every chunk CRC in place (stops at anything that does not parse).
    static func fixCRCs(_ b: inout [UInt8]) {
        var pos = 8
        while pos + 12 <= b.count {
            let len = Int(b[pos]) << 24 | Int(b[pos + 1]) << 16 | Int(b[pos + 2]) << 8 | Int(b[pos + 3])
            guard len <= b.count - pos - 12 else { return }
            let crc = crc32(Array(b[(pos + 4)..<(pos + 8 + len)]))
            b.replaceSubrange((pos + 8 + len)..<(pos + 12 + len), with: PNGBuilder.be32(crc))
            pos += 12 + len
        }
    }
}
