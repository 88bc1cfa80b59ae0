/// The opcode table of the .qsr file (SPEC.md §5.4), derived from `Instruction` in this one
/// place: the number each instruction is stored under and its mnemonic.
public enum Opcode: UInt16, CaseIterable, Sendable {
    case inputPixels = 1, conv = 2, requantize = 3, add = 4, mul = 5, concat = 6
    case sliceChannels = 7, depthToSpace = 8, reduceMean = 9, sqrt = 10, lookup = 11, outputPixels = 12

    public var mnemonic: String {
        switch self {
        case .inputPixels: return "input_pixels"
        case .conv: return "conv"
        case .requantize: return "requantize"
        case .add: return "add"
        case .mul: return "mul"
        case .concat: return "concat"
        case .sliceChannels: return "slice_channels"
        case .depthToSpace: return "depth_to_space"
        case .reduceMean: return "reduce_mean"
        case .sqrt: return "sqrt"
        case .lookup: return "lookup"
        case .outputPixels: return "output_pixels"
        }
    }
}

extension Instruction {
    public var opcode: Opcode {
        switch self {
        case .inputPixels: return .inputPixels
        case .conv: return .conv
        case .requantize: return .requantize
        case .add: return .add
        case .mul: return .mul
        case .concat: return .concat
        case .sliceChannels: return .sliceChannels
        case .depthToSpace: return .depthToSpace
        case .reduceMean: return .reduceMean
        case .sqrt: return .sqrt
        case .lookup: return .lookup
        case .outputPixels: return .outputPixels
        }
    }

    /// The values the instruction reads, in operand order.
    public var sources: [ValueID] {
        switch self {
        case .inputPixels: return []
        case let .conv(_, src, _, _, _, _, _, _): return [src]
        case let .requantize(_, src, _): return [src]
        case let .add(_, a, b, _, _, _, _, _, _, _): return [a, b]
        case let .mul(_, a, b, _, _, _): return [a, b]
        case let .concat(_, sources, _, _, _): return sources
        case let .sliceChannels(_, src, _): return [src]
        case let .depthToSpace(_, src, _, _): return [src]
        case let .reduceMean(_, src, _, _, _): return [src]
        case let .sqrt(_, src, _, _, _): return [src]
        case let .lookup(_, src, _): return [src]
        case let .outputPixels(src): return [src]
        }
    }

    /// The value the instruction writes (nil for output_pixels).
    public var destination: ValueID? {
        switch self {
        case let .inputPixels(dst): return dst
        case let .conv(dst, _, _, _, _, _, _, _): return dst
        case let .requantize(dst, _, _): return dst
        case let .add(dst, _, _, _, _, _, _, _, _, _): return dst
        case let .mul(dst, _, _, _, _, _): return dst
        case let .concat(dst, _, _, _, _): return dst
        case let .sliceChannels(dst, _, _): return dst
        case let .depthToSpace(dst, _, _, _): return dst
        case let .reduceMean(dst, _, _, _, _): return dst
        case let .sqrt(dst, _, _, _, _): return dst
        case let .lookup(dst, _, _): return dst
        case .outputPixels: return nil
        }
    }
}
