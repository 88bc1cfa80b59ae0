import SRGraph

/// PAMS's running clamp bound: α_0 = m_0, α_t = β·α_{t−1} + (1−β)·m_t, where m_t is the mean
/// over batch t of the per-sample maxima of |x|.
public struct EMAAlpha: Sendable {
    public let beta: Double
    public private(set) var value: Double?
    public init(beta: Double) { self.beta = beta }
    public mutating func update(batchMaxima: [Double]) {
        guard !batchMaxima.isEmpty else { return }
        let m = batchMaxima.reduce(0, +) / Double(batchMaxima.count)
        value = value.map { beta * $0 + (1 - beta) * m } ?? m
    }
}

/// Running statistics of one value over the calibration batches.
struct RangeStatistics {
    var maximum: Double = 0
    var ema: EMAAlpha
    var percentileSum: Double = 0
    var samples = 0
    let policy: AlphaPolicy

    init(policy: AlphaPolicy) {
        self.policy = policy
        switch policy {
        case .ema(let b), .auto(let b): ema = EMAAlpha(beta: b)
        default: ema = EMAAlpha(beta: 0)
        }
    }

    mutating func add(batch: [[Float]]) {
        var maxima: [Double] = []
        for x in batch {
            var m: Float = 0
            for v in x { m = Swift.max(m, abs(v)) }
            maxima.append(Double(m))
            maximum = Swift.max(maximum, Double(m))
            if case .percentile(let p) = policy { percentileSum += Double(percentileOfMagnitude(x, p, max: m)); samples += 1 }
        }
        ema.update(batchMaxima: maxima)
    }

    func alpha(bits: Int) -> Double {
        switch policy {
        case .auto: return bits >= 8 ? maximum : (ema.value ?? maximum)
        case .max: return maximum
        case .ema: return ema.value ?? maximum
        case .percentile: return samples > 0 ? percentileSum / Double(samples) : maximum
        }
    }
}

/// Per-channel maxima of |x| over the calibration batches: the maximum, and PAMS's EMA of the
/// batch mean of per-sample channel maxima.
struct ChannelRangeStatistics {
    let channels: Int
    var maximum: [Double]
    var ema: [EMAAlpha]

    init(channels: Int, policy: AlphaPolicy) {
        self.channels = channels
        maximum = [Double](repeating: 0, count: channels)
        var beta = 0.0
        switch policy { case .ema(let b), .auto(let b): beta = b; default: break }
        ema = [EMAAlpha](repeating: EMAAlpha(beta: beta), count: channels)
    }

    mutating func add(batch: [[Float]]) {
        var perChannel = [[Double]](repeating: [], count: channels)
        for x in batch {
            let plane = x.count / channels
            for c in 0..<channels {
                var m: Float = 0
                for i in (c * plane)..<((c + 1) * plane) { m = Swift.max(m, abs(x[i])) }
                perChannel[c].append(Double(m))
                maximum[c] = Swift.max(maximum[c], Double(m))
            }
        }
        for c in 0..<channels { ema[c].update(batchMaxima: perChannel[c]) }
    }

    func alphas(policy: AlphaPolicy, bits: Int) -> [Double] {
        (0..<channels).map { c in
            switch policy {
            case .auto: return bits >= 8 ? maximum[c] : (ema[c].value ?? maximum[c])
            case .ema: return ema[c].value ?? maximum[c]
            case .max, .percentile: return maximum[c]
            }
        }
    }
}

/// Signed ranges for asymmetric grids: the extreme minimum and maximum, and PAMS's EMA of the
/// batch means of per-sample minima and maxima.
struct SignedRangeStatistics {
    var lowest = 0.0, highest = 0.0
    var emaLow: EMAAlpha, emaHigh: EMAAlpha

    init(policy: AlphaPolicy) {
        var beta = 0.0
        switch policy { case .ema(let b), .auto(let b): beta = b; default: break }
        emaLow = EMAAlpha(beta: beta); emaHigh = EMAAlpha(beta: beta)
    }

