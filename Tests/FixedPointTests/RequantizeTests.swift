import XCTest
import FixedPoint

final class RequantizeTests: XCTestCase {
    func testMultiplierRepresentation() {
        for real in [1.0, 0.5, 0.75, 1e-3, 3.7, 12345.678, 0.999_999_999, 2e-9, 1.0 / 127.5] {
            let m = QuantMultiplier(real)
            XCTAssertGreaterThanOrEqual(m.mantissa, 1 << 30, "\(real)")
            XCTAssertEqual(m.real / real, 1, accuracy: 1e-9, "\(real) -> \(m)")
        }
        XCTAssertEqual(QuantMultiplier(0).mantissa, 0)
        XCTAssertEqual(QuantMultiplier(1e-12).mantissa, 0, "below 2^-31 · 2^-31 flushes to zero")
    }

    func testRequantizeIsRoundedProduct() {
        // Against exact arithmetic: gemmlowp rounds twice (the high multiply to 2^shift units,
        // then the shift), so the error is at most 0.5 + 0.5 · 2^shift for negative shifts.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let real = Double.random(in: 1e-6...4, using: &rng)
            let m = QuantMultiplier(real)
            let x = Int32.random(in: -(1 << 24)...(1 << 24), using: &rng)
            let exact = Double(x) * m.real
            let got = requantize(x, m)
            let bound = 0.5 + (m.shift < 0 ? 0.5 * Double(sign: .plus, exponent: Int(m.shift), significand: 1) : 0) + 1e-9
            XCTAssertLessThanOrEqual(abs(Double(got) - exact), bound, "x=\(x) m=\(real)")
            if m.shift >= 0 { XCTAssertLessThanOrEqual(abs(Double(got) - exact), 0.5 + 1e-9) }
        }
    }

    func testKnownValues() {
        // Identity, halves, ties away from zero.
        for x: Int32 in [-1000, -3, -1, 0, 1, 2, 3, 77, 32767] { XCTAssertEqual(requantize(x, .one), x) }
        let half = QuantMultiplier(0.5)
        XCTAssertEqual(half.mantissa, 1 << 30)
        XCTAssertEqual(half.shift, 0)
        XCTAssertEqual(requantize(3, half), 2)     // 1.5 -> 2 (ties up)
        XCTAssertEqual(requantize(-3, half), -1)   // -1.5 -> -1 (ties toward zero for negatives, as gemmlowp)
        XCTAssertEqual(requantize(5, half), 3)
        XCTAssertEqual(requantize(4, half), 2)
        XCTAssertEqual(requantize(100, QuantMultiplier(4)), 400)
        // 4 = 2^30 · 2^(3-31): x << 3 saturates to INT32_MAX, then halves. Saturation, not wraparound.
        XCTAssertEqual(requantize(Int32.max, QuantMultiplier(4)), 1 << 30)
        XCTAssertEqual(requantize(Int32.min, QuantMultiplier(4)), -(1 << 30))
        XCTAssertEqual(saturatingRoundingDoublingHighMul(.min, .min), .max)
        XCTAssertEqual(roundingDivideByPowerOfTwo(-5, 1), -3)  // -2.5 -> -3
        XCTAssertEqual(roundingDivideByPowerOfTwo(5, 1), 3)
        XCTAssertEqual(roundingDivideByPowerOfTwo(-4, 2), -1)
    }

    func testRoundingHelpers() {
        XCTAssertEqual(roundingDivide(7, 2), 4)
        XCTAssertEqual(roundingDivide(-7, 2), -4)
        XCTAssertEqual(roundingDivide(6, 4), 2)
        XCTAssertEqual(roundingDivide(-5, 4), -1)
        for n: Int64 in [0, 1, 2, 3, 4, 5, 6, 8, 9, 12, 13, 1 << 40, (1 << 40) + 12345, Int64(Int32.max)] {
            XCTAssertEqual(roundedSquareRoot(n), Int64(Double(n).squareRoot().rounded()), "\(n)")
        }
        XCTAssertEqual(clamp(300, 0, 255), 255)
        XCTAssertEqual(clamp(-9, -7, 7), -7)
    }
}
