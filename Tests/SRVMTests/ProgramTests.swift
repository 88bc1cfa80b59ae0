import XCTest
import Foundation
import FixedPoint
import QSRFormat
import SRImage
@testable import SRVM

func testImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
    RGBImage(width: width, height: height, pixels: pseudoRandom(width * height * 3, 0...255, seed: seed).map { UInt8($0) })
}

/// input_pixels → conv 3→12 (int4 weights, pad values) → depth_to_space(2, DCR) → output_pixels, BGR.
func tinyProgram(order: ModelMetadata.ChannelOrder = .bgr) -> Program {
    let H = DimExpr(symbol: 0), W = DimExpr(symbol: 1)
    let values = [
        ValueDescriptor(name: "x", type: .u8, channels: 3, height: H, width: W, scale: 1 / 255, qmin: 0, qmax: 255, slot: 0),
        ValueDescriptor(name: "phases", type: .u8, channels: 12, height: H, width: W, scale: 1 / 255, qmin: 0, qmax: 255, slot: 1),
        ValueDescriptor(name: "y", type: .u8, channels: 3,
                        height: DimExpr(symbol: 0, coefficient: 2), width: DimExpr(symbol: 1, coefficient: 2),
                        scale: 1 / 255, qmin: 0, qmax: 255, slot: 0),
    ]
    let constants = [
        Constant(kind: .int4, values: pseudoRandom(12 * 3 * 9, -8...7, seed: 21)),
        Constant(kind: .int32, values: pseudoRandom(12, -500...3000, seed: 22)),
        Constant(kind: .uint8, values: [30, 128, 250]),
    ]
    let instructions: [Instruction] = [
        .inputPixels(dst: 0),
        .conv(dst: 1, src: 0, params: ConvParameters(outputChannels: 12, inputChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                                     padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
              weights: 0, weightBits: 4, bias: 1,
              requant: Requantization(positive: (0..<12).map { QuantMultiplier(0.02 + 0.005 * Double($0)) }, clampMin: 0, clampMax: 255),
              padValues: 2),
        .depthToSpace(dst: 2, src: 1, blockSize: 2, crd: false),
        .outputPixels(src: 2),
    ]
    let meta = ModelMetadata(modelName: "tiny", scale: 2, channelOrder: order, valueRange: 255, inputName: "in",
                             outputName: "out", sourceBytes: 5000, notes: ["bits": "w4a8"])
    return Program(metadata: meta, values: values, constants: constants, instructions: instructions, slotCount: 2)
}

/// The tiny program with a VALID 3x3 conv first (H-2 x W-2) and a 1x1 conv padded by 1 after it.
func shrinkingProgram() -> Program {
    var p = tinyProgram()
    p.values.append(ValueDescriptor(name: "valid", type: .u8, channels: 12, height: DimExpr(symbol: 0, offset: -2),
                                    width: DimExpr(symbol: 1, offset: -2), scale: 1 / 255, qmin: 0, qmax: 255, slot: 2))
    p.slotCount = 3
    p.constants.append(Constant(kind: .int8, values: pseudoRandom(144, -127...127, seed: 23)))
    guard case let .conv(_, _, _, w, bits, b, r, _) = p.instructions[1] else { fatalError() }
    p.instructions[1] = .conv(dst: 3, src: 0, params: ConvParameters(outputChannels: 12, inputChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                                                     padTop: 0, padLeft: 0, padBottom: 0, padRight: 0),
                              weights: w, weightBits: bits, bias: b, requant: r, padValues: nil)
    p.instructions.insert(.conv(dst: 1, src: 3, params: ConvParameters(outputChannels: 12, inputChannels: 12, kernelHeight: 1, kernelWidth: 1,
                                                                       padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
                                weights: 3, weightBits: 8, bias: b, requant: r, padValues: nil), at: 2)
    return p
}

final class ProgramTests: XCTestCase {
    func testTinyProgramBGRMatchesAnIndependentComputation() throws {
        let p = try decode(encode(tinyProgram()))
        let image = testImage(width: 5, height: 4, seed: 3)
        let out = try VirtualMachine(program: p).run(image)
        XCTAssertEqual(out.width, 10); XCTAssertEqual(out.height, 8)

        // Independently: planes in B,G,R order, the conv, DCR depth-to-space, back to RGB.
        var x: [Int32] = []
        for c in 0..<3 { for y in 0..<4 { for xx in 0..<5 { x.append(Int32(image[xx, y, 2 - c])) } } }
        guard case let .conv(_, _, q, _, _, _, r, _) = p.instructions[1] else { return XCTFail() }
        let conv = referenceConv(x, c: 3, h: 4, w: 5, params: q, weights: p.constants[0].values, bias: p.constants[1].values,
                                 requant: r, pad: [30, 128, 250])
        var expected = RGBImage(width: 10, height: 8)
        for c in 0..<3 { for yy in 0..<8 { for xx in 0..<10 {
            let (i, j) = (yy % 2, xx % 2)
            let source = (i * 2 + j) * 3 + c
            expected[xx, yy, 2 - c] = UInt8(conv.values[(source * 4 + yy / 2) * 5 + xx / 2])
        } } }
        XCTAssertEqual(out, expected)
        XCTAssertGreaterThan(Set(out.pixels).count, 20, "not a constant image")

        // RGB order reads the image's channels directly: a different result on a colour image.
        let rgb = try VirtualMachine(program: tinyProgram(order: .rgb)).run(image)
        XCTAssertNotEqual(rgb, out)
    }

    func testRunRawKeepsEveryValue() throws {
        let p = tinyProgram()
        let image = testImage(width: 3, height: 3, seed: 4)
        let vm = try VirtualMachine(program: p)
        let raw = try vm.runRaw(image)
        XCTAssertEqual(raw.image, try vm.run(image))
        XCTAssertEqual(Set(raw.values.keys), [0, 1, 2])
        XCTAssertEqual(raw.values[1]?.count, 12 * 9)
        XCTAssertEqual(raw.values[0]?[0], Int32(image[0, 0, 2]))    // BGR: channel 0 is blue
        XCTAssertEqual(raw.values[2]?.count, 3 * 36)
    }

    func testEveryInstructionProgramRunsAndTheAliasedConvIsCorrect() throws {
        let p = try decode(encode(Fixtures.everyInstruction()))
        let vm = try VirtualMachine(program: p)
        let image = testImage(width: 7, height: 5, seed: 9)
        let raw = try vm.runRaw(image)
        XCTAssertEqual(raw.image.width, 14); XCTAssertEqual(raw.image.height, 10)
        XCTAssertEqual(raw.values[14]?.count, 4 * 3 * 4)             // strided: (5+1)/2 x (7+1)/2
        // c3 shares cc's slot: it must equal the conv of cc as kept before it was overwritten.
        guard case let .conv(_, _, q, w, _, b, r, _) = p.instructions[13] else { return XCTFail() }
        let ref = referenceConv(raw.values[10]!, c: 12, h: 5, w: 7, params: q, weights: p.constants[Int(w)].values,
                                bias: p.constants[Int(b)].values, requant: r, pad: nil)
        XCTAssertEqual(raw.values[11], ref.values)
        // The first conv with pad values and leaky multipliers, from the input planes.
        guard case let .conv(_, _, q1, w1, _, b1, r1, pad1) = p.instructions[1] else { return XCTFail() }
        let ref1 = referenceConv(raw.values[0]!, c: 3, h: 5, w: 7, params: q1, weights: p.constants[Int(w1)].values,
                                 bias: p.constants[Int(b1)].values, requant: r1, pad: p.constants[Int(pad1!)].values)
        XCTAssertEqual(raw.values[1], ref1.values)
        XCTAssertTrue(ref1.values.contains { $0 < 0 })
    }

    func testImageTooSmallIsAnError() throws {
        let vm = try VirtualMachine(program: decode(encode(shrinkingProgram())))
        XCTAssertEqual(try vm.run(testImage(width: 3, height: 3, seed: 1)).width, 6)
        XCTAssertThrowsError(try vm.run(testImage(width: 2, height: 5, seed: 1))) { e in
            XCTAssertTrue("\(e)".contains("a 2x5 image is too small: value valid would be 3x0"), "\(e)")
        }
    }

    func testInvalidProgramIsRejectedByTheVM() {
        var p = tinyProgram()
        p.slotCount = 0
        XCTAssertThrowsError(try VirtualMachine(program: p))
    }
}

/// A residual block as the compiler emits it: head conv (i16) → two body convs → add(head, body)
/// into the head's slot (in place), either operand order, adding or subtracting → a requantize
/// to i8 (srvm runs it in bands with the add; the body conv's buffer is dead after the add, so the
/// requantize must not be given it) → a conv that reads it → an add of a value with itself → output.
func residualProgram(convIsA: Bool, subtract: Bool) -> Program {
    let H = DimExpr(symbol: 0), W = DimExpr(symbol: 1)
    func v(_ n: String, _ t: ElementType, _ c: Int32, _ slot: Int32, _ q: ClosedRange<Int32>) -> ValueDescriptor {
        ValueDescriptor(name: n, type: t, channels: c, height: H, width: W, scale: 0.01, qmin: q.lowerBound, qmax: q.upperBound, slot: slot)
    }
    let values = [
        v("x", .u8, 3, 0, 0...255), v("head", .i16, 13, 1, -30000...30000), v("body", .i16, 13, 0, -30000...30000),
        v("sum", .i16, 13, 1, -30000...30000), v("body2", .u8, 13, 0, 0...255), v("diff", .u8, 13, 2, 0...255),
        v("rgb", .u8, 3, 0, 0...255), v("mid", .u8, 13, 2, 0...255), v("sum8", .i8, 13, 2, -127...127),
    ]
    let constants = [
        Constant(kind: .int8, values: pseudoRandom(13 * 3 * 9, -127...127, seed: 31)), Constant(kind: .int32, values: pseudoRandom(13, -900...900, seed: 32)),
        Constant(kind: .int8, values: pseudoRandom(13 * 13 * 9, -127...127, seed: 33)), Constant(kind: .int32, values: pseudoRandom(13, -900...900, seed: 34)),
        Constant(kind: .int4, values: pseudoRandom(3 * 13, -8...7, seed: 35)), Constant(kind: .int32, values: pseudoRandom(3, -90...90, seed: 36)),
    ]
    let pads = ConvParameters(outputChannels: 13, inputChannels: 3, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    let body = ConvParameters(outputChannels: 13, inputChannels: 13, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    let tail = ConvParameters(outputChannels: 3, inputChannels: 13, kernelHeight: 1, kernelWidth: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
    let perChannel = (0..<13).map { QuantMultiplier(0.8 + 0.05 * Double($0)) }
    let instructions: [Instruction] = [
        .inputPixels(dst: 0),
        .conv(dst: 1, src: 0, params: pads, weights: 0, weightBits: 8, bias: 1,
              requant: Requantization(positive: perChannel, clampMin: -30000, clampMax: 30000), padValues: nil),
        .conv(dst: 7, src: 1, params: body, weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: [QuantMultiplier(0.0001)], clampMin: 0, clampMax: 255), padValues: nil),
        .conv(dst: 2, src: 7, params: body, weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: [QuantMultiplier(0.003)], negative: [QuantMultiplier(0.0007)], clampMin: -30000, clampMax: 30000),
              padValues: nil),
        convIsA ? .add(dst: 3, a: 2, b: 1, leftShift: 15, multiplierA: QuantMultiplier(0.5), multiplierB: QuantMultiplier(0.37),
                       multiplierOut: QuantMultiplier(2.0 / 32768), subtract: subtract, clampMin: -30000, clampMax: 30000)
                : .add(dst: 3, a: 1, b: 2, leftShift: 15, multiplierA: QuantMultiplier(0.5), multiplierB: QuantMultiplier(0.37),
                       multiplierOut: QuantMultiplier(2.0 / 32768), subtract: subtract, clampMin: -30000, clampMax: 30000),
        .requantize(dst: 8, src: 3, requant: Requantization(positive: (0..<13).map { QuantMultiplier(0.004 + 0.0005 * Double($0)) },
                                                            clampMin: -127, clampMax: 127)),
        .conv(dst: 4, src: 8, params: body, weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: [QuantMultiplier(0.002)], clampMin: 0, clampMax: 255), padValues: nil),
        .add(dst: 5, a: 4, b: 4, leftShift: 20, multiplierA: QuantMultiplier(0.5), multiplierB: QuantMultiplier(0.25),
             multiplierOut: QuantMultiplier(3.0 / 1048576), subtract: true, clampMin: 0, clampMax: 255),
        .conv(dst: 6, src: 5, params: tail, weights: 4, weightBits: 4, bias: 5,
              requant: Requantization(positive: [QuantMultiplier(0.05)], clampMin: 0, clampMax: 255), padValues: nil),
        .outputPixels(src: 6),
    ]
    return rgbProgram("residual", values: values, constants: constants, instructions: instructions, slots: 3)
}

final class ResidualAndViewTests: XCTestCase {
    /// The every-instruction program's slice feeds only a concat: it is read in place, and the
    /// output is the reference's for every kernel set and thread count.
    func testASliceReadInPlaceComputesTheReferencePixels() throws {
        let p = Fixtures.everyInstruction()
        XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).viewSlices, 1)
        let image = testImage(width: 29, height: 19, seed: 8)
        let reference = try VirtualMachine(program: p, kernels: .reference, threads: 1).run(image)
        for set in [KernelSet.portable, .best] {
            for threads in [1, 2, 3] {
                XCTAssertEqual(try VirtualMachine(program: p, kernels: set, threads: threads).run(image), reference, "--kernels \(set) --threads \(threads)")
            }
        }
    }

    func testResidualAddsComputeTheReferencePixels() throws {
        for convIsA in [false, true] {
            for subtract in [false, true] {
                let p = residualProgram(convIsA: convIsA, subtract: subtract)
                let image = testImage(width: 23, height: 17, seed: 5)
                XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).bandedRequantizeCount, 1)
                let reference = try assertKernelSetsMatchTheReference(p, image, sets: [.portable, .best], threads: [1, 3],
                                                                      "convIsA \(convIsA) subtract \(subtract) ")
                // runRaw keeps every value on the file's slots: the same pixels again.
                XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).runRaw(image).image, reference)
            }
        }
    }
}