    mutating func add(batch: [[Float]]) {
        var lows: [Double] = [], highs: [Double] = []
        for x in batch {
            var lo: Float = 0, hi: Float = 0
            for v in x { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            lows.append(-Double(lo)); highs.append(Double(hi))
            lowest = Swift.min(lowest, Double(lo)); highest = Swift.max(highest, Double(hi))
        }
        emaLow.update(batchMaxima: lows); emaHigh.update(batchMaxima: highs)
    }

    /// (lo ≤ 0, hi ≥ 0) under the policy.
    func range(policy: AlphaPolicy, bits: Int) -> (Double, Double) {
        let useEMA: Bool
        switch policy { case .auto: useEMA = bits < 8; case .ema: useEMA = true; default: useEMA = false }
        if useEMA, let l = emaLow.value, let h = emaHigh.value { return (-l, h) }
        return (lowest, highest)
    }
}

/// The asymmetric unsigned grid covering [lo, hi] with 0 exactly on it (nil: keep symmetric).
func asymmetricGrid(bits: Int, low: Double, high: Double) -> FakeQuant? {
    let qmax = (1 << bits) - 1
    let lo = Swift.min(low, 0), hi = Swift.max(high, 0)
    guard hi > 0, hi - lo > 0 else { return nil }
    let s = (hi - lo) / Double(qmax)
    let z = Int((-lo / s).rounded())
    guard z > 0, z < qmax else { return nil }
    return FakeQuant(bits: bits, signed: false, alpha: Float(Double(qmax - z) * s), zeroPoint: z)
}

/// FakeQuantizes that may get one α per channel: narrow (≤ 8-bit) grids read only by convs
/// (the lowering folds the channel scales into their weights), produced by a conv (whose
/// requantization is per channel anyway) or by re-quantizing a wide value. Clip bounds and
/// concat groups need one grid per tensor, so those keep a single α.
func perChannelEligible(_ g: Graph, _ index: Int, pixels: Set<String>, shared: Set<Int>) -> Bool {
    let n = g.nodes[index]
    guard let q = n.op.fakeQuant, q.bits <= 8, !pixels.contains(n.name), !shared.contains(index) else { return false }
    let readers = g.readerIndices()[n.outputs[0]] ?? []
    guard !readers.isEmpty, !g.isGraphOutput(n.outputs[0]),
          readers.allSatisfy({ if case .conv = g.nodes[$0].op { return g.nodes[$0].inputs[0] == n.outputs[0] } else { return false } }) else { return false }
    guard let p = g.producerIndices()[n.inputs[0]] else { return false }
    switch g.nodes[p].op {
    case .conv(let a):
        if case .clip? = a.activation { return false }
        return (g.readerIndices()[n.inputs[0]] ?? []).count == 1
    case .fakeQuantize: return true
    default: return false
    }
}

/// Asymmetric grids need a producer that can add the zero point: a conv without activation or
/// a re-quantization of a wide value.
func asymmetricEligible(_ g: Graph, _ index: Int) -> Bool {
    guard let p = g.producerIndices()[g.nodes[index].inputs[0]] else { return false }
    switch g.nodes[p].op {
    case .conv(let a): return a.activation == nil
    case .fakeQuantize: return true
    default: return false
    }
}

/// The p-th percentile of |x| from a 4096-bin histogram over [0, max].
public func percentileOfMagnitude(_ x: [Float], _ p: Double, max m: Float) -> Float {
    guard m > 0, !x.isEmpty else { return 0 }
    let bins = 4096
    var h = [Int](repeating: 0, count: bins)
    let k = Float(bins) / m
    for v in x { h[Swift.min(bins - 1, Int(abs(v) * k))] += 1 }
    let target = Int((p / 100 * Double(x.count)).rounded(.up))
    var acc = 0
    for (i, c) in h.enumerated() {
        acc += c
        if acc >= target { return Float(i + 1) / k }
    }
    return m
}

/// FakeQuantizes that stand for pixels (the input, and those that reach the output through
/// data movement only): their α stays at inputRange.
func pixelQuantizes(_ g: Graph) -> Set<String> {
    var s = Set<String>()
    let readers = g.readerIndices()
    for n in g.nodes where n.op.fakeQuant != nil {
        if g.inputs.contains(where: { $0.name == n.inputs[0] }) { s.insert(n.name); continue }
        var stack = [n.outputs[0]], reachesOutput = false
        while let v = stack.popLast() {
            if g.isGraphOutput(v) { reachesOutput = true; break }
            for r in readers[v] ?? [] where g.nodes[r].op.isDataMovement { stack += g.nodes[r].outputs }
        }
        if reachesOutput { s.insert(n.name) }
    }
    return s
}

/// FakeQuantizes whose outputs meet in a Concat without a FakeQuantize of its own: one α each group.
func sharedGridGroups(_ g: Graph) -> [[Int]] {
    let producers = g.producerIndices(), readers = g.readerIndices()
    var groups: [[Int]] = []
    for n in g.nodes {
        guard case .concat = n.op else { continue }
        let r = readers[n.outputs[0]] ?? []
        if r.count == 1, g.nodes[r[0]].op.fakeQuant != nil { continue }
        let members = n.inputs.compactMap { producers[$0] }.filter { g.nodes[$0].op.fakeQuant != nil }
        if members.count > 1 { groups.append(members) }
    }
    return groups
}

/// `calibrate`: runs the float engine over the calibration batches and sets every
/// FakeQuantize's α by the policy. With `sequentialCalibration`, a second sweep measures each
/// range on the graph whose upstream grids are already in place (the error they add is then
/// part of what the downstream α must cover).
func calibrate(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    let batches = calibrationBatches(options)
    guard !batches.isEmpty else { throw GraphError("calibrate: no calibration images (options.calibration is empty)") }
    let fixed = pixelQuantizes(g)
    let targets = g.nodes.indices.filter { g.nodes[$0].op.fakeQuant != nil && !fixed.contains(g.nodes[$0].name) }
    let patchText = options.calibrationPatch.map { "\($0)x\($0) patches" } ?? "whole images"
    log("\(targets.count) ranges, \(batches.count) batches of \(batches[0].count) (\(patchText)), policy \(options.alphaPolicy)")
    let sweeps = options.sequentialCalibration ? 2 : 1
    for sweep in 0..<sweeps {
        let source = sweep == 0 ? floatReference(g) : g
        let names = targets.map { g.nodes[$0].inputs[0] }
        let capture = try ActivationCapture(graph: source, capturing: names, threads: options.threads)
        var stats = [String: RangeStatistics]()
        for n in names { stats[n] = RangeStatistics(policy: options.alphaPolicy) }
        let sharedMembers = Set(sharedGridGroups(g).joined())
        var channelStats = [String: ChannelRangeStatistics]()
        var signedStats = [String: SignedRangeStatistics]()
        for i in targets where perChannelEligible(g, i, pixels: fixed, shared: sharedMembers) {
            let v = g.nodes[i].inputs[0]
            let q = g.nodes[i].op.fakeQuant!
            if options.asymmetricActivations && (q.signed || q.zeroPoint != 0) && asymmetricEligible(g, i) {
                signedStats[v] = SignedRangeStatistics(policy: options.alphaPolicy)
            } else if options.perChannelActivations, let c = g.info(of: v)?.shape[1].value {
                channelStats[v] = ChannelRangeStatistics(channels: c, policy: options.alphaPolicy)
            }
        }
        for batch in batches {
            var perValue = [String: [[Float]]]()
            for x in batch {
                let values = try capture.run(x)
                for n in capture.names { perValue[n, default: []].append(values[n]!.floats) }
            }
            for (n, xs) in perValue {
                stats[n]!.add(batch: xs)
                channelStats[n]?.add(batch: xs)
                signedStats[n]?.add(batch: xs)
            }
        }
        for i in targets {
            guard var q = g.nodes[i].op.fakeQuant else { continue }
            let v = g.nodes[i].inputs[0]
            if let ss = signedStats[v] {
                let (lo, hi) = ss.range(policy: options.alphaPolicy, bits: q.bits)
                if let grid = asymmetricGrid(bits: q.bits, low: lo, high: hi) {
                    g.nodes[i].op = .fakeQuantize(grid)
                    continue
                }
                q = FakeQuant(bits: q.bits, signed: true, alpha: Float(Swift.max(stats[v]!.alpha(bits: q.bits), 1e-8)))
            } else if let cs = channelStats[v] {
                let alphas = cs.alphas(policy: options.alphaPolicy, bits: q.bits).map { Float(Swift.max($0, 1e-8)) }
                q.channelAlphas = alphas
                q.alpha = alphas.max()!
            } else {
                q.alpha = Float(Swift.max(stats[v]!.alpha(bits: q.bits), 1e-8))
            }
            g.nodes[i].op = .fakeQuantize(q)
        }
        for group in sharedGridGroups(g) {
            let a = group.compactMap { g.nodes[$0].op.fakeQuant?.alpha }.max()!
            for i in group { g.nodes[i].op.setAlpha(a) }
        }
    }
    for i in targets {
        let q = g.nodes[i].op.fakeQuant!
        log("\(g.nodes[i].name): \(q.signed ? "s" : "u")\(q.bits) α=\(formatFloat(q.alpha))")
    }
}

extension Op {
    mutating func setAlpha(_ a: Float) {
        if case .fakeQuantize(var q) = self { q.alpha = a; self = .fakeQuantize(q) }
    }
}
