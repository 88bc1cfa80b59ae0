import XCTest
import FixedPoint
import SRRuntime
import SRVMKernelsCommon
#if arch(x86_64)
import _Builtin_intrinsics.intel
import SRVMKernelsAVX2
@testable import SRVMKernelsAVX512
#endif

/// The bounded form of requantization (|x| < 2^30, no left shift) against SPEC.md §5.2's
/// requantize: the scalar formula over every right shift, edge mantissas and the values where
/// roundings tie, then the AVX2 and AVX-512 lanes (uniform and per channel, both sides) on the
/// same values.
final class BoundedRequantizationTests: XCTestCase {
    /// Values that reach the formula's edges for multiplier m: 0, ±1, the bound, and for each
    /// rounding the inputs whose product lands on, just below and just above a tie.
    static func edgeValues(_ m: QuantMultiplier, _ rng: inout SplitMix) -> [Int32] {
        let limit = Int32(boundedRequantLimit - 1)
        var xs: [Int32] = [0, 1, -1, 2, -2, limit, -limit, limit - 1, -limit + 1]
        let r = -Int(m.shift)
        if m.mantissa > 0 {
            // x·M ≈ k·2^31·2^r + 2^30·(tie of the high multiply) + 2^(30+r) (tie of the shift).
            for _ in 0..<40 {
                let k = Double(rng.int(2_000_001)) - 1_000_000
                let target = (k * 2 + 1) * pow(2, Double(30 + r)) + (rng.int(2) == 0 ? 0 : pow(2, 30))
                let x = (target / Double(m.mantissa)).rounded()
                for d in -2...2 where abs(x + Double(d)) < Double(limit) { xs.append(Int32(x + Double(d))) }
            }
        }
        for _ in 0..<40 { xs.append(rng.int(in: -limit...limit)) }
        for _ in 0..<20 { xs.append(rng.int(in: -70_000...70_000)) }
        return xs
    }

    static func multipliers(_ rng: inout SplitMix) -> [QuantMultiplier] {
        var list: [QuantMultiplier] = []
        for shift in -31...0 {
            for mantissa: Int32 in [1 << 30, Int32.max, Int32(1 << 30) + Int32(rng.int(1 << 30))] {
                list.append(QuantMultiplier(mantissa: mantissa, shift: Int8(shift)))
            }
        }
        list.append(QuantMultiplier(mantissa: 0, shift: 0))
        return list
    }

    /// The magnitudes the kernels' bounds start from (u8's is its upper end, not its lower).
    func testStorageTypeMagnitudes() {
        XCTAssertEqual([StorageType.u8, .i8, .i16, .i32].map(\.maxMagnitude), [255, 128, 32768, 1 << 31])
        XCTAssertEqual(addOperandBound(.u8, leftShift: 15, QuantMultiplier(0.5)), 255 << 14)        // the exact shift
        XCTAssertEqual(addOperandBound(.u8, leftShift: 20, QuantMultiplier(0.5)), (255 << 19) + 1)  // requantized
    }

