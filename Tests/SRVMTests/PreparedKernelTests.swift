import XCTest
import FixedPoint
import QSRFormat
import SRRuntime
import SRVMKernelsCommon
import SRVMKernelsAMX
@testable import SRVM

/// Every optimized kernel against its reference kernel (TFLite style), bit for bit, over
/// random shapes: channel counts that are not multiples of the vector width, odd and 1-pixel
/// images, groups, every kernel size, strides, dilations, asymmetric pads with pad values,
/// every source type and weight width, clamp ranges, offsets and negative-side multipliers.
final class PreparedKernelTests: XCTestCase {
    /// The prepared ISAs this CPU can run (AVX2 is skipped, with a note, only on a CPU without it).
    var isas: [PreparedISA] {
        var list: [PreparedISA] = [.portable]
        if CPUFeatures.hasAVX2 { list.append(.avx2) } else { print("PreparedKernelTests: no AVX2 on this CPU; AVX2 kernels not tested") }
        if CPUFeatures.hasAVXVNNI { list.append(.vnni) } else { print("PreparedKernelTests: no AVX-VNNI on this CPU; VNNI kernels not tested") }
        if CPUFeatures.hasAVX512VNNI { list.append(.avx512) } else { print("PreparedKernelTests: no AVX-512 VNNI on this CPU; AVX-512 kernels not tested") }
        return list
    }

    func testConvMatchesTheReferenceOverRandomShapes() throws {
        var rng = SplitMix(seed: 2024)
        var kinds: [ConvMicroKind: Int] = [:]
        var channelSumCases = 0, leftShiftCases = 0, boundedCases = 0, unboundedCases = 0
        for case_ in 0..<260 {
            let c = ConvCase.random(&rng)
            if (c.requant.positive + (c.requant.negative ?? [])).contains(where: { $0.shift > 0 }) { leftShiftCases += 1 }
            else if c.sumBound < boundedRequantLimit { boundedCases += 1 } else { unboundedCases += 1 }
            let expected = c.reference()
            for isa in isas {
                for threads in [1, 3] {
                    let (got, kind, channelSums) = c.prepared(isa: isa, threads: threads)
                    kinds[kind, default: 0] += 1
                    if channelSums { channelSumCases += 1 }
                    if got != expected {
                        let i = (0..<min(got.count, expected.count)).first { got[$0] != expected[$0] } ?? 0
                        XCTFail("case \(case_) \(isa) threads \(threads) kind \(kind) channel sums \(channelSums): \(c.summary): first difference at \(i): \(got[i]) vs \(expected[i])")
                        return
                    }
                }
            }
        }
        // Every operand format was exercised (the random cases are built to reach each).
        var expected: [ConvMicroKind] = [.pair, .quadUnsigned, .quadSigned]
        if CPUFeatures.hasAVXVNNI || CPUFeatures.hasAVX512VNNI { expected.append(.quadOffset) }
        for kind in expected { XCTAssertGreaterThan(kinds[kind] ?? 0, 10, "\(kind) cases") }
        if CPUFeatures.hasAVX2 { XCTAssertGreaterThan(channelSumCases, 20, "RGB-tail convs summed along the channels") }
        XCTAssertGreaterThan(leftShiftCases, 20, "multipliers > 1 (the epilogues' saturating left shifts)")
        XCTAssertGreaterThan(boundedCases, 20, "sums proven below 2^30 (the bounded requantization)")
        XCTAssertGreaterThan(unboundedCases, 2, "sums that may reach 2^30 (the general requantization; more in the AMX cases)")
    }

