import XCTest
import FixedPoint
@testable import QSRFormat

final class CorruptionTests: XCTestCase {
    func expectRejected(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) -> QSRError? {
        do {
            _ = try decode(bytes)
            XCTFail("\(what): accepted", file: file, line: line)
        } catch let e as QSRError {
            return e
        } catch {
            XCTFail("\(what): threw \(error), not a QSRError", file: file, line: line)
        }
        return nil
    }

    func testEverySingleByteChangeIsRejected() {
        let bytes = encode(Fixtures.everyInstruction())
        let masks: [UInt8] = [0x01, 0x02, 0x10, 0x80, 0xFF, 0x5A, 0xA5]
        var tried = 0, rejected = 0
        for i in 0..<bytes.count {
            for m in masks {
                var b = bytes
                b[i] ^= m
                tried += 1
                if expectRejected(b, "byte \(i) ^ \(m)") != nil { rejected += 1 }
            }
        }
        XCTAssertEqual(tried, bytes.count * masks.count)
        XCTAssertEqual(rejected, tried)
        print("corruption: \(bytes.count) bytes x \(masks.count) masks = \(tried) tried, \(rejected) rejected")
    }

    func testEveryTruncationAndExtensionIsRejected() {
        let bytes = encode(Fixtures.everyInstruction())
        var rejected = 0
        for n in 0..<bytes.count where expectRejected(Array(bytes[0..<n]), "truncated to \(n)") != nil { rejected += 1 }
        XCTAssertEqual(rejected, bytes.count)
        XCTAssertNotNil(expectRejected(bytes + [0], "one extra byte"))
        XCTAssertNotNil(expectRejected(withFixedCRC(Array(bytes[0..<(bytes.count - 4)]) + [0, 0, 0, 0, 0, 0, 0, 0]), "extra bytes with CRC"))
        print("truncation: \(bytes.count) lengths tried, \(rejected) rejected")
    }

    /// Offset of the INST section from the section table.
    func instOffset(_ b: [UInt8]) -> Int {
        let o = 16 + 4 * 16 + 4
        return Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24
    }

    func message(_ p: Program) -> String { expectRejected(encode(p), "program")?.description ?? "" }