    func testScalarBoundedFormEqualsRequantize() {
        var rng = SplitMix(seed: 31)
        var checked = 0
        for m in Self.multipliers(&rng) {
            for x in Self.edgeValues(m, &rng) {
                XCTAssertEqual(requantizeBoundedInput(x, m), requantize(x, m), "x \(x) m \(m)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10_000)
    }

    #if arch(x86_64)
    /// Per-lane multipliers for `lanes` lanes and values at their edges (each lane's from the
    /// side its value falls on), with the tables an epilogue reads: positive mantissas and right
    /// shifts, negative ones, zeros for the left shifts.
    static func laneCase(_ ms: [QuantMultiplier], lanes: Int, _ rng: inout SplitMix)
        -> (pos: [QuantMultiplier], neg: [QuantMultiplier], x: [Int32], tables: [[Int32]]) {
        let pos = (0..<lanes).map { _ in ms[rng.int(ms.count)] }, neg = (0..<lanes).map { _ in ms[rng.int(ms.count)] }
        var x: [Int32] = []
        for lane in 0..<lanes {
            let edges = edgeValues(rng.int(2) == 0 ? pos[lane] : neg[lane], &rng)
            x.append(edges[rng.int(edges.count)])
        }
        let tables: [[Int32]] = [pos.map(\.mantissa), pos.map { Int32(max(0, -Int($0.shift))) },
                                 neg.map(\.mantissa), neg.map { Int32(max(0, -Int($0.shift))) }, [Int32](repeating: 0, count: lanes)]
        return (pos, neg, x, tables)
    }

    /// RequantTables over `tables` (laneCase's), bounded, with or without the negative side.
    static func withTables<R>(_ tables: [[Int32]], negative: Bool, _ body: (RequantTables) -> R) -> R {
        tables[0].withUnsafeBufferPointer { pm in tables[1].withUnsafeBufferPointer { pr in
            tables[2].withUnsafeBufferPointer { nm in tables[3].withUnsafeBufferPointer { nr in tables[4].withUnsafeBufferPointer { zero in
                body(RequantTables(mantissa: pm.baseAddress!, leftShift: zero.baseAddress!, rightShift: pr.baseAddress!,
                                   negMantissa: nm.baseAddress!, negLeftShift: zero.baseAddress!, negRightShift: nr.baseAddress!,
                                   bias: nil, hasNegative: negative, hasLeftShift: false, offset: 0,
                                   clampMin: .min, clampMax: .max, boundedInputs: true))
            } } } } }
    }

    /// One ISA's bounded lanes against requantize: `uniform` applies one multiplier to `lanes`
    /// values, `perLane` a bounded table (with or without its negative side) to them.
    func checkBoundedLanes(lanes: Int, seed: UInt64, perLaneCases: Int, uniform: (QuantMultiplier, [Int32]) -> [Int32],
                           perLane: (RequantTables, Bool, [Int32]) -> [Int32]) {
        var rng = SplitMix(seed: seed)
        let ms = Self.multipliers(&rng)
        // One multiplier in every lane (the element-wise kernels).
        for m in ms {
            let xs = Self.edgeValues(m, &rng)
            for i in Swift.stride(from: 0, to: xs.count - (lanes - 1), by: lanes) {
                let x = Array(xs[i..<(i + lanes)])
                XCTAssertEqual(uniform(m, x), x.map { requantize($0, m) }, "uniform \(m)")
            }
        }
        // A multiplier per lane, with and without a negative side (the conv epilogues).
        for negative in [false, true] {
            for _ in 0..<perLaneCases {
                let c = Self.laneCase(ms, lanes: lanes, &rng)
                let got = Self.withTables(c.tables, negative: negative) { perLane($0, negative, c.x) }
                let expected = (0..<lanes).map { requantize(c.x[$0], negative && c.x[$0] < 0 ? c.neg[$0] : c.pos[$0]) }
                XCTAssertEqual(got, expected, "negative side \(negative): x \(c.x)")
                if got != expected { return }
            }
        }
    }

    func testAVX2BoundedLanesEqualRequantize() {
        guard CPUFeatures.hasAVX2 else {
            print("BoundedRequantizationTests: no AVX2 on this CPU; its bounded lanes not tested")
            return
        }
        func lanes(_ v: __m256i) -> [Int32] { withUnsafeBytes(of: v) { Array($0.bindMemory(to: Int32.self)) } }
        func vector(_ xs: [Int32]) -> __m256i { xs.withUnsafeBufferPointer { _mm256_loadu_si256(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: __m256i.self)) } }
        checkBoundedLanes(lanes: 8, seed: 33, perLaneCases: 300,
                          uniform: { m, x in lanes(UniformRequantAVX2(m, inputBound: boundedRequantLimit - 1).apply(vector(x))) },
                          perLane: { t, _, x in lanes(EpilogueLanes8(t, channel: 0).apply(vector(x))) })
    }

    func testAVX512BoundedLanesEqualRequantize() {
        guard CPUFeatures.hasAVX512 else {
            print("BoundedRequantizationTests: no AVX-512 on this CPU; its bounded lanes not tested")
            return
        }
        func lanes(_ v: __m512i) -> [Int32] { withUnsafeBytes(of: v) { Array($0.bindMemory(to: Int32.self)) } }
        func vector(_ xs: [Int32]) -> __m512i { xs.withUnsafeBufferPointer { _mm512_loadu_si512(UnsafeRawPointer($0.baseAddress!)) } }
        checkBoundedLanes(lanes: 16, seed: 32, perLaneCases: 200, uniform: { m, x in
            let q = UniformRequant16(m, inputBound: boundedRequantLimit - 1)
            XCTAssertTrue(q.bounded)
            return lanes(q.apply(vector(x)))
        }, perLane: { t, negative, x in
            let l = EpilogueLanes16(t, channel: 0)
            return negative ? lanes(l.apply(vector(x), NegativeBounded.self)) : lanes(l.apply(vector(x), PositiveBounded.self))
        })
    }
    #endif
}
