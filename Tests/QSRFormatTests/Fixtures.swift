import FixedPoint
import QSRFormat

/// Deterministic pseudo-random integers in `range` (an LCG; the tests only need variety).
func pseudoRandom(_ n: Int, _ range: ClosedRange<Int32>, seed: UInt64) -> [Int32] {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    let span = UInt64(Int64(range.upperBound) - Int64(range.lowerBound) + 1)
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Int32(Int64(range.lowerBound) + Int64((s >> 33) % span))
    }
}

enum Fixtures {
    static let H = DimExpr(symbol: 0), W = DimExpr(symbol: 1)
    static let one = DimExpr.constant(1)

    static func value(_ name: String, _ type: ElementType, _ c: Int32, _ h: DimExpr = H, _ w: DimExpr = W,
                      slot: Int32, q: ClosedRange<Int32>? = nil, scale: Float = 0.05) -> ValueDescriptor {
        let r = q ?? type.range
        return ValueDescriptor(name: name, type: type, channels: c, height: h, width: w, scale: scale,
                               qmin: r.lowerBound, qmax: r.upperBound, slot: slot)
    }

    /// A small but complete program using every instruction, both weight widths, per-channel
    /// and single multipliers, negative-side multipliers, pad values, broadcast add/mul,
    /// subtraction, a strided conv, a copied and a requantized concat source, and slot reuse
    /// (including a conv whose destination shares its source's slot).
    static func everyInstruction(order: ModelMetadata.ChannelOrder = .bgr) -> Program {
        let half = DimExpr(symbol: 0, coefficient: 1, offset: 1, divisor: 2)
        let halfW = DimExpr(symbol: 1, coefficient: 1, offset: 1, divisor: 2)
        let values = [
            value("x", .u8, 3, slot: 0, scale: 1.0 / 255),                       // 0
            value("c1", .i8, 8, slot: 1, q: -127...127),                          // 1
            value("c2", .i8, 8, slot: 0, q: -127...127),                          // 2 (reuses x's slot)
            value("a1", .i8, 8, slot: 2, q: -127...127),                          // 3
            value("m", .i8, 8, one, one, slot: 3, q: -127...127),                 // 4
            value("sq", .u8, 8, one, one, slot: 4),                               // 5
            value("mu", .i8, 8, slot: 5, q: -127...127),                          // 6
            value("rq", .u8, 8, slot: 1),                                         // 7
            value("lk", .u8, 8, slot: 6),                                         // 8
            value("s1", .u8, 4, slot: 7),                                         // 9
            value("cc", .u8, 12, slot: 8),                                        // 10
            value("c3", .u8, 12, slot: 8),                                        // 11 (same slot as its source)
            value("out", .u8, 3, DimExpr(symbol: 0, coefficient: 2), DimExpr(symbol: 1, coefficient: 2), slot: 9, scale: 1.0 / 255), // 12
            value("sub", .i8, 8, slot: 10, q: -127...127),                        // 13
            value("strided", .i16, 4, half, halfW, slot: 11, q: -4000...4000),    // 14
        ]
        let constants = [
            Constant(kind: .int8, values: pseudoRandom(8 * 3 * 3 * 3, -127...127, seed: 1)),   // 0 conv1 weights
            Constant(kind: .int32, values: pseudoRandom(8, -5000...5000, seed: 2)),            // 1 conv1 bias
            Constant(kind: .uint8, values: [128, 64, 0]),                                      // 2 conv1 pad values
            Constant(kind: .int4, values: pseudoRandom(8 * 4 * 3 * 3, -8...7, seed: 3)),       // 3 conv2 weights
            Constant(kind: .int32, values: pseudoRandom(8, -300...300, seed: 4)),              // 4 conv2 bias
            Constant(kind: .uint8, values: (0..<256).map { Int32(255 - $0) }),                 // 5 lookup table
            Constant(kind: .int8, values: pseudoRandom(12 * 12, -127...127, seed: 5)),         // 6 conv3 weights
            Constant(kind: .int32, values: pseudoRandom(12, -2000...2000, seed: 6)),           // 7 conv3 bias
            Constant(kind: .int4, values: pseudoRandom(4 * 8 * 3 * 3, -8...7, seed: 7)),       // 8 strided weights
            Constant(kind: .int32, values: [1, -2, 3, -4]),                                    // 9 strided bias
            Constant(kind: .int4, values: [-8, 7, -1, 0, 3, -3, 5]),                           // 10 odd int4 count (unused)
        ]
        let perChannel = (0..<8).map { QuantMultiplier(0.001 * Double($0 + 1)) }
        let leaky = perChannel.map { QuantMultiplier($0.real * 0.1) }
        let instructions: [Instruction] = [
            .inputPixels(dst: 0),
            .conv(dst: 1, src: 0, params: ConvParameters(outputChannels: 8, inputChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                                         padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
                  weights: 0, weightBits: 8, bias: 1,
                  requant: Requantization(positive: perChannel, negative: leaky, clampMin: -127, clampMax: 127), padValues: 2),
            .conv(dst: 2, src: 1, params: ConvParameters(outputChannels: 8, inputChannels: 8, kernelHeight: 3, kernelWidth: 3,
                                                         padTop: 2, padLeft: 2, padBottom: 2, padRight: 2,
                                                         dilationY: 2, dilationX: 2, group: 2),
                  weights: 3, weightBits: 4, bias: 4,
                  requant: Requantization(positive: [QuantMultiplier(0.02)], clampMin: -127, clampMax: 127), padValues: nil),
            .conv(dst: 14, src: 1, params: ConvParameters(outputChannels: 4, inputChannels: 8, kernelHeight: 3, kernelWidth: 3,
                                                          strideY: 2, strideX: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
                  weights: 8, weightBits: 4, bias: 9,
                  requant: Requantization(positive: [QuantMultiplier(0.3)], negative: [QuantMultiplier(0.03)], clampMin: -4000, clampMax: 4000),
                  padValues: nil),
            .add(dst: 3, a: 1, b: 2, leftShift: 20, multiplierA: QuantMultiplier(0.5), multiplierB: QuantMultiplier(0.3),
                 multiplierOut: QuantMultiplier(2.0 / 1048576), subtract: false, clampMin: -127, clampMax: 127),
            .reduceMean(dst: 4, src: 3, multiplier: QuantMultiplier(0.9), clampMin: -127, clampMax: 127),
            .sqrt(dst: 5, src: 4, multiplier: QuantMultiplier(3.5), clampMin: 0, clampMax: 255),
            .mul(dst: 6, a: 3, b: 5, multiplier: QuantMultiplier(0.04), clampMin: -127, clampMax: 127),
            .add(dst: 13, a: 6, b: 4, leftShift: 20, multiplierA: QuantMultiplier(0.25), multiplierB: QuantMultiplier(0.5),
                 multiplierOut: QuantMultiplier(4.0 / 1048576), subtract: true, clampMin: -127, clampMax: 127),
            .requantize(dst: 7, src: 6, requant: Requantization(positive: [QuantMultiplier(1.7)], clampMin: 0, clampMax: 255)),
            .lookup(dst: 8, src: 7, table: 5),
            .sliceChannels(dst: 9, src: 8, start: 2),
            .concat(dst: 10, sources: [9, 8], multipliers: [QuantMultiplier(0.75), nil], clampMin: 0, clampMax: 255),
            .conv(dst: 11, src: 10, params: ConvParameters(outputChannels: 12, inputChannels: 12, kernelHeight: 1, kernelWidth: 1,
                                                          padTop: 0, padLeft: 0, padBottom: 0, padRight: 0),
                  weights: 6, weightBits: 8, bias: 7,
                  requant: Requantization(positive: (0..<12).map { QuantMultiplier(0.0005 * Double($0 + 3)) }, clampMin: 0, clampMax: 255),
                  padValues: nil),
            .depthToSpace(dst: 12, src: 11, blockSize: 2, crd: true),
            .outputPixels(src: 12),
        ]
        let meta = ModelMetadata(modelName: "every-op", scale: 2, channelOrder: order, valueRange: 255, inputName: "input",
                                 outputName: "output", sourceBytes: 123_456, notes: ["bits": "w4a8", "compiler": "srcc test", "é": "ü"])
        return Program(metadata: meta, values: values, constants: constants, instructions: instructions, slotCount: 12)
    }
}
