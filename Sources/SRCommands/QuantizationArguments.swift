import ArgumentParser
import Foundation
import SRImage
import SRGraph
import SRQuant
import SRVMCommands

/// The quantizer's options, shared by `srcc compile` and `srcc dump --after PASS`.
struct QuantizationArguments: ParsableArguments {
    @Option(name: .short, help: "Bits of the body's weights and activations (8 or 4). The first and last conv keep --edge-bits weights; they, the rest of the tail and the pooled attention convs read --edge-abits inputs.")
    var bits: Int = 8

    @Option(help: "Weight bits of the body (default: -b).")
    var wbits: Int?

    @Option(help: "Activation bits of the body's conv inputs (default: -b).")
    var abits: Int?

    @Option(help: "Weight bits of the first and last conv, kept higher as the papers do.")
    var edgeBits: Int = 8

    @Option(help: "Input bits of the edge convs: first and last conv, the convs after the last residual join (e.g. EDSR's upsampler), convs on pooled values (default: twice the body's activation bits, at most 16, at least --edge-bits: 16 for -b 8, 8 for -b 4). 16-bit inputs run as i16 x i8 convs.")
    var edgeAbits: Int?

    @Option(help: ArgumentHelp("Extra conv work, in percent of all conv MACs, the mixed-precision pass may spend on giving the body conv inputs that cost the output the most error per MAC --edge-abits inputs (0: every body conv input keeps --abits; default: 25 for 8-bit bodies, 35 below).", valueName: "percent"))
    var wideBudget: Double?

    @Flag(inversion: .prefixedNo, help: "One weight scale per output channel (default); --no-per-channel keeps one per layer (PAMS's a = max|w|).")
    var perChannel = true

    @Option(name: .customLong("override"), help: ArgumentHelp("Bits for one conv, by node name: NODE=BITS (repeatable).", valueName: "node=bits"))
    var overrides: [String] = []

    @Option(help: "Folder of calibration PNGs (low-resolution images like the ones the model will see). Default: a built-in synthetic set (see SPEC.md §5.5); real images calibrate better.")
    var calib: String?

    @Option(help: "Use at most this many calibration images (sorted by name).")
    var calibCount: Int = 32

    @Option(help: "Activation clamp bound policy: auto (max for 8-bit grids, EMA below), ema (PAMS: EMA of per-batch maxima), max, or percentile.")
    var alpha: AlphaChoice = .auto

    @Option(help: "EMA momentum β for --alpha ema (α_t = β·α_(t-1) + (1-β)·mean max|x|; β = 0 at t = 0).")
    var beta: Double = 0.9

    @Option(help: "Percentile of |x| for --alpha percentile.")
    var percentile: Double = 99.99

    @Flag(help: "Skip ODM's layer-wise weight clipping search (use max|w|).")
    var noOdm = false

    @Flag(help: "Skip round-weights (error-compensating GPTQ-style rounding on calibration inputs); weights round to nearest.")
    var noRoundWeights = false

    @Flag(help: "Skip tune-alpha (the search of each conv input's α by the network's output error on calibration patches).")
    var noTuneAlpha = false

    @Flag(help: "One α per channel for conv inputs is the default where it pays (see --channel-alpha-gain); this keeps one α per tensor everywhere.")
    var perTensorActivations = false

    @Option(help: ArgumentHelp("Grids wider than 8 bits (residual stream, attention arithmetic, 16-bit inputs) get their calibrated α times this factor: room for content unlike the calibration images, paid with resolution they have to spare (2 = 1 of 16 bits; 1 = none).", valueName: "factor"))
    var wideHeadroom: Float = 2

    @Option(help: ArgumentHelp("A conv input keeps one α per channel only if one α per tensor would raise the output error on calibration patches by at least this percentage (the channel-alpha pass; per-tensor α is the safer bet on content unlike the calibration images). 0 keeps per-channel α wherever it applies.", valueName: "percent"))
    var channelAlphaGain: Double = 2

    enum AlphaChoice: String, ExpressibleByArgument, CaseIterable { case auto, ema, max, percentile }

