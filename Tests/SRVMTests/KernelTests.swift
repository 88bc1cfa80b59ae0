import XCTest
import FixedPoint
import QSRFormat
@testable import SRVM

final class KernelTests: XCTestCase {
    func testConvHandComputed3x3WithZeroPadding() {
        let x = Buffer(.u8, 1, 3, 3, [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = Buffer(.i32, 1, 3, 3)
        let q = ConvParameters(outputChannels: 1, inputChannels: 1, kernelHeight: 3, kernelWidth: 3,
                               padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
        convKernel(dst: y.view, src: x.view, params: q, weights: Array(repeating: 1, count: 9), bias: [0],
                   requant: Requantization(positive: [QuantMultiplier(1.0)], clampMin: .min, clampMax: .max), padValues: nil)
        XCTAssertEqual(y.values, [12, 21, 16, 27, 45, 33, 24, 39, 28])
        // Same with pad value 10 and bias -100: a corner sees 5 padded taps.
        convKernel(dst: y.view, src: x.view, params: q, weights: Array(repeating: 1, count: 9), bias: [-100],
                   requant: Requantization(positive: [QuantMultiplier(1.0)], clampMin: .min, clampMax: .max), padValues: [10])
        XCTAssertEqual(y.values[0], 12 + 50 - 100)
        XCTAssertEqual(y.values[4], 45 - 100)
    }

    func testConvStrideDilationGroupPadValuesLeaky() {
        let C = 4, H = 5, W = 7
        let input = pseudoRandom(C * H * W, -128...127, seed: 11)
        let x = Buffer(.i8, C, H, W, input)
        let q = ConvParameters(outputChannels: 6, inputChannels: 4, kernelHeight: 3, kernelWidth: 3, strideY: 2, strideX: 1,
                               padTop: 1, padLeft: 2, padBottom: 0, padRight: 1, dilationY: 1, dilationX: 2, group: 2)
        let weights = pseudoRandom(6 * 2 * 9, -127...127, seed: 12)
        let bias = pseudoRandom(6, -3000...3000, seed: 13)
        let r = Requantization(positive: (0..<6).map { QuantMultiplier(0.003 * Double($0 + 1)) },
                               negative: (0..<6).map { QuantMultiplier(0.0007 * Double($0 + 1)) }, clampMin: -100, clampMax: 90)
        let pad: [Int32] = [10, -3, 7, 0]
        let ref = referenceConv(input, c: C, h: H, w: W, params: q, weights: weights, bias: bias, requant: r, pad: pad)
        XCTAssertEqual(ref.h, 2); XCTAssertEqual(ref.w, 6)
        let y = Buffer(.i8, 6, ref.h, ref.w)
        convKernel(dst: y.view, src: x.view, params: q, weights: weights, bias: bias, requant: r, padValues: pad)
        XCTAssertEqual(y.values, ref.values)
        XCTAssertTrue(ref.values.contains { $0 < 0 } && ref.values.contains { $0 > 0 })
        XCTAssertTrue(ref.values.contains(90) || ref.values.contains(-100), "the clamps are exercised")
    }

    func testRequantizeWithNegativeMultipliersAndClamps() {
        let x = Buffer(.i32, 1, 1, 4, [10, -10, 300, -300])
        let y = Buffer(.i8, 1, 1, 4)
        requantizeKernel(dst: y.view, src: x.view, requant: Requantization(positive: [QuantMultiplier(0.5)], negative: [QuantMultiplier(0.25)],
                                                                            clampMin: -20, clampMax: 127))
        // 10·0.5 = 5; -10·0.25 = -2.5 → -3 (ties away from zero in the final shift); 150 → 127; -75 → -20.
        XCTAssertEqual(y.values, [5, -3, 127, -20])
        // Per-channel multipliers: channel 1 doubles.
        let x2 = Buffer(.i16, 2, 1, 2, [3, -3, 3, -3])
        let y2 = Buffer(.i16, 2, 1, 2)
        requantizeKernel(dst: y2.view, src: x2.view, requant: Requantization(positive: [QuantMultiplier(1.0), QuantMultiplier(2.0)],
                                                                              clampMin: -32768, clampMax: 32767))
        XCTAssertEqual(y2.values, [3, -3, 6, -6])
    }

    func testAddBothShiftDirectionsBroadcastAndSubtract() {
        let a = Buffer(.i8, 2, 1, 2, [10, -10, 20, 0])
        let b = Buffer(.i8, 2, 1, 2, [6, 6, -4, 100])
        let y = Buffer(.i16, 2, 1, 2)
        let half = QuantMultiplier(0.5)
        XCTAssertEqual(half.shift, 0)
        let small = QuantMultiplier(2.0 / 1048576)       // exponent < 0: the rounding right shift
        XCTAssertLessThan(small.shift, 0)
        addKernel(dst: y.view, a: a.view, b: b.view, leftShift: 20, ma: half, mb: half, mo: small, subtract: false, lo: -1000, hi: 1000)
        XCTAssertEqual(y.values, [16, -4, 16, 100])
        addKernel(dst: y.view, a: a.view, b: b.view, leftShift: 20, ma: half, mb: half, mo: small, subtract: true, lo: -1000, hi: 1000)
        XCTAssertEqual(y.values, [4, -16, 24, -100])
        // Broadcast b [2,1,1] and an output multiplier > 1 (exponent > 0: the saturating left shift).
        let bb = Buffer(.i8, 2, 1, 1, [1, -1])
        let big = QuantMultiplier(3.0)
        XCTAssertGreaterThan(big.shift, 0)
        addKernel(dst: y.view, a: a.view, b: bb.view, leftShift: 0, ma: half, mb: half, mo: big, subtract: false, lo: -1000, hi: 1000)
        // (a/2 + b/2)·3 with SRDHM rounding: independently with FixedPoint's primitives.
        var expected: [Int32] = []
        for (k, av) in [Int32(10), -10, 20, 0].enumerated() {
            let bv: Int32 = k < 2 ? 1 : -1
            expected.append(clamp(requantize(requantize(av, half) + requantize(bv, half), big), -1000, 1000))
        }
        XCTAssertEqual(y.values, expected)
        XCTAssertEqual(expected, [18, -12, 30, 0])   // 5+1=6·3; -5+1=-4·3; 10+0(−0.5→0)·3; 0+(−0.5→0)
    }

    func testMulRoundsAndBroadcasts() {
        let a = Buffer(.i8, 1, 1, 3, [7, 7, -7])
        let b = Buffer(.i8, 1, 1, 3, [3, -3, -3])
        let y = Buffer(.i8, 1, 1, 3)
        mulKernel(dst: y.view, a: a.view, b: b.view, m: QuantMultiplier(0.5), lo: -128, hi: 127)
        XCTAssertEqual(y.values, [11, -10, 11])   // 10.5 → 11; -10.5 → -10 (SRDHM's nudge toward zero for negatives)
        let b1 = Buffer(.u8, 1, 1, 1, [40])
        mulKernel(dst: y.view, a: a.view, b: b1.view, m: QuantMultiplier(1.0), lo: -128, hi: 127)
        XCTAssertEqual(y.values, [127, 127, -128])
    }

    func testConcatWithAndWithoutRequantization() {
        let a = Buffer(.u8, 1, 1, 2, [100, 201])
        let b = Buffer(.i8, 2, 1, 2, [-5, 5, 120, -120])
        let y = Buffer(.u8, 3, 1, 2)
        concatKernel(dst: y.view, sources: [a.view, b.view], multipliers: [QuantMultiplier(0.5), nil], lo: 0, hi: 110)
        XCTAssertEqual(y.values, [50, 101, 0, 5, 110, 0])
    }

    func testSliceChannels() {
        let x = Buffer(.i16, 4, 1, 2, [0, 1, 10, 11, 20, 21, 30, 31])
        let y = Buffer(.i16, 2, 1, 2)
        sliceKernel(dst: y.view, src: x.view, start: 1)
        XCTAssertEqual(y.values, [10, 11, 20, 21])
    }

    func testDepthToSpaceDCRAndCRD() {
        let x = Buffer(.u8, 8, 1, 1, [0, 1, 2, 3, 4, 5, 6, 7])
        let y = Buffer(.u8, 2, 2, 2)
        depthToSpaceKernel(dst: y.view, src: x.view, block: 2, crd: true)
        XCTAssertEqual(y.values, [0, 1, 2, 3, 4, 5, 6, 7])
        depthToSpaceKernel(dst: y.view, src: x.view, block: 2, crd: false)
        XCTAssertEqual(y.values, [0, 2, 4, 6, 1, 3, 5, 7])
        // 2x1 spatial input: y[c, h·b+i, w·b+j].
        let x2 = Buffer(.u8, 4, 1, 2, [0, 1, 10, 11, 20, 21, 30, 31])
        let y2 = Buffer(.u8, 1, 2, 4)
        depthToSpaceKernel(dst: y2.view, src: x2.view, block: 2, crd: true)
        XCTAssertEqual(y2.values, [0, 10, 1, 11, 20, 30, 21, 31])
    }

    func testReduceMeanRoundsHalfAwayFromZero() {
        // M = 2^-15 undoes the mean's 15 fraction bits: the result is the mean rounded once.
        let unit = QuantMultiplier(1.0 / 32768)
        let x = Buffer(.i8, 4, 1, 2, [1, 2, -1, -2, 3, 3, -7, 6])
        let y = Buffer(.i8, 4, 1, 1)
        reduceMeanKernel(dst: y.view, src: x.view, m: unit, lo: -128, hi: 127)
        XCTAssertEqual(y.values, [2, -2, 3, -1])          // 1.5 → 2, -1.5 → -2, 3, -0.5 → -1
        let x3 = Buffer(.u8, 1, 1, 3, [1, 1, 2])
        let y3 = Buffer(.u8, 1, 1, 1)
        reduceMeanKernel(dst: y3.view, src: x3.view, m: QuantMultiplier(2.0 / 32768), lo: 0, hi: 255)
        XCTAssertEqual(y3.values, [3])                     // 4/3 · 2 = 2.67 → 3: the mean is not rounded to 1 first
        // Extreme 16-bit sources: the mean · 2^15 still fits int32.
        let x4 = Buffer(.i16, 2, 1, 2, [32767, 32767, -32767, -32767])
        let y4 = Buffer(.i16, 2, 1, 1)
        reduceMeanKernel(dst: y4.view, src: x4.view, m: unit, lo: -32767, hi: 32767)
        XCTAssertEqual(y4.values, [32767, -32767])
    }

    func testSqrt() {
        let x = Buffer(.i32, 1, 1, 8, [0, 2, 3, 6, 7, -5, 12, 1_000_000])
        let y = Buffer(.u8, 1, 1, 8)
        sqrtKernel(dst: y.view, src: x.view, m: QuantMultiplier(1.0), lo: 0, hi: 255)
        XCTAssertEqual(y.values, [0, 1, 2, 2, 3, 0, 3, 255])
        sqrtKernel(dst: y.view, src: x.view, m: QuantMultiplier(4.0), lo: 0, hi: 255)
        XCTAssertEqual(y.values, [0, 3, 3, 5, 5, 0, 7, 255])   // √8=2.83, √12=3.46, √24=4.9, √28=5.29, √48=6.93
    }

    func testLookupIndexesFromQmin() throws {
        let x = Buffer(.i8, 1, 1, 4, [-8, -7, 0, 7])
        let y = Buffer(.u8, 1, 1, 4)
        let table = (0..<256).map { Int32(($0 * 3) % 256) }
        try lookupKernel(dst: y.view, src: x.view, srcMin: -8, table: table)
        XCTAssertEqual(y.values, [0, 3, 24, 45])
        let bad = Buffer(.i8, 1, 1, 1, [-9])
        XCTAssertThrowsError(try lookupKernel(dst: y.view, src: bad.view, srcMin: -8, table: table))
    }
}
