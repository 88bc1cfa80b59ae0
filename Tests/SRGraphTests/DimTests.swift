import XCTest
import SRGraph

final class DimTests: XCTestCase {
    let h = Dim.symbolic("H")

    func testTextForms() {
        XCTAssertEqual(Dim.known(64).description, "64")
        XCTAssertEqual(h.description, "H")
        XCTAssertEqual(h.multiplied(by: 3)!.description, "3*H")
        XCTAssertEqual((h + 2).description, "H+2")
        XCTAssertEqual((h - 1).description, "H-1")
        XCTAssertEqual((h + 1).floorDivided(by: 2).description, "(H+1)/2")
        XCTAssertEqual(h.floorDivided(by: 2).description, "H/2")
    }

    func testEvaluationMatchesIntegerArithmetic() {
        // Every expression built here is checked against plain integer arithmetic for many H.
        for v in 1...40 {
            let b = ["H": v]
            XCTAssertEqual(((h + 2 - 3).floorDivided(by: 2) + 1).evaluate(b), (v + 2 - 3) / 2 + 1)
            XCTAssertEqual(h.multiplied(by: 4)!.floorDivided(by: 3).evaluate(b), 4 * v / 3)
            XCTAssertEqual((h.floorDivided(by: 2) + 5).evaluate(b), v / 2 + 5)
            XCTAssertEqual(((h - 7).floorDivided(by: 3)).evaluate(b), Int((Double(v - 7) / 3).rounded(.down)))
        }
    }

    func testUnrepresentableAndExact() {
        XCTAssertNil(h.floorDivided(by: 2).multiplied(by: 2), "floor(H/2)*2 is not H")
        XCTAssertEqual(h.multiplied(by: 4)!.exactlyDivided(by: 2), h.multiplied(by: 2))
        XCTAssertNil(h.exactlyDivided(by: 2))
        XCTAssertEqual(Dim.known(12).exactlyDivided(by: 4), .known(3))
        XCTAssertEqual((h + h), h.multiplied(by: 2))
        XCTAssertNil(h + Dim.symbolic("W"))
        XCTAssertEqual(Dim(symbol: "H", coefficient: 0, offset: 5), .known(5))
    }
}