    func validate() throws {
        for b in [bits, wbits ?? bits, abits ?? bits, edgeBits] where !(2...8).contains(b) {
            throw ValidationError("bit widths must be between 2 and 8, got \(b)")
        }
        if let w = wideBudget, !(0...100).contains(w) { throw ValidationError("--wide-budget is a percentage of the conv MACs (0...100), got \(formatNumber(w))") }
        if !(1...256).contains(wideHeadroom) { throw ValidationError("--wide-headroom is a factor between 1 and 256, got \(wideHeadroom)") }
        if !(0...100).contains(channelAlphaGain) { throw ValidationError("--channel-alpha-gain is a percentage (0...100), got \(formatNumber(channelAlphaGain))") }
        if let e = edgeAbits, !(2...16).contains(e) { throw ValidationError("--edge-abits must be between 2 and 16, got \(e)") }
        _ = try parsedOverrides()
    }

    func parsedOverrides() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for o in overrides {
            let parts = o.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let b = Int(parts[1]), (2...8).contains(b) else {
                throw ValidationError("--override takes NODE=BITS with BITS in 2...8, got '\(o)'")
            }
            out[String(parts[0])] = b
        }
        return out
    }

    /// Options for `graph`, with calibration images converted in the model's convention.
    func options(for graph: Graph, convention: ModelConvention, threads: Int?, log: (String) -> Void) throws -> QuantizationOptions {
        var o = QuantizationOptions()
        o.weightBits = wbits ?? bits
        o.activationBits = abits ?? bits
        o.edgeBits = edgeBits
        o.edgeActivationBits = edgeActivationBits
        o.perChannelWeights = perChannel
        o.wideInputBudget = wideBudget.map { $0 / 100 }
        o.overrides = try parsedOverrides()
        let names = Set(graph.nodes.map(\.name))
        for name in o.overrides.keys where !names.contains(name) {
            throw CLIError("--override: no node named '\(name)' (see srcc dump for node names)")
        }
        o.inputRange = convention.range.fullScale
        switch alpha {
        case .auto: o.alphaPolicy = .auto(beta: beta)
        case .ema: o.alphaPolicy = .ema(beta: beta)
        case .max: o.alphaPolicy = .max
        case .percentile: o.alphaPolicy = .percentile(percentile)
        }
        o.odm = !noOdm
        o.tuneAlpha = !noTuneAlpha
        o.roundWeights = !noRoundWeights
        o.perChannelActivations = !perTensorActivations
        o.perChannelActivationGain = channelAlphaGain / 100
        o.wideGridHeadroom = wideHeadroom
        o.threads = threads
        let images = try calibrationImages(log: log)
        o.calibration = images.map(convention.tensor(from:))
        return o
    }

    func calibrationImages(log: (String) -> Void) throws -> [RGBImage] {
        guard let dir = calib else {
            log("calibration: built-in synthetic set (\(SyntheticCalibration.count) images); pass --calib DIR for real LR images")
            return SyntheticCalibration.images()
        }
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { throw CLIError("--calib \(dir): not a readable folder") }
        let pngs = files.filter { $0.lowercased().hasSuffix(".png") }.sorted().prefix(calibCount)
        guard !pngs.isEmpty else { throw CLIError("--calib \(dir): no .png files") }
        log("calibration: \(pngs.count) images from \(dir)")
        return try pngs.map { try readPNG((dir as NSString).appendingPathComponent($0)) }
    }

    var edgeActivationBits: Int { edgeAbits ?? min(16, max(edgeBits, 2 * (abits ?? bits))) }

    /// A short description for the compiled file's notes.
    var summary: String {
        "wbits=\(wbits ?? bits) abits=\(abits ?? bits) edge=w\(edgeBits)a\(edgeActivationBits) wide-budget=\(formatNumber(wideBudget ?? 100 * QuantizationOptions.defaultWideInputBudget(activationBits: abits ?? bits)))%\(perChannel ? " per-channel" : " per-layer") alpha=\(alpha.rawValue)\(alpha == .ema || alpha == .auto ? "(beta=\(beta))" : "") odm=\(noOdm ? "off" : "on") tune-alpha=\(noTuneAlpha ? "off" : "on") round-weights=\(noRoundWeights ? "off" : "on") wide-headroom=\(formatNumber(Double(wideHeadroom)))\(perTensorActivations ? " per-tensor-act" : " channel-alpha-gain=\(formatNumber(channelAlphaGain))%")"
    }
}

private func formatNumber(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
