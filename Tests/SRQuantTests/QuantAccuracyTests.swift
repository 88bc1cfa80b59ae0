import Foundation
import XCTest
import SRGraph
import SRQuant

/// Acceptance of the quantizer on the shared models: Y-PSNR loss against the float model,
/// calibrated on one set and evaluated on the other, of the integer program run by srvm's
/// optimized kernels on whole sets (all three models) and of the fake-quant graph. The options
/// are `srcc compile`'s defaults for -b 8 / -b 4.
final class QuantAccuracyTests: XCTestCase {
    typealias Model = QuantHarness.Model

    func options(_ m: Model, bits: Int, calibrateOn set: String) throws -> QuantizationOptions {
        var o = try QuantHarness.options(m, bits: bits, calibrateOn: set)
        o.edgeActivationBits = min(16, 2 * bits)   // srcc compile's default --edge-abits
        return o
    }

    struct Loss {
        var float: Double, quant: Double
        /// PSNR of the integer program, when measured on the whole set.
        var integer: Double?
        /// Mean PSNR of the integer program minus the fake-quant graph's on crops, when checked.
        var cropGap: Double?
        var quantLoss: Double { float - quant }
        /// The acceptance number: the integer program's loss where measured, else the fake-quant graph's.
        var loss: Double { float - (integer ?? quant) }
    }

    /// The loss of the fake-quant graph on `set`; with `integer`, also of the integer program on
    /// srvm over the whole set (see `integerIsQuick`). Where the integer program is not run
    /// on the whole set, it must agree with the fake-quant graph on 64×64 crops of its first
    /// images: the two compute one quantized network and differ only in requantization rounding
    /// (a rounding that flips one step moves a 4-bit value by 1/15 of its range, so the
    /// tolerance is wider there: measured -0.012 dB on EDSR-8 -b 4, +0.002 and +0.0005 at -b 8).
    func loss(_ m: Model, _ o: QuantizationOptions, evaluate set: String, integer: Bool = false, agreement: Bool = true, label: String) throws -> Loss {
        let g = try QuantHarness.graph(m)
        let q = try QuantHarness.quantize(g, o)
        var r = Loss(float: try floatPSNR(m, set, g), quant: try QuantHarness.psnr(q, m, set))
        guard integer || agreement else { return r }
        let program = try QuantHarness.program(q, m)
        let pairs = try QuantHarness.dataset(set, scale: m.scale)
        if integer {
            r.integer = try QuantHarness.integerPSNRs(program, m, pairs).reduce(0, +) / Double(pairs.count)
        } else {
            let few = Array(pairs.prefix(4))
            let ints = try QuantHarness.integerPSNRs(program, m, few, crop: 64), fqs = try QuantHarness.psnrs(q, m, few, crop: 64)
            // One pixel moves a 64×64 crop's PSNR by up to ~0.02 dB; the mean over crops is what a
            // set's loss sees (IMDN's reduce_mean rounding showed as 0.04 dB there).
            let gap = (ints.reduce(0, +) - fqs.reduce(0, +)) / Double(few.count)
            let worst = zip(ints, fqs).map { abs($0 - $1) }.max()!
            print(String(format: "INTEGER | %@ | %@ | %@ | 64x64 crops: mean PSNR int - fake-quant %.4f dB, max |diff| %.4f |", m.file, label, set, gap, worst))
            r.cropGap = gap
            XCTAssertLessThanOrEqual(abs(gap), o.activationBits >= 8 ? 0.01 : 0.03, "\(m.file) \(label): the integer program departs from the fake-quant graph")
        }
        return r
    }

    nonisolated(unsafe) static var floatCache: [String: Double] = [:]
    static let floatCacheLock = NSLock()
    func floatPSNR(_ m: Model, _ set: String, _ g: Graph) throws -> Double {
        Self.floatCacheLock.lock()
        let cached = Self.floatCache[m.file + set]
        Self.floatCacheLock.unlock()
        if let cached { return cached }
        let v = try QuantHarness.psnr(g, m, set)
        Self.floatCacheLock.lock(); Self.floatCache[m.file + set] = v; Self.floatCacheLock.unlock()
        return v
    }