/// IMDN's split pattern: a conv's output is sliced; one slice feeds a conv at once, the other is
/// read by a concat after two more convs. The file lets the next convs reuse the sliced value's
/// slot (as the compiler does); the prepared engine reads both slices in place and keeps their
/// source alive. Grouped convs with 4 narrow groups (run dense) are on the path too, and a conv
/// that stores its result straight into the concat's channels.
func splitProgram() -> Program {
    typealias F = Fixtures
    let values = [
        F.value("x", .u8, 3, slot: 0),                              // 0
        F.value("wide", .i16, 24, slot: 1, q: -20000...20000),       // 1
        F.value("keep", .i16, 5, slot: 2, q: -20000...20000),        // 2: slice 0..<5 of wide
        F.value("rest", .i16, 19, slot: 3, q: -20000...20000),       // 3: slice 5..<24 of wide
        F.value("b1", .i8, 16, slot: 1, q: -127...127),              // 4 (reuses wide's slot)
        F.value("b2", .u8, 16, slot: 0),                             // 5
        F.value("cat", .u8, 21, slot: 1),                            // 6
        F.value("rgb", .u8, 3, slot: 0),                             // 7
        F.value("rest8", .i8, 19, slot: 4, q: -127...127),           // 8: rest requantized (run inside conv 1's rows)
    ]
    let constants = [
        Constant(kind: .int8, values: pseudoRandom(24 * 3 * 9, -127...127, seed: 41)), Constant(kind: .int32, values: pseudoRandom(24, -900...900, seed: 42)),
        Constant(kind: .int8, values: pseudoRandom(16 * 19 * 9, -127...127, seed: 43)), Constant(kind: .int32, values: pseudoRandom(16, -900...900, seed: 44)),
        Constant(kind: .int8, values: pseudoRandom(16 * 4 * 9, -127...127, seed: 45)), Constant(kind: .int32, values: pseudoRandom(16, -900...900, seed: 46)),
        Constant(kind: .int4, values: pseudoRandom(3 * 21, -8...7, seed: 47)), Constant(kind: .int32, values: pseudoRandom(3, -90...90, seed: 48)),
    ]
    func p3(_ o: Int32, _ i: Int32, group: Int32 = 1) -> ConvParameters {
        ConvParameters(outputChannels: o, inputChannels: i, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, group: group)
    }
    let tail = ConvParameters(outputChannels: 3, inputChannels: 21, kernelHeight: 1, kernelWidth: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
    let instructions: [Instruction] = [
        .inputPixels(dst: 0),
        .conv(dst: 1, src: 0, params: p3(24, 3), weights: 0, weightBits: 8, bias: 1,
              requant: Requantization(positive: [QuantMultiplier(3.0)], clampMin: -20000, clampMax: 20000), padValues: nil),
        .sliceChannels(dst: 2, src: 1, start: 0),
        .sliceChannels(dst: 3, src: 1, start: 5),
        .requantize(dst: 8, src: 3, requant: Requantization(positive: (0..<19).map { QuantMultiplier(0.004 + 0.0003 * Double($0)) },
                                                            clampMin: -127, clampMax: 127)),
        .conv(dst: 4, src: 8, params: p3(16, 19), weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: [QuantMultiplier(0.003)], negative: [QuantMultiplier(0.0008)], clampMin: -127, clampMax: 127), padValues: nil),
        .conv(dst: 5, src: 4, params: p3(16, 16, group: 4), weights: 4, weightBits: 8, bias: 5,
              requant: Requantization(positive: [QuantMultiplier(0.02)], clampMin: 0, clampMax: 255), padValues: nil),
        .concat(dst: 6, sources: [2, 5], multipliers: [QuantMultiplier(0.01), nil], clampMin: 0, clampMax: 255),
        .conv(dst: 7, src: 6, params: tail, weights: 6, weightBits: 4, bias: 7,
              requant: Requantization(positive: [QuantMultiplier(0.1)], clampMin: 0, clampMax: 255), padValues: nil),
        .outputPixels(src: 7),
    ]
    return rgbProgram("split", values: values, constants: constants, instructions: instructions, slots: 5)
}

