import XCTest
import FixedPoint
@testable import QSRFormat

final class RoundTripTests: XCTestCase {
    func testEveryInstructionRoundTripsAndEncodingIsDeterministic() throws {
        let p = Fixtures.everyInstruction()
        try validate(p)
        let bytes = encode(p)
        let q = try decode(bytes)
        XCTAssertEqual(q, p)
        XCTAssertEqual(encode(q), bytes)
        XCTAssertEqual(encode(Fixtures.everyInstruction()), bytes)
        // Every opcode appears, and the opcode table's mnemonics are the instructions'.
        XCTAssertEqual(Set(p.instructions.map(\.opcode)), Set(Opcode.allCases))
        for ins in p.instructions { XCTAssertEqual(ins.opcode.mnemonic, ins.mnemonic) }
        XCTAssertEqual(Opcode.allCases.count, 12)
    }

    func testHeaderAndAlignment() throws {
        let bytes = encode(Fixtures.everyInstruction())
        XCTAssertEqual(Array(bytes[0..<4]), [0x51, 0x53, 0x52, 0])
        XCTAssertEqual(bytes[4], 2); XCTAssertEqual(bytes[5], 0)          // version 2
        XCTAssertEqual(bytes[8], 12)                                        // slot count
        XCTAssertEqual(String(decoding: bytes[16..<20], as: UTF8.self), "META")
        XCTAssertEqual(String(decoding: bytes[(16 + 3 * 16)..<(16 + 3 * 16 + 4)], as: UTF8.self), "DATA")
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        for s in 0..<5 { XCTAssertEqual(u32(16 + s * 16 + 4) % 16, 0, "section \(s) offset aligned") }
        XCTAssertEqual(u32(bytes.count - 4), Int(crc32Bytes(Array(bytes[0..<(bytes.count - 4)]))))
    }

    func testInt4PackingLowNibbleFirst() throws {
        var p = Fixtures.everyInstruction()
        p.constants = [Constant(kind: .int4, values: [-8, 7, -1])] + p.constants.dropFirst(0)
        // Shift every constant reference by one.
        p.instructions = p.instructions.map { shiftConstants($0, by: 1) }
        let bytes = encode(p)
        // DATA section: first constant's bytes are 0x78 (low -8 = 0x8, high 7), 0x0F (low -1, high 0).
        let dataOffset = Int(bytes[16 + 3 * 16 + 4]) | Int(bytes[16 + 3 * 16 + 5]) << 8
        XCTAssertEqual(Array(bytes[dataOffset..<(dataOffset + 2)]), [0x78, 0x0F])
        XCTAssertEqual(try decode(bytes), p)
    }

    func testSemanticallyDifferentSpellingsOfADimAreEqual() {
        XCTAssertEqual(SymbolicDim(DimExpr(symbol: 0, coefficient: 2, offset: 2, divisor: 2)),
                       SymbolicDim(DimExpr(symbol: 0, coefficient: 1, offset: 1, divisor: 1)))
        XCTAssertNotEqual(SymbolicDim(DimExpr(symbol: 0, coefficient: 1, offset: 1, divisor: 2)),
                          SymbolicDim(DimExpr(symbol: 0, coefficient: 1, offset: 0, divisor: 2)))
        // floor((2H+3)/2) = H+1
        XCTAssertEqual(SymbolicDim(DimExpr(symbol: 0, coefficient: 2, offset: 3, divisor: 2)),
                       SymbolicDim.symbol(0).plus(1))
    }
}

func crc32Bytes(_ b: [UInt8]) -> UInt32 {
    // Bitwise CRC-32 (reflected 0xEDB88320), written independently of zlib.
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in b {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Rewrites the file's CRC after a deliberate change (for semantic-corruption tests).
func withFixedCRC(_ bytes: [UInt8]) -> [UInt8] {
    var b = Array(bytes[0..<(bytes.count - 4)])
    let c = crc32Bytes(b)
    for k in 0..<4 { b.append(UInt8(truncatingIfNeeded: c >> (8 * UInt32(k)))) }
    return b
}

func shiftConstants(_ ins: Instruction, by k: Int32) -> Instruction {
    switch ins {
    case let .conv(dst, src, params, w, bits, b, r, pad):
        return .conv(dst: dst, src: src, params: params, weights: w + k, weightBits: bits, bias: b + k, requant: r, padValues: pad.map { $0 + k })
    case let .lookup(dst, src, t): return .lookup(dst: dst, src: src, table: t + k)
    default: return ins
    }
}
