/// The operand format of a prepared conv's inner product (SPEC.md §5.6).
public enum ConvMicroKind: Sendable {
    /// s16 x s16 pairs (vpmaddwd): a step is 2 input channels. Exact for every operand.
    case pair
    /// u8 x s8 quads (vpmaddubsw) with s16 partial sums flushed every `flushInterval` steps;
    /// a step is 4 input channels. Only where the compiler-proven operand bounds allow it.
    case quadUnsigned
    /// Signed i8 sources: |x| is the unsigned operand and x's sign moves onto the weight.
    case quadSigned
    /// Signed i8 sources read as the unsigned byte x + o (`ConvMicroArgs.sourceOffset`), with
    /// o·Σw folded out of the bias at prepare time (int32 sums wrap, so this is exact): o = 128
    /// for dot products that take any u8 x s8 quad (vpdpbusd); o = −(lower bound) for
    /// vpmaddubsw on small signed sources (4-bit [−7, 7] is read as [0, 14]).
    case quadOffset

    /// Input channels one step consumes.
    public var channelsPerStep: Int { self == .pair ? 2 : 4 }
    /// Bytes of one input element in the operand format.
    public var elementBytes: Int { self == .pair ? 2 : 1 }
}

/// One register tile's work: `pixels` output pixels (pointers [pixel][tap], each to the
/// pixel's channel vector or to the pad pixel) times `blocks` blocks of 8 output channels.
public struct ConvMicroArgs {
    public var pointers: UnsafePointer<UnsafeRawPointer>
    public var taps: Int
    /// Steps per tap (input channel pairs or quads of the group).
    public var steps: Int
    /// Bytes from a pixel's first channel to the group's first channel.
    public var channelOffset: Int
    /// Packed weights of this tile: [tap][step][block][8 channels][2 or 4 inputs].
    public var weights: UnsafeRawPointer
    /// Output: int32 sums [pixel][block·8 + lane] (bias not included).
    public var acc: UnsafeMutablePointer<Int32>
    /// Quad kinds: steps between s16 -> s32 flushes (≥ 1).
    public var flushInterval: Int
    /// .quadOffset: added (mod 256) to every source byte.
    public var sourceOffset: Int32

    public init(pointers: UnsafePointer<UnsafeRawPointer>, taps: Int, steps: Int, channelOffset: Int,
                weights: UnsafeRawPointer, acc: UnsafeMutablePointer<Int32>, flushInterval: Int, sourceOffset: Int32 = 0) {
        self.pointers = pointers; self.taps = taps; self.steps = steps; self.channelOffset = channelOffset
        self.weights = weights; self.acc = acc; self.flushInterval = flushInterval; self.sourceOffset = sourceOffset
    }
}

/// The portable tile: the same sums as the SIMD tiles, in plain Swift (any CPU).
public func convMicroPortable(_ kind: ConvMicroKind, pixels: Int, blocks: Int, _ a: ConvMicroArgs) {
    let k = kind.channelsPerStep
    let stepBytes = 32 * blocks
    for p in 0..<pixels {
        for lane in 0..<(blocks * 8) { a.acc[p * blocks * 8 + lane] = 0 }
        for t in 0..<a.taps {
            let x = a.pointers[p * a.taps + t] + a.channelOffset
            var w = a.weights + t * a.steps * stepBytes
            for s in 0..<a.steps {
                for b in 0..<blocks {
                    for lane in 0..<8 {
                        var sum: Int32 = 0
                        for j in 0..<k {
                            let wv: Int32, xv: Int32
                            switch kind {
                            case .pair:
                                wv = Int32(w.load(fromByteOffset: 32 * b + 4 * lane + 2 * j, as: Int16.self))
                                xv = Int32(x.loadUnaligned(fromByteOffset: 4 * s + 2 * j, as: Int16.self))
                            case .quadUnsigned:
                                wv = Int32(w.load(fromByteOffset: 32 * b + 4 * lane + j, as: Int8.self))
                                xv = Int32(x.load(fromByteOffset: 4 * s + j, as: UInt8.self))
                            case .quadSigned:
                                wv = Int32(w.load(fromByteOffset: 32 * b + 4 * lane + j, as: Int8.self))
                                xv = Int32(x.load(fromByteOffset: 4 * s + j, as: Int8.self))
                            case .quadOffset:
                                wv = Int32(w.load(fromByteOffset: 32 * b + 4 * lane + j, as: Int8.self))
                                xv = Int32(UInt8(truncatingIfNeeded: Int32(x.load(fromByteOffset: 4 * s + j, as: Int8.self)) &+ a.sourceOffset))
                            }
                            sum &+= wv &* xv
                        }
                        a.acc[p * blocks * 8 + b * 8 + lane] &+= sum
                    }
                }
                w += stepBytes
            }
        }
    }
}
