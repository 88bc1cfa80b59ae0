import XCTest
import FixedPoint
@testable import QSRFormat

final class DumpTests: XCTestCase {
    func testDumpLines() throws {
        let p = Fixtures.everyInstruction()
        let text = textDump(p)
        XCTAssertEqual(text, textDump(try decode(encode(p))))
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "# srcc qsr dump v1")
        XCTAssertEqual(lines[1], "graph every-op")
        XCTAssertTrue(lines.contains("meta channels=bgr"), text)
        XCTAssertTrue(lines.contains("meta note.bits=w4a8"), text)
        XCTAssertTrue(lines.contains("meta note.compiler=\"srcc test\""), text)
        XCTAssertTrue(lines.contains("input input = x u8[3,H,W] scale=0.00392157 q=[0,255]"), text)
        XCTAssertTrue(lines.contains("output output = out u8[3,2*H,2*W] scale=0.00392157 q=[0,255]"), text)
        XCTAssertTrue(lines.contains("const c10 int4[7] min=-8 max=7 hash=\(constantHash(p.constants[10]))"), text)
        XCTAssertTrue(lines.contains("const c2 uint8[3] min=0 max=128 hash=\(constantHash(p.constants[2]))"), text)
        XCTAssertTrue(lines.contains("node i14 depth_to_space(c3) -> (out u8[3,2*H,2*W] scale=0.00392157 q=[0,255]) blocksize=2 mode=CRD"), text)
        XCTAssertTrue(lines.contains { $0.hasPrefix("node i3 conv(c1) -> (strided i16[4,(H+1)/2,(W+1)/2] scale=0.05 q=[-4000,4000]) kernel=[3,3] strides=[2,2] pads=[1,1,1,1] dilations=[1,1] group=1 channels=8->4 weights=c8 bias=c9 | w_bits=4 in_scale=0.05 out_scale=0.05 M=[\(QuantMultiplier(0.3))] M_neg=[\(QuantMultiplier(0.03))] clamp=[-4000,4000]") }, text)
        XCTAssertTrue(lines.contains("node i12 concat(s1, lk) -> (cc u8[12,H,W] scale=0.05 q=[0,255]) | scales=[0.05,0.05]->0.05 M=[\(QuantMultiplier(0.75)),copy] clamp=[0,255]"), text)
        XCTAssertEqual(lines.filter { $0.hasPrefix("node ") }.count, p.instructions.count)
        XCTAssertEqual(QuantMultiplier(0.5).description, "1073741824*2^-31")
        // The hash depends on the values.
        XCTAssertNotEqual(constantHash(Constant(kind: .int8, values: [1, 2])), constantHash(Constant(kind: .int8, values: [2, 1])))
        XCTAssertNotEqual(constantHash(Constant(kind: .int8, values: [1])), constantHash(Constant(kind: .uint8, values: [1])))
    }
}
