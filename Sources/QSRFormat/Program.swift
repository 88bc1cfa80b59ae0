import FixedPoint

/// A compiled integer program: what a .qsr file holds (SPEC.md §5.4) and what srvm runs.
/// The instruction set is defined once, here; the compiler's back end builds a `Program`,
/// the writer and reader serialize it, and the VM executes it.
public struct Program: Equatable, Sendable {
    public var metadata: ModelMetadata
    /// Every tensor the program touches (activations only; weights are constants).
    public var values: [ValueDescriptor]
    /// Weights, biases, requantization tables, lookup tables.
    public var constants: [Constant]
    public var instructions: [Instruction]
    /// Number of activation buffers; `ValueDescriptor.slot` indexes them (liveness-based reuse).
    public var slotCount: Int

    public init(metadata: ModelMetadata, values: [ValueDescriptor], constants: [Constant],
                instructions: [Instruction], slotCount: Int) {
        self.metadata = metadata; self.values = values; self.constants = constants
        self.instructions = instructions; self.slotCount = slotCount
    }
}

/// What srvm needs to feed and read the program like the source model.
public struct ModelMetadata: Equatable, Sendable {
    public enum ChannelOrder: UInt8, Sendable { case rgb = 0, bgr = 1 }
    public var modelName: String
    public var scale: Int
    public var channelOrder: ChannelOrder
    /// Model value of a full-scale pixel: 1 or 255.
    public var valueRange: Int
    public var inputName: String
    public var outputName: String
    /// Size of the float source model in bytes (for the compression figure).
    public var sourceBytes: Int
    /// Free-form key/value pairs (compiler version, bits, calibration set...).
    public var notes: [String: String]

    public init(modelName: String, scale: Int, channelOrder: ChannelOrder, valueRange: Int,
                inputName: String, outputName: String, sourceBytes: Int, notes: [String: String] = [:]) {
        self.modelName = modelName; self.scale = scale; self.channelOrder = channelOrder
        self.valueRange = valueRange; self.inputName = inputName; self.outputName = outputName
        self.sourceBytes = sourceBytes; self.notes = notes
    }
}

/// Element type of an activation buffer. 4-bit activations live in `i8`/`u8` buffers with a
/// narrower [qmin, qmax]; only weights are packed.
public enum ElementType: UInt8, Sendable, CaseIterable {
    case u8 = 1, i8 = 2, i16 = 3, i32 = 4
    public var byteWidth: Int { switch self { case .u8, .i8: return 1; case .i16: return 2; case .i32: return 4 } }
    public var range: ClosedRange<Int32> {
        switch self {
        case .u8: return 0...255
        case .i8: return -128...127
        case .i16: return -32768...32767
        case .i32: return .min ... .max
        }
    }
}

/// A dimension `floor((coefficient * S + offset) / divisor)` of symbol S (0 = input height,
/// 1 = input width), or a constant (`symbol` nil). Same family as the IR's symbolic dims.
public struct DimExpr: Equatable, Sendable {
    public var symbol: UInt8?
    public var coefficient: Int32
    public var offset: Int32
    public var divisor: Int32
    public init(symbol: UInt8?, coefficient: Int32 = 1, offset: Int32 = 0, divisor: Int32 = 1) {
        self.symbol = symbol; self.coefficient = coefficient; self.offset = offset; self.divisor = divisor
    }
    public static func constant(_ v: Int32) -> DimExpr { DimExpr(symbol: nil, coefficient: 0, offset: v, divisor: 1) }
    /// Value for input height `h` and width `w`; floor division.
    public func evaluate(height h: Int, width w: Int) -> Int {
        guard let s = symbol else { return Int(offset) }
        let n = Int(coefficient) * (s == 0 ? h : w) + Int(offset)
        let d = Int(divisor)
        return n >= 0 ? n / d : -((-n + d - 1) / d)
    }
}

/// An activation tensor: [channels, height, width] (batch 1), its integer type and
/// quantization (real value = q * scale), and the buffer it lives in.
public struct ValueDescriptor: Equatable, Sendable {
    public var name: String
    public var type: ElementType
    public var channels: Int32
    public var height: DimExpr
    public var width: DimExpr
    /// Real value of one integer step (for dumps and dequantization; the VM never uses it).
    public var scale: Float
    /// The range the producer clamps to (4-bit values: e.g. -7...7 or 0...15).
    public var qmin: Int32
    public var qmax: Int32
    public var slot: Int32
    public init(name: String, type: ElementType, channels: Int32, height: DimExpr, width: DimExpr,
                scale: Float, qmin: Int32, qmax: Int32, slot: Int32) {
        self.name = name; self.type = type; self.channels = channels; self.height = height; self.width = width
        self.scale = scale; self.qmin = qmin; self.qmax = qmax; self.slot = slot
    }
}

/// A constant: weights (int8, or int4 packed two per byte: low nibble first, two's complement),
/// int32 biases and multipliers, byte lookup tables.
public struct Constant: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case int4 = 1, int8 = 2, int32 = 3, uint8 = 4 }
    public var kind: Kind
    /// Logical element count (for int4: number of 4-bit values).
    public var count: Int
    /// Values widened to Int32 (the file stores them packed per `kind`).
    public var values: [Int32]
    public init(kind: Kind, values: [Int32]) { self.kind = kind; self.count = values.count; self.values = values }
}

/// Index of a value in `Program.values` / a constant in `Program.constants`.
public typealias ValueID = Int32
public typealias ConstantID = Int32