    /// `loss` of every job, two at a time (quantizing is mostly one thread, so two at once nearly
    /// halve the wall time on two cores); results in job order. `loss` asserts nothing itself
    /// when `integer` is set, so assertions stay on the test's thread.
    func losses(_ jobs: [(m: Model, o: QuantizationOptions, set: String, integer: Bool, agreement: Bool, label: String)]) -> [Result<Loss, Error>] {
        var out = [Result<Loss, Error>](repeating: .failure(QuantAccuracyError()), count: jobs.count)
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let base = buffer.baseAddress!   // each job writes its own element
            nonisolated(unsafe) let this = self, all = jobs
            let pairs = (jobs.count + 1) / 2
            DispatchQueue.concurrentPerform(iterations: 2) { lane in
                for k in 0..<pairs where 2 * k + lane < all.count {
                    let j = all[2 * k + lane]
                    base[2 * k + lane] = Result { try this.loss(j.m, j.o, evaluate: j.set, integer: j.integer, agreement: j.agreement, label: j.label) }
                }
            }
        }
        return out
    }

    func report(_ m: Model, _ what: String, _ set: String, _ r: Loss) {
        let integer = r.integer.map { String(format: "integer loss %.4f", r.float - $0) }
            ?? r.cropGap.map { String(format: "integer on crops: %+.4f dB vs fake-quant", $0) } ?? "integer: not run"
        print(String(format: "QUANT | %@ | %@ | %@ | float %.4f | fake-quant %.4f | loss %.4f | %@ |", m.file, what, set, r.float, r.quant, r.quantLoss, integer))
    }

    /// The integer program runs on the whole set for every model: srvm's optimized kernels
    /// (bit-exact with its reference kernels, CompiledModelTests) take EDSR-8 over Set14 in
    /// seconds, where the reference kernels took minutes.
    func integerIsQuick(_ m: Model) -> Bool { true }

    /// -b 8, both directions (Set5 calibrated on Set14, Set14 calibrated on Set5): the targets,
    /// ≤ 0.02 dB for EDSR-8 and ≤ 0.05 dB for XLSR and IMDN. EDSR on Set14 is the hard case:
    /// ppt3 (screen graphics) drives activations far past the α calibrated on Set5's photos
    /// (channel-alpha and the wide grids' headroom are what keep it in).
    func test8BitLoss() throws {
        let limits = [(Model.edsr, 0.02), (Model.xlsr, 0.05), (Model.imdn, 0.05)]
        // Set5 calibrated on Set14, then Set14 calibrated on Set5.
        let jobs = try [("Set14", "Set5"), ("Set5", "Set14")].flatMap { calib, eval in
            try limits.map { m, _ in (m: m, o: try options(m, bits: 8, calibrateOn: calib), set: eval, integer: integerIsQuick(m), agreement: true, label: "-b 8") }
        }
        for (k, (job, result)) in zip(jobs, losses(jobs)).enumerated() {
            let r = try result.get(), limit = limits[k % limits.count].1
            report(job.m, "-b 8", job.set, r)
            XCTAssertLessThanOrEqual(r.loss, limit, "\(job.m.file) -b 8 on \(job.set)")
            XCTAssertLessThanOrEqual(r.quantLoss, limit, "\(job.m.file) -b 8 on \(job.set), fake-quant graph")
        }
    }

    /// -b 4 on Set5 (calibrated on Set14): the targets, ≤ 1.0 dB for EDSR-8 and ≤ 1.5 dB for
    /// IMDN; XLSR (target: report; 0.91 dB measured) is held near today's level so a
    /// regression shows.
    func test4BitLoss() throws {
        let limits = [(Model.edsr, 1.0), (Model.imdn, 1.5), (Model.xlsr, 1.0)]
        let jobs = try limits.map { m, _ in (m: m, o: try options(m, bits: 4, calibrateOn: "Set14"), set: "Set5", integer: integerIsQuick(m), agreement: true, label: "-b 4") }
        for ((job, result), (_, limit)) in zip(zip(jobs, losses(jobs)), limits) {
            let r = try result.get()
            report(job.m, "-b 4", "Set5", r)
            XCTAssertLessThanOrEqual(r.loss, limit, "\(job.m.file) -b 4 on Set5")
        }
    }

    /// The -b 4 ablation (Set5, calibrated on Set14): max α, then PAMS's EMA α, then EMA α with
    /// ODM clipping; each step must help. The later passes (mixed-precision, tune-alpha,
    /// round-weights) are off and weights per layer, so the steps compare only what they name.
    func test4BitAblation() throws {
        let steps: [(String, AlphaPolicy, Bool)] = [("max α", .max, false), ("EMA α", .ema(beta: 0.9), false), ("EMA α + ODM", .ema(beta: 0.9), true)]
        let jobs = try Model.all.flatMap { m in
            var o = try options(m, bits: 4, calibrateOn: "Set14")
            o.tuneAlpha = false; o.roundWeights = false; o.wideInputBudget = 0
            o.perChannelWeights = false   // PAMS's per-layer a = max|w|, the weights ODM clips
            return steps.map { name, policy, odm in
                var step = o
                step.alphaPolicy = policy; step.odm = odm
                return (m: m, o: step, set: "Set5", integer: false, agreement: false, label: "-b 4 " + name)
            }
        }
        let results = losses(jobs)
        for (i, m) in Model.all.enumerated() {
            var last = -Double.infinity
            for (k, (name, _, _)) in steps.enumerated() {
                let r = try results[i * steps.count + k].get()
                report(m, "-b 4 " + name, "Set5", r)
                XCTAssertGreaterThan(r.quant, last, "\(m.file): \(name) does not improve on the previous step")
                last = r.quant
            }
        }
    }
}

struct QuantAccuracyError: Error, CustomStringConvertible {
    var description: String { "not measured" }
}
