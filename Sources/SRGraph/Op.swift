/// The IR's operator set, defined once. ONNX import maps onto it; shape inference,
/// the text dump, the float engine and (later) quantization and bytecode lowering all
/// switch over this enum, so adding an op is a compile error everywhere it must be handled.
///
/// Parameters that ONNX passes as constant tensor inputs (Clip bounds, Reshape targets,
/// Split sizes, Resize scales, ReduceMean axes) are attributes here: a compiler needs them
/// at compile time, and import rejects a model whose such inputs are not constant.
public enum Op: Hashable, Sendable {
    /// inputs: x [N,C,H,W], weight [M, C/group, kh, kw], optional bias [M].
    case conv(Conv2DAttributes)
    case relu
    case leakyRelu(alpha: Float)
    /// inputs: x, slope (broadcast to x, ONNX unidirectional broadcasting).
    case prelu
    case clip(min: Float, max: Float)
    case sigmoid
    case sqrt
    /// Elementwise with numpy broadcasting, two inputs.
    case add, sub, mul, div, pow
    case identity
    case concat(axis: Int)
    /// `sizes` nil: equal parts, one per output.
    case split(axis: Int, sizes: [Int]?)
    case depthToSpace(blockSize: Int, mode: DepthToSpaceMode)
    /// `axes` nil: all axes.
    case reduceMean(axes: [Int]?, keepDims: Bool)
    /// ONNX Reshape semantics: 0 copies the input dim (unless allowZero), -1 is inferred.
    case reshape(shape: [Int], allowZero: Bool)
    case transpose(perm: [Int])
    /// Nearest-neighbour resize by per-axis scale factors (output = floor(in * scale)).
    case resizeNearest(ResizeNearestAttributes)
    /// Q(x) of SPEC.md §5.1: the quantizer's marker of an integer grid, simulated in float.
    case fakeQuantize(FakeQuant)

    /// The op's name in dumps and errors (ONNX's spelling, so dumps of ONNX and compiled files line up).
    public var name: String {
        switch self {
        case .conv: return "Conv"
        case .relu: return "Relu"
        case .leakyRelu: return "LeakyRelu"
        case .prelu: return "PRelu"
        case .clip: return "Clip"
        case .sigmoid: return "Sigmoid"
        case .sqrt: return "Sqrt"
        case .add: return "Add"
        case .sub: return "Sub"
        case .mul: return "Mul"
        case .div: return "Div"
        case .pow: return "Pow"
        case .identity: return "Identity"
        case .concat: return "Concat"
        case .split: return "Split"
        case .depthToSpace: return "DepthToSpace"
        case .reduceMean: return "ReduceMean"
        case .reshape: return "Reshape"
        case .transpose: return "Transpose"
        case .resizeNearest: return "Resize"
        case .fakeQuantize: return "FakeQuantize"
        }
    }

    /// Attributes in a stable `key=value` order for the text dump.
    public var attributeText: String {
        func list<T>(_ a: [T]) -> String { "[" + a.map { "\($0)" }.joined(separator: ",") + "]" }
        switch self {
        case .conv(let a):
            var s = "kernel=\(list(a.kernel)) strides=\(list(a.strides)) dilations=\(list(a.dilations)) group=\(a.group)"
            s += a.autoPad == .notSet ? " pads=\(list(a.pads))" : " auto_pad=\(a.autoPad.rawValue)"
            if let act = a.activation { s += " activation=\(act.text)" }
            if let p = a.padValues { s += " pad_values=\(list(p.map(formatFloat)))" }
            if let q = a.weightQuantization { s += " " + q.text }
            return s
        case .leakyRelu(let alpha): return "alpha=\(formatFloat(alpha))"
        case .clip(let lo, let hi): return "min=\(formatFloat(lo)) max=\(formatFloat(hi))"
        case .concat(let axis): return "axis=\(axis)"
        case .split(let axis, let sizes): return "axis=\(axis)" + (sizes.map { " split=\(list($0))" } ?? "")
        case .depthToSpace(let b, let mode): return "blocksize=\(b) mode=\(mode.rawValue)"
        case .reduceMean(let axes, let keep): return (axes.map { "axes=\(list($0)) " } ?? "") + "keepdims=\(keep ? 1 : 0)"
        case .reshape(let shape, let allowZero): return "shape=\(list(shape))" + (allowZero ? " allowzero=1" : "")
        case .transpose(let perm): return "perm=\(list(perm))"
        case .resizeNearest(let a):
            return "scales=\(list(a.scales.map(formatFloat))) coordinate_transformation_mode=\(a.coordinateTransformation.rawValue) nearest_mode=\(a.nearestMode.rawValue)"
        case .fakeQuantize(let q):
            var t = "bits=\(q.bits) signed=\(q.signed ? 1 : 0) alpha=\(formatFloat(q.alpha))"
            if let a = q.channelAlphas { t += " channel_alphas=\(list(a.map(formatFloat)))" }
            if q.zeroPoint != 0 { t += " zero_point=\(q.zeroPoint)" }
            return t
        case .relu, .prelu, .sigmoid, .sqrt, .add, .sub, .mul, .div, .pow, .identity: return ""
        }
    }
}

