import XCTest
import Foundation
import QSRFormat
import SRImage
@testable import SRVM

/// What `srvm info` and `srvm run` do, on files written by the test (the commands themselves
/// are thin wrappers in SRCommands over `ProgramFile`, `programInfo` and `VirtualMachine`).
final class FileAndInfoTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("srvm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func testInfoReport() throws {
        let p = Fixtures.everyInstruction()
        let bytes = encode(p)
        let path = tmp.appendingPathComponent("m.qsr").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try ProgramFile(path: path)
        XCTAssertEqual(file.byteCount, bytes.count)
        let text = try programInfo(file.program, fileBytes: file.byteCount, width: 256, height: 256)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("model: every-op"), text)
        XCTAssertTrue(lines.contains("scale: x2  channels: bgr  range: 255"), text)
        XCTAssertTrue(lines.contains("instructions: 16 (input_pixels 1, conv 4, requantize 1, add 2, mul 1, concat 1, slice_channels 1, depth_to_space 1, reduce_mean 1, sqrt 1, lookup 1, output_pixels 1)"), text)
        // int4: (288 + 288 + 7) values → 144 + 144 + 4 bytes; int8: 216 + 144; int32: 4·(8+8+12+4); uint8: 3 + 256.
        let constantBytes: Int = 292 + 360 + 128 + 259
        XCTAssertTrue(lines.contains("constants: 11, \(constantBytes) bytes (int4 292 B in 3, int8 360 B in 2, int32 128 B in 4, uint8 259 B in 2)"), text)
        let parameters: Int = 216 + 8 + 288 + 8 + 144 + 12 + 288 + 4
        XCTAssertTrue(lines.contains("parameters: \(parameters) (conv weights and biases)"), text)
        XCTAssertTrue(lines.contains("values: 15  slots: 12"), text)
        // Slots at 256x256 (plane 65536): 0: max(x 3, c2 8)·1; 1: c1/rq 8; 2: a1 8; 3: m 8 B; 4: sq 8 B; 5: mu 8; 6: lk 8;
        // 7: s1 4; 8: cc/c3 12; 9: out 3·4; 10: sub 8; 11: strided 4·128·128·2.
        let plane = 65536
        let planes: Int = 8 + 8 + 8 + 8 + 8 + 4 + 12 + 12 + 8
        let peak: Int = planes * plane + 16 + 4 * 128 * 128 * 2
        // The reference runs on the file's slots; the prepared engine on its own buffer plan
        // (pixel layout: channels padded to 8, every buffer + 64 bytes), never more buffers' worth
        // than one per value.
        let reference = try programInfo(file.program, fileBytes: file.byteCount, width: 256, height: 256, kernels: .reference)
        XCTAssertTrue(reference.contains("peak activation memory at 256x256: \(peak) bytes (") && reference.contains("in 12 buffers, --kernels reference"), reference)
        let planned = try VirtualMachine(program: p, kernels: .best).slotBytes(width: 256, height: 256)
        XCTAssertTrue(lines.contains { $0.hasPrefix("peak activation memory at 256x256: \(planned.reduce(0, +)) bytes") }, text)
        XCTAssertLessThan(planned.count, p.values.count)
        // The prepared engine's operand formats: the four convs counted, on the set this CPU gets.
        let formats = try XCTUnwrap(lines.first { $0.hasPrefix("conv operand formats, --kernels ") }, text)
        let counts = formats.split(separator: ":").last!.split(separator: ",").compactMap { Int($0.split(separator: " ").first ?? "") }
        XCTAssertEqual(counts.reduce(0, +), 4, formats)
        let ratio = String(format: "%.2f", 123_456.0 / Double(bytes.count)), percent = String(format: "%.1f", 100 * Double(bytes.count) / 123_456)
        XCTAssertTrue(lines.contains("compression: float source 123456 bytes -> .qsr \(bytes.count) bytes: \(ratio)x smaller (\(percent)% of the source)"), text)
    }

    func testRunFromAFileAndBadFiles() throws {
        let path = tmp.appendingPathComponent("tiny.qsr").path
        try Data(encode(tinyProgram())).write(to: URL(fileURLWithPath: path))
        let image = testImage(width: 6, height: 4, seed: 5)
        let out = try VirtualMachine(program: ProgramFile(path: path).program).run(image)
        XCTAssertEqual(out, try VirtualMachine(program: tinyProgram()).run(image))

        var bytes = encode(tinyProgram())
        bytes[bytes.count / 2] ^= 0x40
        let bad = tmp.appendingPathComponent("bad.qsr").path
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try ProgramFile(path: bad)) { e in
            XCTAssertTrue("\(e)".contains("bad.qsr: not a valid .qsr file: file: CRC mismatch"), "\(e)")
        }
        XCTAssertThrowsError(try ProgramFile(path: tmp.appendingPathComponent("missing.qsr").path)) { e in
            XCTAssertTrue("\(e)".contains("missing.qsr: cannot read the file"), "\(e)")
        }
    }
}