final class SplitViewTests: XCTestCase {
    func testSlicesReadByConvsAndALateConcatComputeTheReferencePixels() throws {
        let p = splitProgram()
        XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).viewSlices, 2)
        // b2 (a conv, copied by the concat, clamp 0...255 inside the concat's) is stored in place;
        // the requantized slice is copied into the channels before it.
        XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).concatPartsStoredByConvs, 1)
        // The slice's requantize runs inside the first conv's rows.
        XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).bandedRequantizeCount, 1)
        let image = testImage(width: 31, height: 13, seed: 9)
        let reference = try assertKernelSetsMatchTheReference(p, image, sets: [.portable, .best], threads: [1, 3])
        XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).runRaw(image).image, reference)
    }
}

/// EDSR's upsampler: conv (3 -> 32·b²) → depth_to_space (CRD or DCR) → conv → output. The
/// first conv stores through the depth_to_space (its outputs permuted to DCR order).
func upsamplerProgram(block b: Int32, crd: Bool) -> Program {
    typealias F = Fixtures
    let up = DimExpr(symbol: 0, coefficient: b), upW = DimExpr(symbol: 1, coefficient: b)
    let values = [
        F.value("x", .u8, 3, slot: 0),
        F.value("wide", .i16, 32 * b * b, slot: 1, q: -20000...20000),
        F.value("shuffled", .i16, 32, up, upW, slot: 0, q: -20000...20000),
        F.value("rgb", .u8, 3, up, upW, slot: 1),
    ]
    let O = Int(32 * b * b)
    let constants = [
        Constant(kind: .int8, values: pseudoRandom(O * 3 * 9, -127...127, seed: 51)), Constant(kind: .int32, values: pseudoRandom(O, -900...900, seed: 52)),
        Constant(kind: .int8, values: pseudoRandom(3 * 32 * 9, -127...127, seed: 53)), Constant(kind: .int32, values: pseudoRandom(3, -900...900, seed: 54)),
    ]
    func p3(_ o: Int32, _ i: Int32) -> ConvParameters {
        ConvParameters(outputChannels: o, inputChannels: i, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    }
    let perChannel = (0..<O).map { QuantMultiplier(2.0 + 0.01 * Double($0)) }
    let negative = (0..<O).map { QuantMultiplier(0.5 + 0.003 * Double($0)) }
    let instructions: [Instruction] = [
        .inputPixels(dst: 0),
        .conv(dst: 1, src: 0, params: p3(Int32(O), 3), weights: 0, weightBits: 8, bias: 1,
              requant: Requantization(positive: perChannel, negative: negative, clampMin: -20000, clampMax: 20000), padValues: nil),
        .depthToSpace(dst: 2, src: 1, blockSize: b, crd: crd),
        .conv(dst: 3, src: 2, params: p3(3, 32), weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: [QuantMultiplier(0.00005)], clampMin: 0, clampMax: 255), padValues: nil),
        .outputPixels(src: 3),
    ]
    return rgbProgram("upsampler", scale: Int(b), values: values, constants: constants, instructions: instructions, slots: 2)
}

