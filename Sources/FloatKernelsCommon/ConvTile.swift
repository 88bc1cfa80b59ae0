/// One register tile of a stride-1 convolution: `outputChannels` (≤ the kernel's block) output
/// channels of one output row segment of `width` pixels, summed over all input channels and taps.
///
/// The input is addressed as [channel][row][x]: `input` points at (channel 0, tap row 0, first
/// pixel); tap (ky, kx) of pixel x reads `input + ky*rowStride + kx*kernelStepX + x`. The engine
/// points this either at a zero-padded strip (3x3 and other padded kernels) or straight at the
/// activation plane (1x1 without padding). Only the last vector is read with a mask, so reads
/// never go past `width` pixels of the last tap.
public struct ConvTile {
    public var input: UnsafePointer<Float>
    public var channelStride: Int
    public var rowStride: Int
    public var kernelStepX: Int
    public var inputChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    /// Packed [inputChannels][kernelHeight][kernelWidth][block], zero for channels past the end.
    public var weights: UnsafePointer<Float>
    /// `block` values (zeros when the conv has no bias).
    public var bias: UnsafePointer<Float>
    public var output: UnsafeMutablePointer<Float>
    public var outputChannelStride: Int
    public var outputChannels: Int
    public var width: Int
    public var activation: FusedActivation

    public init(input: UnsafePointer<Float>, channelStride: Int, rowStride: Int, kernelStepX: Int,
                inputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                output: UnsafeMutablePointer<Float>, outputChannelStride: Int, outputChannels: Int,
                width: Int, activation: FusedActivation) {
        self.input = input; self.channelStride = channelStride; self.rowStride = rowStride
        self.kernelStepX = kernelStepX; self.inputChannels = inputChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.weights = weights; self.bias = bias; self.output = output
        self.outputChannelStride = outputChannelStride; self.outputChannels = outputChannels
        self.width = width; self.activation = activation
    }
}

/// Activation applied to a conv's accumulators before the store. Relu, LeakyRelu and Clip are
/// all `min(max(alpha*min(a,0) + max(a,0), lo), hi)` (alpha 1 leaves negatives alone), so one
/// code path in every kernel covers them.
public struct FusedActivation: Sendable, Equatable {
    public var enabled: Bool
    public var alpha: Float
    public var lo: Float
    public var hi: Float

    public static let none = FusedActivation(enabled: false, alpha: 1, lo: -.infinity, hi: .infinity)
    public static let relu = FusedActivation(enabled: true, alpha: 0, lo: -.infinity, hi: .infinity)
    public static func leakyRelu(_ alpha: Float) -> FusedActivation {
        FusedActivation(enabled: true, alpha: alpha, lo: -.infinity, hi: .infinity)
    }
    public static func clip(_ lo: Float, _ hi: Float) -> FusedActivation {
        FusedActivation(enabled: true, alpha: 1, lo: lo, hi: hi)
    }

    /// Scalar form (portable kernels and tails); must agree with the vector forms.
    @inlinable
    public func apply(_ a: Float) -> Float {
        guard enabled else { return a }
        let v = alpha * Swift.min(a, 0) + Swift.max(a, 0)
        return Swift.min(Swift.max(v, lo), hi)
    }
}

/// Register blocking of each ISA's conv kernels: the engine packs weights in blocks of
/// `outputBlock` channels and cuts rows into tiles of at most `maxVectors * lanes` pixels.
public struct ConvKernelShape: Sendable {
    public var outputBlock: Int
    public var lanes: Int
    public var maxVectors: Int
    public var maxTileWidth: Int { lanes * maxVectors }
    public init(outputBlock: Int, lanes: Int, maxVectors: Int) {
        self.outputBlock = outputBlock; self.lanes = lanes; self.maxVectors = maxVectors
    }
}