    /// AMX tiles (tdpbusd/tdpbssd, s16 as two byte planes) against the reference, where the CPU
    /// and the OS give this process AMX: strided 16-pixel runs and gathered borders and tails,
    /// 1-2 pixel groups, 16 and 32 output halves, K steps of 4...64 bytes and several per tap.
    func testAMXConvMatchesTheReference() throws {
        guard CPUFeatures.hasAVX512VNNI, srvm_amx_available() != 0 else {
            print("PreparedKernelTests: no AMX-INT8 (or no tile state from the OS) on this CPU; AMX conv tiles not tested")
            return
        }
        var rng = SplitMix(seed: 4711)
        var covered: [StorageType: Int] = [:]
        var wideK = 0, mergedRows = 0, mergedSplit = 0, paddedOutputs = 0, boundedCases = 0, unboundedCases = 0
        for case_ in 0..<240 {
            let c = ConvCase.random(&rng, amx: true)
            if c.sumBound < boundedRequantLimit { boundedCases += 1 } else { unboundedCases += 1 }
            let expected = c.reference()
            for threads in [1, 3] {
                let (got, _, usedAMX) = c.prepared(isa: .avx512, threads: threads, amx: true)
                if usedAMX && threads == 1 {
                    covered[StorageType(rawValue: c.source.type.rawValue)!, default: 0] += 1
                    if c.params.inputChannels / c.params.group > 64 { wideK += 1 }
                    if AMXConvPlan.mergesRows(params: c.params, groups: PreparedConv.runGroups(c.params), sourceType: StorageType(rawValue: c.source.type.rawValue)!) {
                        mergedRows += 1
                        if c.source.type == .i16 { mergedSplit += 1 }
                    }
                    if c.params.outputChannels % 16 != 0 { paddedOutputs += 1 }
                }
                if got != expected {
                    let i = (0..<min(got.count, expected.count)).first { got[$0] != expected[$0] } ?? 0
                    XCTFail("case \(case_) threads \(threads) amx \(usedAMX): \(c.summary): first difference at \(i): \(got[i]) vs \(expected[i])")
                    return
                }
            }
        }
        for t in [StorageType.u8, .i8, .i16] { XCTAssertGreaterThan(covered[t] ?? 0, 15, "AMX cases with \(t) sources") }
        XCTAssertGreaterThan(wideK, 5, "AMX cases with several K steps per tap")
        XCTAssertGreaterThan(mergedRows, 5, "AMX convs with taps merged by kernel row (heads, few channels)")
        XCTAssertGreaterThan(mergedSplit, 3, "AMX convs with s16 sources merged by kernel row (two staged planes)")
        XCTAssertGreaterThan(paddedOutputs, 15, "AMX cases with outputs padded to 16")
        XCTAssertGreaterThan(boundedCases, 20, "AMX sums proven below 2^30 (the bounded requantization)")
        XCTAssertGreaterThan(unboundedCases, 3, "AMX sums that may reach 2^30 (the general requantization)")
    }