final class DepthToSpaceFoldTests: XCTestCase {
    func testAConvStoringThroughDepthToSpaceComputesTheReferencePixels() throws {
        for (b, crd) in [(Int32(2), true), (2, false), (3, true)] {
            let p = upsamplerProgram(block: b, crd: crd)
            XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).depthToSpaceFolds, 1)
            let image = testImage(width: 19, height: 11, seed: 10)
            let reference = try VirtualMachine(program: p, kernels: .reference, threads: 1).run(image)
            XCTAssertGreaterThan(Set(reference.pixels).count, 16, "a flat output would make the comparison vacuous")
            for set in [KernelSet.portable, .avx2, .best] {
                for threads in [1, 3] {
                    let out = try VirtualMachine(program: p, kernels: set, threads: threads).run(image)
                    let differing = zip(out.pixels, reference.pixels).filter { $0 != $1 }.count
                    XCTAssertEqual(differing, 0, "block \(b) crd \(crd) --kernels \(set) --threads \(threads)")
                }
            }
            XCTAssertTrue(try VirtualMachine(program: p, kernels: .best).runRaw(image).image == reference, "runRaw, block \(b) crd \(crd)")
        }
    }
}

final class RepeatedRunTests: XCTestCase {
    /// A VM reuses its activation buffers from run to run: stale values from another image
    /// must never reach an output (every fixture, alternating images of one size).
    func testReusedBuffersComputeEachImagesReferencePixels() throws {
        let programs = [Fixtures.everyInstruction(), splitProgram(), upsamplerProgram(block: 2, crd: true), residualProgram(convIsA: true, subtract: false)]
        for p in programs {
            let images = [testImage(width: 21, height: 15, seed: 11), testImage(width: 21, height: 15, seed: 12)]
            let references = try images.map { try VirtualMachine(program: p, kernels: .reference, threads: 1).run($0) }
            XCTAssertNotEqual(references[0], references[1], p.metadata.modelName)
            let vm = try VirtualMachine(program: p, kernels: .best, threads: 2)
            for k in [0, 1, 0, 1] {
                XCTAssertTrue(try vm.run(images[k]) == references[k], "\(p.metadata.modelName), image \(k)")
            }
        }
    }
}

