import XCTest
import SRGraph

/// `roundedHalfAwayFromZero` must be `.rounded()` bit for bit: the quantizer's programs depend
/// on every grid decision, so a single differing Float would change a compiled model.
final class RoundingTests: XCTestCase {
    func testMatchesRoundedOnEveryPatternOfADenseSweep() {
        // Every 97th bit pattern covers all exponents and both signs (44 million values), plus
        // every Float in [-4, 4] near the half-way points, where a rounding bug would show.
        var checked = 0
        var bits: UInt32 = 0
        while true {
            let x = Float(bitPattern: bits)
            let want = x.rounded(), got = x.roundedHalfAwayFromZero
            if !(want.bitPattern == got.bitPattern || (want.isNaN && got.isNaN)) {
                XCTFail("\(x) (bits \(String(bits, radix: 16))): rounded() \(want), fast \(got)"); return
            }
            checked += 1
            let (next, overflow) = bits.addingReportingOverflow(97)
            if overflow { break }
            bits = next
        }
        for k in -8...8 {
            let half = Float(k) + 0.5
            var x = half
            for _ in 0..<2000 { x = x.nextDown }
            for _ in 0..<4001 {
                XCTAssertEqual(x.roundedHalfAwayFromZero.bitPattern, x.rounded().bitPattern, "\(x)")
                x = x.nextUp
            }
        }
        for x: Float in [0, -0, 0.5, -0.5, 0.49999997, -0.49999997, 1.5, 2.5, -2.5, 8_388_607.5, 8_388_608, -8_388_609,
                         .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNormalMagnitude] {
            XCTAssertEqual(x.roundedHalfAwayFromZero.bitPattern, x.rounded().bitPattern, "\(x)")
        }
        XCTAssertTrue(Float.nan.roundedHalfAwayFromZero.isNaN)
        XCTAssertGreaterThan(checked, 40_000_000)
    }
}