    /// The add loops specialized by term form (addPixelsFixed): i16 operands of ±32767 with their
    /// proven magnitude, each term a plain shift or the bounded requantization, the output
    /// requantization bounded or not, adding and subtracting, i16 and i8 results, at the edges of
    /// the range (the largest magnitudes in every case) and in between.
    func testAddOfEveryTermFormMatchesTheReference() throws {
        var rng = SplitMix(seed: 91)
        var checked = 0
        for (ma, mb) in [(0.5, 0.42), (0.42, 0.5), (0.5, 0.25), (0.37, 0.93), (0.99, 0.98)] {
            for shift: UInt8 in [15, 12] {
                for sub in [false, true] {
                    for dt in [ElementType.i16, .i8] {
                        let C = [16, 24, 64][rng.int(3)], H = 2 + rng.int(3), W = 3 + rng.int(5)
                        var x = Tensor.random(.i16, C, H, W, &rng, range: -32767...32767)
                        var y = Tensor.random(.i16, C, H, W, &rng, range: -32767...32767)
                        x.values[0] = 32767; x.values[1] = -32767; y.values[0] = -32767; y.values[1] = 32767
                        let mo = QuantMultiplier(rng.real(0.5, 3) / Double(1 << Int(shift)))
                        let (qa, qb) = (QuantMultiplier(ma), QuantMultiplier(mb))
                        let (lo, hi) = (dt.range.lowerBound + 1, dt.range.upperBound)
                        for isa in isas {
                            XCTAssertEqual(x.run(dt, others: [y], isa: isa) { d, dl, s, sl in
                                addHWC(dst: d, dl, a: s[0], sl[0], b: s[1], sl[1], leftShift: shift, ma: qa, mb: qb, mo: mo, subtract: sub,
                                       lo: lo, hi: hi, magnitudes: (32767, 32767), isa: isa, threads: 2)
                            }, x.reference(dt, others: [y]) { d, s in
                                addKernel(dst: d, a: s[0], b: s[1], leftShift: shift, ma: qa, mb: qb, mo: mo, subtract: sub, lo: lo, hi: hi)
                            }, "add Ma \(ma) Mb \(mb) L \(shift) subtract \(sub) -> \(dt) \(isa)")
                            checked += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 80)
    }

    func testElementwiseKernelsMatchTheReference() throws {
        var rng = SplitMix(seed: 77)
        let types: [ElementType] = [.u8, .i8, .i16, .i32]
        for case_ in 0..<120 {
            let C = [1, 3, 7, 8, 9, 16, 27, 33, 64, 72][rng.int(10)]   // 64, 72: reduce_mean's four-register pass
            let H = 1 + rng.int(9), W = 1 + rng.int(11)
            let st = types[rng.int(4)], dt = types[rng.int(4)]
            // i16 values clamped to ±32767, as the programs' are (with the proven magnitude given
            // below, x·2^15 then stays under 2^30: the add terms' bounded form).
            let symmetric: ClosedRange<Int32>? = st == .i16 && rng.int(2) == 0 ? -32767...32767 : nil
            let x = Tensor.random(st, C, H, W, &rng, range: symmetric)
            let y = Tensor.random(st, C, H, W, &rng, range: symmetric)
            let lo = max(dt.range.lowerBound, -1 - Int32(rng.int(200))), hi = min(dt.range.upperBound, Int32(rng.int(300)))
            let broadcast = rng.int(3) == 0
            let yb = broadcast ? Tensor.random(st, C, 1, 1, &rng, range: symmetric) : y
            let multipliers = (0..<C).map { _ in QuantMultiplier(rng.real(1e-4, 4)) }
            let negative = rng.int(2) == 0 ? (0..<C).map { _ in QuantMultiplier(rng.real(1e-4, 0.5)) } : nil
            let perChannel = rng.int(2) == 0, negPerChannel = rng.int(2) == 0
            let r = Requantization(positive: perChannel ? multipliers : [multipliers[0]], negative: negative.map { negPerChannel ? $0 : [$0[0]] },
                                   clampMin: lo, clampMax: hi, offset: Int32(rng.int(5)) - 2)
            for isa in isas {
                let label = "case \(case_) \(isa) \(st)->\(dt) [\(C),\(H),\(W)]"
                // requantize
                // Tables that know their inputs' bound take the bounded form where it is below 2^30.
                let bound = rng.int(2) == 0 ? Int64.max : StorageType(rawValue: st.rawValue)!.maxMagnitude
                XCTAssertEqual(x.run(dt, isa: isa) { d, dl, s, sl in
                    let store = RequantTableStorage(r, paddedChannels: dl.stride, bias: nil, inputBound: bound) { $0 < C ? $0 : nil }
                    requantizeHWC(dst: d, dl, src: s[0], sl[0], tables: store.tables, isa: isa, threads: 2)
                }, x.reference(dt) { d, s in requantizeKernel(dst: d, src: s[0], requant: r) }, "requantize \(label)")
                // add (both directions of the shift, subtraction, broadcast b)
                let shift = UInt8(rng.int(st == .i32 ? 1 : 16)), sub = rng.int(2) == 0
                // Exact powers 2^(−1−k) take the kernels' plain-shift path (exactAddShift), as EDSR's adds do.
                func operandScale() -> QuantMultiplier {
                    rng.int(3) == 0 ? QuantMultiplier([0.5, 0.25, 0.125][rng.int(3)]) : QuantMultiplier(rng.real(0.2, 1))
                }
                let (ma, mb) = (operandScale(), operandScale())
                let mo = QuantMultiplier(rng.real(0.5, 3) / Double(1 << Int(shift)))
                // The operands' magnitudes as the prepared program proves them (here: the largest in the data), or the types'.
                let magnitudes = rng.int(2) == 0 ? (x.values.map { Int64(abs($0)) }.max()!, yb.values.map { Int64(abs($0)) }.max()!) : nil
                XCTAssertEqual(x.run(dt, others: [yb], isa: isa) { d, dl, s, sl in
                    addHWC(dst: d, dl, a: s[0], sl[0], b: s[1], sl[1], leftShift: shift, ma: ma, mb: mb, mo: mo, subtract: sub, lo: lo, hi: hi,
                           magnitudes: magnitudes, isa: isa, threads: 2)
                }, x.reference(dt, others: [yb]) { d, s in
                    addKernel(dst: d, a: s[0], b: s[1], leftShift: shift, ma: ma, mb: mb, mo: mo, subtract: sub, lo: lo, hi: hi)
                }, "add \(label)")
                // mul
                if st != .i32 {
                    let m = QuantMultiplier(rng.real(1e-5, 0.1))
                    XCTAssertEqual(x.run(dt, others: [yb], isa: isa) { d, dl, s, sl in
                        mulHWC(dst: d, dl, a: s[0], sl[0], b: s[1], sl[1], m: m, lo: lo, hi: hi, magnitudes: magnitudes, isa: isa, threads: 2)
                    }, x.reference(dt, others: [yb]) { d, s in mulKernel(dst: d, a: s[0], b: s[1], m: m, lo: lo, hi: hi) }, "mul \(label)")
                }
                // reduce_mean over the whole image
                if st != .i32 {
                    let m = QuantMultiplier(rng.real(0.01, 2))
                    XCTAssertEqual(x.run(dt, height: 1, width: 1, isa: isa) { d, dl, s, sl in
                        reduceMeanHWC(dst: d, dl, src: s[0], sl[0], m: m, lo: lo, hi: hi, isa: isa, threads: 3)
                    }, x.reference(dt, height: 1, width: 1) { d, s in reduceMeanKernel(dst: d, src: s[0], m: m, lo: lo, hi: hi) }, "reduce_mean \(label)")
                }
                // concat of sources with different channel counts, copied or requantized
                let zt = types[rng.int(4)]
                let z = Tensor.random(zt, 1 + rng.int(12), H, W, &rng, range: zt == .i32 ? -1_000_000_000...1_000_000_000 : nil)
                // (the middle one up to 40: left shifts up to 6, saturating int32 sources)
                let cm: [QuantMultiplier?] = [rng.int(2) == 0 ? nil : QuantMultiplier(rng.real(0.01, 2)), QuantMultiplier(rng.real(0.01, 40)),
                                              rng.int(2) == 0 ? nil : QuantMultiplier(rng.real(0.01, 2))]
                XCTAssertEqual(x.run(dt, channels: C + z.c + C, others: [z, y], isa: isa) { d, dl, s, sl in
                    concatHWC(dst: d, dl, sources: (0..<3).map { (UnsafeRawPointer(s[$0]), sl[$0], cm[$0]) }, lo: lo, hi: hi, isa: isa, threads: 2)
                }, x.reference(dt, channels: C + z.c + C, others: [z, y]) { d, s in
                    concatKernel(dst: d, sources: s, multipliers: cm, lo: lo, hi: hi)
                }, "concat \(label)")
            }
            // depth_to_space (a copy: same type), both orders
            let b = 2 + rng.int(2)
            let dsrc = Tensor.random(st, C * b * b, H, W, &rng)
            for crd in [false, true] {
                XCTAssertEqual(dsrc.run(st, channels: C, height: H * b, width: W * b, isa: .portable) { d, dl, s, sl in
                    depthToSpaceHWC(dst: d, dl, src: s[0], sl[0], block: b, crd: crd, threads: 2)
                }, dsrc.reference(st, channels: C, height: H * b, width: W * b) { d, s in
                    depthToSpaceKernel(dst: d, src: s[0], block: b, crd: crd)
                }, "depth_to_space crd=\(crd) case \(case_)")
            }
        }
    }
}

/// Test-case numbers from the project's one SplitMix64 (deterministic everywhere).
struct SplitMix {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func int(in r: ClosedRange<Int32>) -> Int32 {
        Int32(Int64(r.lowerBound) + Int64(next() % UInt64(Int64(r.upperBound) - Int64(r.lowerBound) + 1)))
    }
    mutating func real(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53) }
}

/// A planar tensor with its values, runnable through a prepared (HWC) kernel or a reference (CHW) one.
struct Tensor {
    var type: ElementType
    var c: Int, h: Int, w: Int
    var values: [Int32]

    static func random(_ t: ElementType, _ c: Int, _ h: Int, _ w: Int, _ rng: inout SplitMix, range: ClosedRange<Int32>? = nil) -> Tensor {
        let r = range ?? (t == .i32 ? -1_000_000...1_000_000 : t.range)
        return Tensor(type: t, c: c, h: h, w: w, values: (0..<(c * h * w)).map { _ in rng.int(in: r) })
    }

    /// The tensor in srvm's pixel layout, padding channels filled with junk (kernels must ignore it).
    func hwc() -> (UnsafeMutableRawPointer, PixelLayout) {
        let l = PixelLayout(channels: c, height: h, width: w, type: type)
        let p = UnsafeMutableRawPointer.allocate(byteCount: l.byteCount, alignment: 64)
        for i in 0..<l.byteCount { p.storeBytes(of: UInt8(truncatingIfNeeded: i &* 37 &+ 11), toByteOffset: i, as: UInt8.self) }
        for ch in 0..<c {
            for i in 0..<(h * w) {
                let v: Int32 = values[ch * h * w + i]
                storeElement(v, p, i * l.stride + ch, l.type)
            }
        }
        return (p, l)
    }

    /// Runs an optimized kernel: dst [channels ?? c, height ?? h, width ?? w] of `dt`; the result in planar order.
    func run(_ dt: ElementType, channels: Int? = nil, height: Int? = nil, width: Int? = nil, others: [Tensor] = [], isa: PreparedISA,
             _ body: (UnsafeMutableRawPointer, PixelLayout, [UnsafeMutableRawPointer], [PixelLayout]) -> Void) -> [Int32] {
        let inputs = ([self] + others).map { $0.hwc() }
        defer { for i in inputs { i.0.deallocate() } }
        let dl = PixelLayout(channels: channels ?? c, height: height ?? h, width: width ?? w, type: dt)
        let d = UnsafeMutableRawPointer.allocate(byteCount: dl.byteCount, alignment: 64)
        defer { d.deallocate() }
        d.initializeMemory(as: UInt8.self, repeating: 0xA5, count: dl.byteCount)
        body(d, dl, inputs.map(\.0), inputs.map(\.1))
        return planar(d, dl)
    }

    /// Runs a reference kernel on planar views.
    func reference(_ dt: ElementType, channels: Int? = nil, height: Int? = nil, width: Int? = nil, others: [Tensor] = [],
                   _ body: (TensorView, [TensorView]) -> Void) -> [Int32] {
        let inputs = ([self] + others).map { t in Buffer(t.type, t.c, t.h, t.w, t.values) }
        let out = Buffer(dt, channels ?? c, height ?? h, width ?? w)
        // The buffers own the memory the views point at: keep them alive through the kernel.
        return withExtendedLifetime((inputs, out)) {
            body(out.view, inputs.map(\.view))
            return out.values
        }
    }
}

/// One random conv: shapes, operand types and ranges, weights, requantization.
struct ConvCase {
    var params: ConvParameters
    var source: Tensor
    var sourceRange: ClosedRange<Int32>
    var weights: [Int32], bias: [Int32]
    var requant: Requantization
    var pad: [Int32]?
    var dstType: ElementType
    var outH: Int, outW: Int

    /// What PreparedConv proves about this case's sums (the bounded requantization's condition).
    var sumBound: Int64 {
        var lo = sourceRange.lowerBound, hi = sourceRange.upperBound
        for v in pad ?? [0] { lo = min(lo, v); hi = max(hi, v) }
        return PreparedConv.sumBound(weights: weights, outputs: Int(params.outputChannels), bias: bias,
                                     maxSource: Int(max(Int64(lo).magnitude, Int64(hi).magnitude)))
    }

    var summary: String {
        let q = params
        return "\(source.type)\(sourceRange) [\(q.inputChannels)->\(q.outputChannels), \(source.h)x\(source.w)] k\(q.kernelHeight)x\(q.kernelWidth) " +
            "s\(q.strideY),\(q.strideX) d\(q.dilationY),\(q.dilationX) g\(q.group) pads \(q.padTop),\(q.padLeft),\(q.padBottom),\(q.padRight) " +
            "w\(weights.min()!)...\(weights.max()!) pad values \(pad != nil) -> \(dstType)"
    }

    /// `amx`: shapes the AMX tiles take (one group or a few narrow ones, multiples of 16 outputs,
    /// up to 64 input channels or multiples of 64, rows wide enough for full 16-pixel runs and
    /// their tails), sources over their whole type range.
    static func random(_ rng: inout SplitMix, amx: Bool = false) -> ConvCase {
        // Operand formats: (type, range) of the source, weight range; chosen so every tile kind is reached.
        let sources: [(ElementType, ClosedRange<Int32>)] = [
            (.u8, 0...255), (.u8, 0...15), (.u8, 0...127), (.i8, -127...127), (.i8, -7...7), (.i8, -128...127), (.i8, -8...7),
            (.i16, -32767...32767), (.i16, -300...300),
        ]
        // One case in five is an RGB tail: ≤ 4 outputs from ≥ 16 s16 channels (the channel-sum kernels).
        let tail = rng.int(5) == 0 && !amx
        let amxSources: [(ElementType, ClosedRange<Int32>)] = [(.u8, 0...255), (.i8, -128...127), (.i16, -32768...32767), (.i16, -300...300)]
        let (st, sr) = tail ? (ElementType.i16, [-32767...32767, -300...300][rng.int(2)])
            : amx ? amxSources[rng.int(amxSources.count)] : sources[rng.int(sources.count)]
        // -63...63 (7-bit weights, e.g. `--override NODE=7`) keeps signed 8-bit sources' s16 partial
        // sums for 2 steps: the only AVX2 .quadSigned case (8-bit weights take pairs).
        let weightRange: ClosedRange<Int32> = [-8...7, -7...7, -127...127, -128...127, -63...63][rng.int(5)]
        let G = tail ? 1 : amx ? [1, 1, 1, 1, 2, 4][rng.int(6)] : [1, 1, 1, 2, 3, 4][rng.int(6)]
        let cg = tail ? [16, 17, 33, 64][rng.int(4)]
            : amx ? (G > 1 ? [3, 8][rng.int(2)] : [1, 3, 5, 8, 13, 16, 32, 61, 64, 96, 128, 160, 192][rng.int(13)])
            : [1, 2, 3, 4, 5, 8, 9, 16, 17][rng.int(9)]
        let og = tail ? 1 + rng.int(4) : amx ? max(1, [3, 8, 16, 27, 32, 48, 64, 80][rng.int(8)] / G) : [1, 3, 5, 8, 9, 16, 17, 24, 32, 40][rng.int(10)]
        let C = G * cg, O = G * og
        let kh = [1, 3, 5, 1, 3][rng.int(5)], kw = rng.int(4) == 0 ? [1, 3, 5][rng.int(3)] : kh
        let sy = [1, 1, 2, 3][rng.int(4)], sx = rng.int(3) == 0 ? [1, 2][rng.int(2)] : sy
        let dy = [1, 1, 2][rng.int(3)], dx = rng.int(3) == 0 ? [1, 2][rng.int(2)] : dy
        let pads = (0..<4).map { _ in rng.int(3) }
        let amxWidths = [1, 5, 16, 17, 31, 32, 33, 40, 47, 70]
        var H: Int = amx ? 1 + rng.int(5) : 1 + rng.int(12)
        var W: Int = amx ? amxWidths[rng.int(amxWidths.count)] : 1 + rng.int(14)
        // The output must have at least one pixel.
        H = max(H, dy * (kh - 1) + 1 - pads[0] - pads[2]); W = max(W, dx * (kw - 1) + 1 - pads[1] - pads[3])
        let outH = (H + pads[0] + pads[2] - dy * (kh - 1) - 1) / sy + 1, outW = (W + pads[1] + pads[3] - dx * (kw - 1) - 1) / sx + 1
        let params = ConvParameters(outputChannels: Int32(O), inputChannels: Int32(C), kernelHeight: Int32(kh), kernelWidth: Int32(kw),
                                    strideY: Int32(sy), strideX: Int32(sx), padTop: Int32(pads[0]), padLeft: Int32(pads[1]),
                                    padBottom: Int32(pads[2]), padRight: Int32(pads[3]), dilationY: Int32(dy), dilationX: Int32(dx), group: Int32(G))
        var weights = (0..<(O * cg * kh * kw)).map { _ in rng.int(in: weightRange) }
        if rng.int(4) == 0 { weights[rng.int(weights.count)] = weightRange.lowerBound }   // the extreme weight itself
        let maxX = max(abs(Int64(sr.lowerBound)), abs(Int64(sr.upperBound)))
        // The validator's bound: |B| + Σ|W|·max|x| ≤ 2^31 − 1 (|B| ≤ 10^4). A case that would exceed it
        // has its weights divided just enough, so some sums stay above 2^30 (the general requantization).
        let perOutput = (0..<O).map { o in weights[(o * cg * kh * kw)..<((o + 1) * cg * kh * kw)].reduce(Int64(0)) { $0 + abs(Int64($1)) } }
        let worst = (perOutput.max() ?? 0) * maxX, limit: Int64 = (1 << 31) - 1 - 10_000
        if worst > limit { let f = Int32(worst / limit + 1); weights = weights.map { $0 / f } }
        let bias = (0..<O).map { _ in Int32(rng.int(20001)) - 10000 }
        let dstTypes: [ElementType] = [.u8, .i8, .i16, .i32]
        let dt = dstTypes[rng.int(4)]
        let lo = dt == .u8 ? Int32(rng.int(3)) : max(dt.range.lowerBound, -Int32(rng.int(40000)))
        let hi = min(dt.range.upperBound, lo + 1 + Int32(rng.int(70000)))
        let scale = 1.0 / (Double(maxX) * Double(cg * kh * kw) * 4 + 1) * Double(hi - lo + 1)
        let multipliers = (0..<O).map { _ in QuantMultiplier(scale * rng.real(0.3, 3)) }
        let negative: [QuantMultiplier]? = rng.int(2) == 0 ? nil : (0..<O).map { _ in QuantMultiplier(scale * rng.real(0.01, 0.5)) }
        let single = rng.int(3) == 0, negSingle = rng.int(3) == 0
        let requant = Requantization(positive: single ? [multipliers[0]] : multipliers,
                                     negative: negative.map { negSingle ? [$0[0]] : $0 },
                                     clampMin: lo, clampMax: hi, offset: Int32(rng.int(7)) - 3)
        let pad: [Int32]? = rng.int(2) == 0 ? nil : (0..<C).map { _ in rng.int(in: sr) }
        let source = Tensor.random(st, C, H, W, &rng, range: sr)
        return ConvCase(params: params, source: source, sourceRange: sr, weights: weights, bias: bias, requant: requant, pad: pad,
                        dstType: dt, outH: outH, outW: outW)
    }

    func reference() -> [Int32] {
        source.reference(dstType, channels: Int(params.outputChannels), height: outH, width: outW) { d, s in
            convKernel(dst: d, src: s[0], params: params, weights: weights, bias: bias, requant: requant, padValues: pad)
        }
    }

    /// The prepared conv's result, operand format and whether it summed along the channels.
    /// `amx`: the conv is prepared for AMX tiles where they cover it (`.3` then says whether they did).
    func prepared(isa: PreparedISA, threads: Int, amx: Bool = false) -> ([Int32], ConvMicroKind, Bool) {
        let descriptor = ValueDescriptor(name: "x", type: source.type, channels: params.inputChannels, height: .constant(Int32(source.h)),
                                         width: .constant(Int32(source.w)), scale: 1, qmin: sourceRange.lowerBound,
                                         qmax: sourceRange.upperBound, slot: 0)
        let conv = PreparedConv(params: params, weights: weights, bias: bias, requant: requant, padValues: pad,
                                source: descriptor, sourceRange: sourceRange, isa: isa, amx: amx)
        let out = source.run(dstType, channels: Int(params.outputChannels), height: outH, width: outW, isa: isa) { d, dl, s, sl in
            conv.run(src: s[0], srcLayout: sl[0], dst: d, dstLayout: dl, isa: isa, threads: threads)
        }
        return (out, conv.kind, amx ? conv.amxPlan != nil : conv.dotWeights != nil)
    }
}
