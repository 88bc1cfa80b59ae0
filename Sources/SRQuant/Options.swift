import SRGraph

/// How activation clamp bounds α are set from calibration statistics.
public enum AlphaPolicy: Hashable, Sendable {
    /// α = the largest |x| seen over the whole calibration set (MinMax).
    case max
    /// PAMS: α_t = β·α_{t−1} + (1−β)·mean over the batch of per-sample max|x|, with β = 0 at t = 0.
    case ema(beta: Double)
    /// α = the p-th percentile of |x| (p in 0...100), averaged over batches.
    case percentile(Double)

    /// MinMax for grids of 8 bits or more (their rounding error is small, clipping costs more),
    /// PAMS's EMA for narrower ones (rounding dominates, a tighter α pays).
    case auto(beta: Double)

    /// The default EMA for a calibration run of a few dozen batches: β = 0.9 averages roughly
    /// the last ten batches (the first batch keeps weight 0.9^T); PAMS's 0.9997 assumes 300k steps.
    public static let defaultEMA = AlphaPolicy.ema(beta: 0.9)
}

/// Everything the quantization passes need to know (the lead's `srcc compile` fills it).
public struct QuantizationOptions: Sendable {
    /// Bits of conv weights in the body.
    public var weightBits: Int = 8
    /// Bits of conv inputs in the body.
    public var activationBits: Int = 8
    /// Bits of the first and last convs' weights and inputs.
    public var edgeBits: Int = 8
    /// Bits of the edge convs' inputs when they differ from `edgeBits` (16 for 8-bit programs:
    /// the output side's grid is what the output error is most sensitive to).
    public var edgeActivationBits: Int? = nil
    /// One weight scale per output channel instead of one per layer. (Set5 loss, calibrated on
    /// Set14, mixed-precision at 35%: per channel / per layer: IMDN -b 8 0.033 / 0.068 dB,
    /// EDSR -b 8 0.002 / 0.004, XLSR -b 8 0.053 / 0.026; -b 4: XLSR 0.91 / 1.48.)
    public var perChannelWeights: Bool = true
    /// Conv node name → bits for that conv's weights and input.
    public var overrides: [String: Int] = [:]
    /// Model-ready [1,3,h,w] tensors in the model's convention.
    public var calibration: [Tensor] = []
    /// Model value of a full-scale pixel (1 or 255).
    public var inputRange: Float = 1
    public var alphaPolicy: AlphaPolicy = .auto(beta: 0.9)
    /// Calibration crops LR patches of this size (nil: whole images, one per batch).
    public var calibrationPatch: Int? = 48
    /// Patches per calibration batch (the mean over a batch of per-patch maxima feeds the EMA).
    public var calibrationBatchSize: Int = 8
    /// Number of calibration batches (patches are drawn round-robin over the calibration images).
    public var calibrationBatches: Int = 16
    /// Re-measure every activation range with the upstream grids already applied.
    public var sequentialCalibration: Bool = true
    /// One α per channel for narrow grids that only convs read (folded into their weights).
    public var perChannelActivations: Bool = true
    /// The wide-headroom pass gives grids wider than 8 bits (residual stream, attention
    /// arithmetic, 16-bit inputs) α × this: their spare resolution buys room for content the
    /// calibration images did not show (2: 1 bit of a 16-bit grid; 1: off). Measured at -b 8
    /// (fake-quant graph): EDSR-8 x2 on Set14, calibrated on Set5, loses 0.021 dB with 1, 0.011
    /// with 2, 0.010 with 4; IMDN x4 on Set5, calibrated on Set14, 0.037 / 0.039 / 0.054.
    public var wideGridHeadroom: Float = 2
    /// The channel-alpha pass keeps a grid's per-channel α only if one α per tensor would raise
    /// the calibration output error by at least this fraction (0: keep every per-channel grid).
    /// Measured one grid at a time at -b 8: EDSR-8 x2 ≤ 1.5% per grid, XLSR x3 ≥ 3.7%, IMDN x4
    /// ≥ 4.5% but for one grid at 1.3%.
    public var perChannelActivationGain: Double = 0.02
    /// Asymmetric (zero-point) grids for signed tensors that only convs read: the full
    /// 2^b levels over [min, max] instead of a symmetric range that wastes the short side.
    /// Off by default: measured neutral on EDSR-8 (-b 8: 0.200 vs 0.195 dB; -b 4: 3.21 vs 3.17).
    public var asymmetricActivations: Bool = false
    /// Extra conv work (fraction of all conv MACs) the mixed-precision pass may spend on giving
    /// the most sensitive body conv inputs the edge input width; 0 turns the pass off; nil: 25%
    /// for 8-bit bodies, 35% below (see `defaultWideInputBudget`).
    public var wideInputBudget: Double? = nil
    /// The budget when none is given, measured on the shared models (Set5, calibrated on Set14):
    /// IMDN x4 -b 8 loses 0.047 dB at 25% (target 0.05), XLSR -b 8 0.043 at 25% but 0.054 at 30%;
    /// IMDN -b 4 loses 1.51 dB at 25%, 1.31 at 35% (target 1.5).
    public static func defaultWideInputBudget(activationBits: Int) -> Double { activationBits >= 8 ? 0.25 : 0.35 }
    public var effectiveWideInputBudget: Double {
        wideInputBudget ?? Self.defaultWideInputBudget(activationBits: activationBits)
    }
    /// Calibration patches the mixed-precision pass measures output errors on.
    public var sensitivityPatches: Int = 16
    /// Refine each narrow conv-input α by the error at the reading convs' outputs (tune-alpha).
    public var tuneAlpha: Bool = true
    /// Candidate multipliers of the calibrated α for tune-alpha.
    /// (EDSR-8 -b 4, Set5: none 2.86 dB loss, [0.6, 0.8, 1, 1.25] 2.43, this grid 2.29.)
    public var alphaFactors: [Float] = [0.5, 0.65, 0.8, 1, 1.2, 1.45]
    /// Calibration patches tune-alpha measures the output error on.
    public var tuneAlphaPatches: Int = 8
    /// Greedy passes over the grids (each starts from the previous one's choices).
    public var tuneAlphaSweeps: Int = 1
    /// ODM weight clipping (layer-wise γ search); false: weights are clipped at max|W|.
    public var odm: Bool = true
    /// Candidate γ (multiples of the 99th percentile of |W|); empty: a default grid up to max/p99.
    public var gammaGrid: [Float] = []
    /// After ODM, fold the mean output error of each conv into its bias.
    /// (Off by default: it cost 0.04 dB on EDSR -b 4.)
    public var biasCorrection: Bool = false
    /// Error-compensating weight rounding (round-weights pass, OBQ/GPTQ); false: round to nearest.
    public var roundWeights: Bool = true
    /// Sampled im2col columns per conv (spread over `roundingPatches` calibration patches).
    public var roundingSamples: Int = 16384
    public var roundingPatches: Int = 32
    /// λ: the input covariance's diagonal is raised by λ·mean(diag) (keeps H invertible and
    /// the compensation from fitting the calibration patches too closely).
    public var roundingDamping: Double = 0.01
    /// Output positions sampled per conv for the ODM error.
    public var odmSamples: Int = 2048
    public var threads: Int? = nil
    /// Seed of the patch and sample positions (runs are deterministic).
    public var seed: UInt64 = 0x5eed

    public init() {}

    public init(weightBits: Int = 8, activationBits: Int = 8, edgeBits: Int = 8, perChannelWeights: Bool = true,
                overrides: [String: Int] = [:], calibration: [Tensor] = [], inputRange: Float = 1,
                alphaPolicy: AlphaPolicy = .auto(beta: 0.9), odm: Bool = true, gammaGrid: [Float] = [], threads: Int? = nil) {
        self.weightBits = weightBits; self.activationBits = activationBits; self.edgeBits = edgeBits
        self.perChannelWeights = perChannelWeights; self.overrides = overrides; self.calibration = calibration
        self.inputRange = inputRange; self.alphaPolicy = alphaPolicy; self.odm = odm; self.gammaGrid = gammaGrid
        self.threads = threads
    }
}