public struct Conv2DAttributes: Hashable, Sendable {
    public var kernel: [Int]      // [kh, kw]
    public var strides: [Int]     // [sh, sw]
    public var pads: [Int]        // [top, left, bottom, right]
    public var dilations: [Int]   // [dh, dw]
    public var group: Int
    public var autoPad: AutoPad
    /// Activation applied to the result (set by canonicalization's conv+activation fusion).
    public var activation: ConvActivation?
    /// Value of the padding per input channel (nil: zeros). Canonicalization sets it when it
    /// folds an input normalisation (x - mean) / d into the conv, so borders stay exact.
    public var padValues: [Float]?
    /// How the weights were quantized (set by quantize-weights; the weights are then fake-quantized).
    public var weightQuantization: WeightQuantization?

    public init(kernel: [Int], strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0],
                dilations: [Int] = [1, 1], group: Int = 1, autoPad: AutoPad = .notSet,
                activation: ConvActivation? = nil, padValues: [Float]? = nil,
                weightQuantization: WeightQuantization? = nil) {
        self.kernel = kernel; self.strides = strides; self.pads = pads
        self.dilations = dilations; self.group = group; self.autoPad = autoPad
        self.activation = activation; self.padValues = padValues; self.weightQuantization = weightQuantization
    }

    /// Pads [top, left, bottom, right] for a concrete input size (resolves SAME_UPPER/LOWER).
    public func resolvedPads(inputHeight h: Int, inputWidth w: Int) -> [Int] {
        switch autoPad {
        case .notSet: return pads
        case .valid: return [0, 0, 0, 0]
        case .sameUpper, .sameLower:
            var before = [0, 0], after = [0, 0]
            for (i, size) in [h, w].enumerated() {
                let out = (size + strides[i] - 1) / strides[i]
                let total = max(0, (out - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - size)
                let small = total / 2, big = total - small
                if autoPad == .sameUpper { before[i] = small; after[i] = big } else { before[i] = big; after[i] = small }
            }
            return [before[0], before[1], after[0], after[1]]
        }
    }
}

public enum AutoPad: String, Hashable, Sendable {
    case notSet = "NOTSET", sameUpper = "SAME_UPPER", sameLower = "SAME_LOWER", valid = "VALID"
}

/// DCR: depth-column-row (TensorFlow's depth_to_space); CRD: column-row-depth (PyTorch's PixelShuffle).
public enum DepthToSpaceMode: String, Hashable, Sendable { case dcr = "DCR", crd = "CRD" }

public struct ResizeNearestAttributes: Hashable, Sendable {
    public enum CoordinateTransformation: String, Hashable, Sendable {
        case halfPixel = "half_pixel", asymmetric = "asymmetric", alignCorners = "align_corners",
             pytorchHalfPixel = "pytorch_half_pixel", tfHalfPixelForNN = "tf_half_pixel_for_nn"
    }
    public enum NearestMode: String, Hashable, Sendable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil
    }
    /// One scale per axis of the input.
    public var scales: [Float]
    public var coordinateTransformation: CoordinateTransformation
    public var nearestMode: NearestMode
    public init(scales: [Float], coordinateTransformation: CoordinateTransformation = .halfPixel,
                nearestMode: NearestMode = .roundPreferFloor) {
        self.scales = scales; self.coordinateTransformation = coordinateTransformation; self.nearestMode = nearestMode
    }
}

/// Floats in dumps: shortest round-trip text, so equal values print equally everywhere.
public func formatFloat(_ v: Float) -> String {
    if v == .infinity { return "inf" }
    if v == -.infinity { return "-inf" }
    if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
    return "\(v)"
}
