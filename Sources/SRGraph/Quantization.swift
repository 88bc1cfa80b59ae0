/// Quantization in the IR (SPEC.md §5.1). The middle stage expresses a quantized network as
/// a float graph with `FakeQuantize` nodes and fake-quantized weights, so the float engine
/// simulates it and `srcc dump --after PASS` shows every decision; lowering turns it into
/// integer instructions.

/// Q(x) = round(clamp(x, lo, α) / s) · s, lo = -α (signed) or 0 (unsigned).
public struct FakeQuant: Hashable, Sendable, CustomStringConvertible {
    public var bits: Int
    public var signed: Bool
    /// The clamp bound (PAMS's α); with `channelAlphas`, their maximum.
    public var alpha: Float
    /// One α per channel (axis 1) for tensors that only convs read: the lowering folds the
    /// channel scales into those convs' weights, so channels with small ranges keep their
    /// resolution. nil: one α for the tensor.
    public var channelAlphas: [Float]?
    /// Asymmetric unsigned grid: integer z in [0, qmax] stands for 0, so the grid covers
    /// [-z·s, α] with s = α / (qmax - z). For tensors that only convs read, which fold z into
    /// their bias and padding (SPEC.md §5.1); 0 for symmetric or plain unsigned grids.
    public var zeroPoint: Int

    public init(bits: Int, signed: Bool, alpha: Float, channelAlphas: [Float]? = nil, zeroPoint: Int = 0) {
        precondition(bits >= 2 && bits <= 16, "FakeQuant: \(bits) bits")
        precondition(zeroPoint == 0 || (!signed && channelAlphas == nil), "FakeQuant: a zero point needs a per-tensor unsigned grid")
        self.bits = bits; self.signed = signed; self.alpha = alpha; self.channelAlphas = channelAlphas; self.zeroPoint = zeroPoint
    }

    /// The grid of channel `c` as a per-tensor FakeQuant.
    public func channel(_ c: Int) -> FakeQuant {
        guard let a = channelAlphas else { return self }
        return FakeQuant(bits: bits, signed: signed, alpha: a[c])
    }

    public var qmax: Int { signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 }
    public var qmin: Int { signed ? -qmax : 0 }
    /// Real value of one step.
    public var scale: Float { alpha / Float(qmax - zeroPoint) }

    /// The grid's step s and clamp range [lo, α] as `apply` computes them (SIMD kernels that
    /// must match `apply` bit for bit take them from here).
    @inlinable
    public var clampAndStep: (lo: Float, alpha: Float, step: Float) {
        let levels = signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1
        let s = alpha / Float(levels - zeroPoint)
        return (signed ? -alpha : -Float(zeroPoint) * s, alpha, s)
    }

    @inlinable
    public func apply(_ x: Float) -> Float {
        if x.isNaN { return x }
        let (lo, alpha, s) = clampAndStep
        return (Swift.min(Swift.max(x, lo), alpha) / s).roundedHalfAwayFromZero * s
    }

    public var description: String {
        "\(signed ? "s" : "u")\(bits) alpha=\(formatFloat(alpha))" + (channelAlphas.map { " per-channel[\($0.count)]" } ?? "")
            + (zeroPoint != 0 ? " zero_point=\(zeroPoint)" : "")
    }
}

/// How a conv's weights were quantized: the integer weight is round(w / scale[o]).
public struct WeightQuantization: Hashable, Sendable {
    public var bits: Int
    /// One scale for the layer, or one per output channel.
    public var scales: [Float]
    /// ODM: the clipping range is gamma x statistic (99th percentile of |W|); nil for max|W|.
    public var gamma: Float?
    public var statistic: Float?

    public init(bits: Int, scales: [Float], gamma: Float? = nil, statistic: Float? = nil) {
        self.bits = bits; self.scales = scales; self.gamma = gamma; self.statistic = statistic
    }

    public var qmax: Int { (1 << (bits - 1)) - 1 }
    public func scale(channel o: Int) -> Float { scales.count == 1 ? scales[0] : scales[o] }

    public var text: String {
        var t = "wbits=\(bits) wscale=" + (scales.count == 1 ? formatFloat(scales[0]) : "per-channel[\(scales.count)]")
        if let g = gamma { t += " gamma=\(formatFloat(g))" }
        if let s = statistic { t += " p99=\(formatFloat(s))" }
        return t
    }
}

/// Activation fused into a conv by canonicalization.
public enum ConvActivation: Hashable, Sendable {
    case relu
    case leakyRelu(alpha: Float)
    case clip(min: Float, max: Float)

    public func apply(_ v: Float) -> Float {
        switch self {
        case .relu: return v < 0 ? 0 : v
        case .leakyRelu(let a): return v < 0 ? a * v : v
        case .clip(let lo, let hi): return v.isNaN ? v : Swift.min(Swift.max(v, lo), hi)
        }
    }

    public var text: String {
        switch self {
        case .relu: return "relu"
        case .leakyRelu(let a): return "leaky_relu(\(formatFloat(a)))"
        case .clip(let lo, let hi): return "clip(\(formatFloat(lo)),\(formatFloat(hi)))"
        }
    }
}