/// Per-output-channel requantization: one multiplier per channel (or one for all), and an
/// optional second set applied to negative accumulators (LeakyReLU / PReLU folded in).
public struct Requantization: Equatable, Sendable {
    public var positive: [QuantMultiplier]
    public var negative: [QuantMultiplier]?
    public var clampMin: Int32
    public var clampMax: Int32
    /// Added after the multiply, before the clamp: the zero point of an asymmetric u8/u4 grid.
    public var offset: Int32
    public init(positive: [QuantMultiplier], negative: [QuantMultiplier]? = nil, clampMin: Int32, clampMax: Int32, offset: Int32 = 0) {
        self.positive = positive; self.negative = negative; self.clampMin = clampMin; self.clampMax = clampMax
        self.offset = offset
    }

    /// The multiplier for channel `c` and accumulator sign.
    @inlinable public func multiplier(channel c: Int, accumulator: Int32) -> QuantMultiplier {
        if accumulator < 0, let n = negative { return n.count == 1 ? n[0] : n[c] }
        return positive.count == 1 ? positive[0] : positive[c]
    }
}

public struct ConvParameters: Equatable, Sendable {
    public var outputChannels: Int32
    public var inputChannels: Int32
    public var kernelHeight: Int32, kernelWidth: Int32
    public var strideY: Int32, strideX: Int32
    public var padTop: Int32, padLeft: Int32, padBottom: Int32, padRight: Int32
    public var dilationY: Int32, dilationX: Int32
    public var group: Int32
    public init(outputChannels: Int32, inputChannels: Int32, kernelHeight: Int32, kernelWidth: Int32,
                strideY: Int32 = 1, strideX: Int32 = 1, padTop: Int32, padLeft: Int32, padBottom: Int32, padRight: Int32,
                dilationY: Int32 = 1, dilationX: Int32 = 1, group: Int32 = 1) {
        self.outputChannels = outputChannels; self.inputChannels = inputChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideY = strideY; self.strideX = strideX
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        self.dilationY = dilationY; self.dilationX = dilationX; self.group = group
    }
}

/// The instruction set. Semantics are in SPEC.md §5.3; every integer op reads and writes
/// whole [C,H,W] tensors. `requantize`, the rounding helpers and the clamp are FixedPoint's.
public enum Instruction: Equatable, Sendable {
    /// dst (u8 [3,H,W]) = the input image's pixels, channels in the metadata's order.
    case inputPixels(dst: ValueID)
    /// acc[o,y,x] = bias[o] + Σ w[o,c,ky,kx] · X[g(o)·Cg + c, y·sy − pt + ky·dy, x·sx − pl + kx·dx],
    /// X = padValue[c] outside the input (0 when `padValues` is nil);
    /// dst = clamp(requantize(acc, M(o, sign acc)) + offset, clampMin, clampMax).
    /// Weights are [O, C/group, kh, kw]; `weightBits` 4 or 8.
    case conv(dst: ValueID, src: ValueID, params: ConvParameters, weights: ConstantID, weightBits: UInt8,
              bias: ConstantID, requant: Requantization, padValues: ConstantID?)
    /// dst[c,y,x] = clamp(requantize(src[c,y,x], M(c, sign src)) + offset, lo, hi). Changes scale or bits,
    /// applies Relu/LeakyRelu/PRelu/Clip in the integer domain.
    case requantize(dst: ValueID, src: ValueID, requant: Requantization)
    /// dst = clamp(requantize(requantize(a·2^L, Ma) ± requantize(b·2^L, Mb), Mout), lo, hi);
    /// b is [C,H,W] or [C,1,1] (broadcast). `subtract` negates b's term.
    case add(dst: ValueID, a: ValueID, b: ValueID, leftShift: UInt8, multiplierA: QuantMultiplier,
             multiplierB: QuantMultiplier, multiplierOut: QuantMultiplier, subtract: Bool, clampMin: Int32, clampMax: Int32)
    /// dst = clamp(requantize(a · b, M), lo, hi); b is [C,H,W] or [C,1,1] (broadcast).
    case mul(dst: ValueID, a: ValueID, b: ValueID, multiplier: QuantMultiplier, clampMin: Int32, clampMax: Int32)
    /// Channel concatenation; each source requantized by its multiplier (nil: copied as is).
    case concat(dst: ValueID, sources: [ValueID], multipliers: [QuantMultiplier?], clampMin: Int32, clampMax: Int32)
    /// dst = src channels [start, start + dst.channels).
    case sliceChannels(dst: ValueID, src: ValueID, start: Int32)
    /// y[c, h·b+i, w·b+j] = x[(i·b + j)·C' + c] (DCR) or x[c·b² + i·b + j] (CRD).
    case depthToSpace(dst: ValueID, src: ValueID, blockSize: Int32, crd: Bool)
    /// dst[c,0,0] = clamp(requantize(roundingDivide(Σ_yx src[c,y,x]·2^15, H·W), M), lo, hi)  (Int64 sum;
    /// the mean keeps 15 fraction bits, so M = s_src / (s_dst·2^15); src is at most 16 bits).
    case reduceMean(dst: ValueID, src: ValueID, multiplier: QuantMultiplier, clampMin: Int32, clampMax: Int32)
    /// dst = clamp(roundedSquareRoot(max(0, requantize(src, M))), lo, hi): M = s_src / s_dst².
    case sqrt(dst: ValueID, src: ValueID, multiplier: QuantMultiplier, clampMin: Int32, clampMax: Int32)
    /// dst = table[src − src.qmin] for 8-bit sources (a 256-entry table; Sigmoid).
    case lookup(dst: ValueID, src: ValueID, table: ConstantID)
    /// The program's result: u8 [3, s·H, s·W] pixels, channels in the metadata's order.
    case outputPixels(src: ValueID)

    /// Stable mnemonic for dumps and errors (from the opcode table, Opcode.swift).
    public var mnemonic: String { opcode.mnemonic }
}
