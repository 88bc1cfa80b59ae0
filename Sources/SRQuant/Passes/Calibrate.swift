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
        for batch in batches {
            var perValue = [String: [[Float]]]()
            for x in batch {
                let values = try capture.run(x)
                for n in capture.names { perValue[n, default: []].append(values[n]!.floats) }
            }
            for (n, xs) in perValue { stats[n]!.add(batch: xs) }
        }
        for i in targets {
            guard var q = g.nodes[i].op.fakeQuant else { continue }
            let s = stats[g.nodes[i].inputs[0]]!
            q.alpha = Float(Swift.max(s.alpha(bits: q.bits), 1e-8))
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