/// IMDN's contrast-aware attention: x − mean(x), its square, the mean of that, its square root,
/// and x scaled by it (broadcast operands of add and mul, reduce_mean over the whole image).
func contrastProgram(wide: Bool) -> Program {
    typealias F = Fixtures
    let t: ElementType = wide ? .i16 : .i8
    let q: ClosedRange<Int32> = wide ? -30000...30000 : -127...127
    let values = [
        F.value("x", .u8, 3, slot: 0),                       // 0
        F.value("f", t, 16, slot: 1, q: q),                  // 1
        F.value("mean", t, 16, F.one, F.one, slot: 2, q: q), // 2
        F.value("dev", t, 16, slot: 3, q: q),                // 3: f − mean
        F.value("sq", t, 16, slot: 4, q: 0...q.upperBound),  // 4: dev²
        F.value("var", t, 16, F.one, F.one, slot: 2, q: 0...q.upperBound), // 5
        F.value("std", .u8, 16, F.one, F.one, slot: 5),      // 6
        F.value("att", t, 16, slot: 3, q: q),                // 7: f · std
        F.value("rgb", .u8, 3, slot: 0),                     // 8
    ]
    let constants = [
        Constant(kind: .int8, values: pseudoRandom(16 * 3 * 9, -127...127, seed: 61)), Constant(kind: .int32, values: pseudoRandom(16, -3000...3000, seed: 62)),
        Constant(kind: .int8, values: pseudoRandom(3 * 16, -127...127, seed: 63)), Constant(kind: .int32, values: pseudoRandom(3, -90...90, seed: 64)),
    ]
    let head = ConvParameters(outputChannels: 16, inputChannels: 3, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    let tail = ConvParameters(outputChannels: 3, inputChannels: 16, kernelHeight: 1, kernelWidth: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
    let s = wide ? 1.0 / 256 : 1.0
    let instructions: [Instruction] = [
        .inputPixels(dst: 0),
        .conv(dst: 1, src: 0, params: head, weights: 0, weightBits: 8, bias: 1,
              requant: Requantization(positive: [QuantMultiplier(wide ? 0.3 : 0.002)], negative: [QuantMultiplier(wide ? 0.1 : 0.0007)],
                                      clampMin: q.lowerBound, clampMax: q.upperBound), padValues: nil),
        .reduceMean(dst: 2, src: 1, multiplier: QuantMultiplier(0.9 / 32768), clampMin: q.lowerBound, clampMax: q.upperBound),
        .add(dst: 3, a: 1, b: 2, leftShift: 15, multiplierA: QuantMultiplier(0.5), multiplierB: QuantMultiplier(0.45),
             multiplierOut: QuantMultiplier(2.0 / 32768), subtract: true, clampMin: q.lowerBound, clampMax: q.upperBound),
        .mul(dst: 4, a: 3, b: 3, multiplier: QuantMultiplier(wide ? 0.00001 : 0.02), clampMin: 0, clampMax: q.upperBound),
        .reduceMean(dst: 5, src: 4, multiplier: QuantMultiplier(1.0 / 32768), clampMin: 0, clampMax: q.upperBound),
        .sqrt(dst: 6, src: 5, multiplier: QuantMultiplier(wide ? 0.5 : 6.0), clampMin: 0, clampMax: 255),
        .mul(dst: 7, a: 1, b: 6, multiplier: QuantMultiplier(0.02), clampMin: q.lowerBound, clampMax: q.upperBound),
        .conv(dst: 8, src: 7, params: tail, weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: [QuantMultiplier(0.05 * s)], clampMin: 0, clampMax: 255), padValues: nil),
        .outputPixels(src: 8),
    ]
    return rgbProgram("contrast", values: values, constants: constants, instructions: instructions, slots: 6)
}

final class ContrastAttentionTests: XCTestCase {
    func testContrastAttentionComputesTheReferencePixels() throws {
        for wide in [false, true] {
            let p = contrastProgram(wide: wide)
            let image = testImage(width: 21, height: 29, seed: 12)
            // The variance must not sit at a clamp bound (then a wrong sum could go unseen).
            let variance = try VirtualMachine(program: p, kernels: .reference, threads: 1).runRaw(image).values[5]![0]
            XCTAssertTrue(variance > 4 && variance < (wide ? 15000 : 63), "variance \(variance)")
            let reference = try assertKernelSetsMatchTheReference(p, image, sets: [.portable, .best], threads: [1, 2, 3], "wide \(wide) ")
            XCTAssertEqual(try VirtualMachine(program: p, kernels: .best).runRaw(image).image, reference)
        }
    }
}

/// XLSR's head: sibling convs of one source stored side by side into a concat (3 -> 5, 8, 3
/// channels, LeakyReLU-style negative multipliers per tensor and per channel), then a fourth
/// of the same geometry whose clamp differs, so it stays on its own.
func siblingProgram() -> Program {
    typealias F = Fixtures
    let values = [
        F.value("x", .u8, 3, slot: 0),                        // 0
        F.value("h0", .i8, 5, slot: 1, q: -127...127),        // 1
        F.value("h1", .i8, 8, slot: 2, q: -127...127),        // 2
        F.value("h2", .i8, 3, slot: 3, q: -127...127),        // 3
        F.value("h3", .i8, 6, slot: 4, q: -100...100),        // 4
        F.value("cat", .i8, 22, slot: 5, q: -127...127),      // 5
        F.value("rgb", .u8, 3, slot: 6),                      // 6
    ]
    let counts: [Int32] = [5, 8, 3, 6]
    var constants: [Constant] = []
    for (k, o) in counts.enumerated() {
        constants.append(Constant(kind: .int8, values: pseudoRandom(Int(o) * 3 * 9, -127...127, seed: UInt64(60 + 2 * k))))
        constants.append(Constant(kind: .int32, values: pseudoRandom(Int(o), -2000...2000, seed: UInt64(61 + 2 * k))))
    }
    constants.append(Constant(kind: .int8, values: pseudoRandom(3 * 22, -127...127, seed: 70)))
    constants.append(Constant(kind: .int32, values: pseudoRandom(3, -90...90, seed: 71)))
    func p3(_ o: Int32) -> ConvParameters {
        ConvParameters(outputChannels: o, inputChannels: 3, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    }
    let perChannel = (0..<8).map { QuantMultiplier(0.002 + 0.0007 * Double($0)) }
    let requants = [
        Requantization(positive: [QuantMultiplier(0.004)], negative: [QuantMultiplier(0.001)], clampMin: -127, clampMax: 127),
        Requantization(positive: perChannel, negative: perChannel.map { QuantMultiplier($0.real / 3) }, clampMin: -127, clampMax: 127),
        Requantization(positive: [QuantMultiplier(0.006)], negative: [QuantMultiplier(0.002)], clampMin: -127, clampMax: 127),
        Requantization(positive: [QuantMultiplier(0.005)], negative: [QuantMultiplier(0.001)], clampMin: -100, clampMax: 100),
    ]
    var instructions: [Instruction] = [.inputPixels(dst: 0)]
    for k in 0..<4 {
        instructions.append(.conv(dst: ValueID(k + 1), src: 0, params: p3(counts[k]), weights: ConstantID(2 * k), weightBits: 8,
                                  bias: ConstantID(2 * k + 1), requant: requants[k], padValues: nil))
    }
    let tail = ConvParameters(outputChannels: 3, inputChannels: 22, kernelHeight: 1, kernelWidth: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
    instructions += [
        .concat(dst: 5, sources: [1, 2, 3, 4], multipliers: [nil, nil, nil, nil], clampMin: -127, clampMax: 127),
        .conv(dst: 6, src: 5, params: tail, weights: 8, weightBits: 8, bias: 9,
              requant: Requantization(positive: [QuantMultiplier(0.05)], clampMin: 0, clampMax: 255), padValues: nil),
        .outputPixels(src: 6),
    ]
    return rgbProgram("siblings", values: values, constants: constants, instructions: instructions, slots: 7)
}

final class SiblingConvTests: XCTestCase {
    func testSiblingConvsRunAsOneAndComputeTheReferencePixels() throws {
        let p = siblingProgram()
        let vm = try VirtualMachine(program: p, kernels: .best)
        XCTAssertEqual(vm.concatPartsStoredByConvs, 4)
        XCTAssertEqual(vm.siblingConvGroups, [1: [1, 2, 3]], "the fourth conv's clamp differs: it runs alone")
        let image = testImage(width: 37, height: 11, seed: 5)
        // Every kernel set this CPU runs (the fused conv takes each set's tiles).
        let reference = try assertKernelSetsMatchTheReference(p, image, sets: kernelSetsThisCPURuns(p), threads: [1, 3])
        // runRaw keeps every value, so the siblings run one by one there.
        let raw = try VirtualMachine(program: p, kernels: .best).runRaw(image)
        XCTAssertEqual(raw.image, reference)
    }
}

/// XLSR's Gblock: a 32 -> 32 conv in 4 groups of 8 on an int16 source, per-channel negative
/// multipliers, pad values, and a requantize of its result right after it (run in its bands).
func groupedProgram() -> Program {
    typealias F = Fixtures
    let values = [
        F.value("x", .u8, 3, slot: 0),                          // 0
        F.value("wide", .i16, 32, slot: 1, q: -20000...20000),  // 1
        F.value("g", .i16, 32, slot: 2, q: -30000...30000),     // 2
        F.value("g8", .i8, 32, slot: 3, q: -127...127),         // 3
        F.value("rgb", .u8, 3, slot: 0),                        // 4
    ]
    let constants = [
        Constant(kind: .int8, values: pseudoRandom(32 * 3 * 9, -127...127, seed: 80)), Constant(kind: .int32, values: pseudoRandom(32, -900...900, seed: 81)),
        Constant(kind: .int8, values: pseudoRandom(32 * 8 * 9, -127...127, seed: 82)), Constant(kind: .int32, values: pseudoRandom(32, -9000...9000, seed: 83)),
        Constant(kind: .int32, values: pseudoRandom(32, -300...300, seed: 84)),
        Constant(kind: .int8, values: pseudoRandom(3 * 32, -127...127, seed: 85)), Constant(kind: .int32, values: pseudoRandom(3, -90...90, seed: 86)),
    ]
    func p3(_ o: Int32, _ i: Int32, group: Int32 = 1) -> ConvParameters {
        ConvParameters(outputChannels: o, inputChannels: i, kernelHeight: 3, kernelWidth: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, group: group)
    }
    let tail = ConvParameters(outputChannels: 3, inputChannels: 32, kernelHeight: 1, kernelWidth: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
    let positive = (0..<32).map { QuantMultiplier(0.0004 + 0.00003 * Double($0)) }
    let instructions: [Instruction] = [
        .inputPixels(dst: 0),
        .conv(dst: 1, src: 0, params: p3(32, 3), weights: 0, weightBits: 8, bias: 1,
              requant: Requantization(positive: [QuantMultiplier(3.0)], clampMin: -20000, clampMax: 20000), padValues: nil),
        .conv(dst: 2, src: 1, params: p3(32, 32, group: 4), weights: 2, weightBits: 8, bias: 3,
              requant: Requantization(positive: positive, negative: positive.map { QuantMultiplier($0.real / 5) }, clampMin: -30000, clampMax: 30000),
              padValues: 4),
        .requantize(dst: 3, src: 2, requant: Requantization(positive: [QuantMultiplier(0.01)], clampMin: -127, clampMax: 127)),
        .conv(dst: 4, src: 3, params: tail, weights: 5, weightBits: 8, bias: 6,
              requant: Requantization(positive: [QuantMultiplier(0.08)], clampMin: 0, clampMax: 255), padValues: nil),
        .outputPixels(src: 4),
    ]
    return rgbProgram("grouped", values: values, constants: constants, instructions: instructions, slots: 4)
}

final class GroupPairTests: XCTestCase {
    func testGroupedConvAsPairsOfGroupsComputesTheReferencePixels() throws {
        let p = groupedProgram()
        let image = testImage(width: 41, height: 9, seed: 12)
        let sets = kernelSetsThisCPURuns(p)
        let reference = try assertKernelSetsMatchTheReference(p, image, sets: sets, threads: [1, 3])
        for set in sets {
            let vm = try VirtualMachine(program: p, kernels: set)
            if set == .amx { XCTAssertEqual(vm.groupPairConvs, 1, "the grouped conv runs as two convs of two groups") }
            XCTAssertEqual(try vm.runRaw(image).image, reference, "--kernels \(set), every value kept")
        }
        if (try? VirtualMachine(program: p, kernels: .amx)) == nil { print("GroupPairTests: no AMX on this CPU; the pairs of groups (AMX only) not run") }
    }
}