    func testSemanticCorruptionsAreRejectedWithTheSpecificMessage() {
        let good = Fixtures.everyInstruction()
        var b = encode(good)
        // Bad opcode (the first instruction's), CRC recomputed.
        let inst = instOffset(b)
        b[inst + 4] = 99; b[inst + 5] = 0
        XCTAssertTrue(expectRejected(withFixedCRC(b), "opcode")?.description.contains("instruction 0: unknown opcode 99") ?? false)
        // Bad magic and version.
        var m = encode(good); m[0] = 0x52
        XCTAssertTrue(expectRejected(m, "magic")?.description.contains("bad magic") ?? false)
        var v = encode(good); v[4] = 1   // version 1's reduce_mean had no fraction bits
        XCTAssertTrue(expectRejected(withFixedCRC(v), "version")?.description.contains("unsupported version 1") ?? false)

        var p = good
        p.instructions[1] = .conv(dst: 1, src: 99, params: ConvParameters(outputChannels: 8, inputChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                                                          padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
                                  weights: 0, weightBits: 8, bias: 1, requant: Requantization(positive: [.one], clampMin: -127, clampMax: 127), padValues: 2)
        XCTAssertTrue(message(p).contains("instruction 1 (conv): value index 99 out of range (15 values)"), message(p))

        p = good
        p.constants[0] = Constant(kind: .int8, values: Array(good.constants[0].values.dropLast()))
        XCTAssertTrue(message(p).contains("instruction 1 (conv): weights constant 0 has 215 values, expected 216"), message(p))

        p = good
        p.constants[0] = Constant(kind: .int4, values: good.constants[0].values.map { $0 / 16 })
        XCTAssertTrue(message(p).contains("weights constant 0 is int4, expected int8"), message(p))

        p = good
        p.constants[5] = Constant(kind: .uint8, values: Array(repeating: 1, count: 255))
        XCTAssertTrue(message(p).contains("instruction 10 (lookup): table constant 5 has 255 values, expected 256"), message(p))

        p = good
        p.values[12].height = DimExpr(symbol: 0, coefficient: 3)
        XCTAssertTrue(message(p).contains("instruction 14 (depth_to_space): dst out is 3*Hx2*W, expected 2 times src's HxW"), message(p))

        p = good
        p.values[2].channels = 7
        XCTAssertTrue(message(p).contains("instruction 2 (conv): dst c2 has 7 channels, the conv makes 8"), message(p))

        p = good
        p.instructions.swapAt(1, 2)
        XCTAssertTrue(message(p).contains("instruction 1 (conv): reads c1 (value 1) before it is written"), message(p))

        p = good
        p.values[6].slot = 3          // mu into m's slot: m is still read by the subtracting add
        XCTAssertTrue(message(p).contains("reads m (value 4) after slot 3 was reused by mu"), message(p))

        p = good
        if case let .conv(dst, src, params, w, _, b, r, pad) = good.instructions[2] {
            var q = params; q.group = 3
            p.instructions[2] = .conv(dst: dst, src: src, params: q, weights: w, weightBits: 4, bias: b, requant: r, padValues: pad)
        }
        XCTAssertTrue(message(p).contains("group 3 does not divide 8 input and 8 output channels"), message(p))

        p = good
        p.metadata.scale = 9
        XCTAssertTrue(message(p).contains("metadata: scale 9 outside 1...8"), message(p))
        p = good
        p.metadata.valueRange = 2
        XCTAssertTrue(message(p).contains("value range 2"), message(p))

        p = good
        p.instructions.removeLast()
        XCTAssertTrue(message(p).contains("the last instruction must be output_pixels"), message(p))

        p = good
        p.values[0].slot = 12
        XCTAssertTrue(message(p).contains("value 0 (x): slot 12 outside 0..<12"), message(p))

        p = good
        p.instructions[4] = .add(dst: 3, a: 1, b: 4, leftShift: 20, multiplierA: QuantMultiplier(0.5), multiplierB: QuantMultiplier(0.3),
                                 multiplierOut: .one, subtract: false, clampMin: -127, clampMax: 127)
        // value 4 (m) is [8,1,1] but is not written yet at instruction 3.
        XCTAssertTrue(message(p).contains("reads m (value 4) before it is written"), message(p))

        p = good
        p.values[3].type = .i32        // reduce_mean's mean · 2^15 needs a source of at most 16 bits
        XCTAssertTrue(message(p).contains("instruction 5 (reduce_mean): src") && message(p).contains("is i32, reduce_mean reads at most 16 bits"), message(p))

        p = good
        p.values[4].channels = 4       // m is [4,1,1]: reduce_mean's dst must keep 8 channels
        XCTAssertTrue(message(p).contains("instruction 5 (reduce_mean): dst m is [4,1,1], must be [8,1,1]"), message(p))

        p = good
        if case let .conv(dst, src, params, w, bits, b, _, pad) = good.instructions[1] {
            p.instructions[1] = .conv(dst: dst, src: src, params: params, weights: w, weightBits: bits, bias: b,
                                      requant: Requantization(positive: [.one, .one], clampMin: -127, clampMax: 127), padValues: pad)
        }
        XCTAssertTrue(message(p).contains("2 positive multipliers, expected 1 or 8"), message(p))

        p = good
        p.values[0].type = .i8
        p.values[0].qmax = 127
        XCTAssertTrue(message(p).contains("instruction 0 (input_pixels): dst x is i8, must be u8"), message(p))
    }

    func testHostileCountsDoNotAllocate() {
        // A value count of 2^32-1 in an otherwise tiny file must be rejected up front.
        var b = encode(Fixtures.everyInstruction())
        let o = 16 + 1 * 16 + 4
        let vals = Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24
        for k in 0..<4 { b[vals + k] = 0xFF }
        XCTAssertTrue(expectRejected(withFixedCRC(b), "count")?.description.contains("VALS: value count 4294967295 exceeds") ?? false)
    }
}

final class ParserRobustnessTests: XCTestCase {
    /// With the CRC recomputed, single-byte changes reach the parser and the validator: each
    /// must end in a QSRError or in a program that is valid and re-encodes to the same bytes.
    func testByteChangesBehindAValidCRCNeverCrash() throws {
        let bytes = encode(Fixtures.everyInstruction())
        var table = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            table[i] = c
        }
        func fixed(_ b: inout [UInt8]) {
            var crc: UInt32 = 0xFFFF_FFFF
            for k in 0..<(b.count - 4) { crc = table[Int((crc ^ UInt32(b[k])) & 0xFF)] ^ (crc >> 8) }
            crc = ~crc
            for k in 0..<4 { b[b.count - 4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        }
        var rejected = 0, accepted = 0
        for i in 0..<(bytes.count - 4) {
            for m: UInt8 in [0x01, 0x80, 0xFF] {
                var b = bytes
                b[i] ^= m
                fixed(&b)
                do {
                    let p = try decode(b)
                    try validate(p)
                    XCTAssertEqual(encode(p), b, "byte \(i) ^ \(m) accepted but does not re-encode identically")
                    accepted += 1
                } catch is QSRError {
                    rejected += 1
                }
            }
        }
        print("behind a valid CRC: \(rejected) rejected, \(accepted) accepted (weights, scales, names, multipliers)")
        XCTAssertGreaterThan(rejected, accepted / 4)
    }
}
