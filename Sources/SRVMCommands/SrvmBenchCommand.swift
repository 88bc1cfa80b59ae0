import ArgumentParser
import Foundation
import QSRFormat
import SRImage
import SRRuntime
import SRVM

struct SrvmBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a compiled program (.qsr) on srvm: milliseconds, GMAC/s, time per instruction kind.",
        discussion: """
        Feeds a deterministic pseudo-random RGB image of --size (the same pixels on every \
        machine), runs once to warm up, then --runs timed runs, and prints the minimum and \
        median milliseconds, the multiply-accumulates of one run (conv products, in GMAC), \
        GMAC/s at the median, the peak activation memory (the slot buffers srvm allocates) and \
        the CPU features it found. One more, profiled run measures each instruction's time; \
        the table sums them by kind (mnemonic, instructions of that kind, ms in that run, share), \
        slowest first.

        --json prints one object instead: {"model", "size", "threads", "kernels", "cpu", "runs", \
        "min_ms", "median_ms", "gmacs", "gmac_per_s", "peak_activation_bytes", \
        "kinds": [{"mnemonic", "count", "ms", "percent"}]}. "kernels" and "threads" are what \
        ran (--kernels best reports the set it chose).

        Examples:
          srvm bench xlsr_x3.qsr --size 640x360
          srvm bench xlsr_x3.qsr --size 256x256 --threads 1 --runs 20
          srvm bench xlsr_x3.qsr --kernels reference --runs 3 --json
        """)

    @Argument(help: "Compiled program (.qsr).")
    var model: String

    @Option(help: ArgumentHelp("Input size WxH (the LR image; the output is scale times larger).", valueName: "WxH"))
    var size: String = "256x256"

    @Option(help: "Timed runs after the warm-up (the median is reported).")
    var runs: Int = 10

    @OptionGroup var vm: VMOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Also list every instruction of the profiled run: index, mnemonic, destination, ms, GMAC/s of convs.")
    var instructions = false

    func validate() throws {
        guard parseSize(size) != nil else { throw ValidationError("--size must be WxH with positive integers, e.g. 256x256") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1 (got \(runs))") }
    }

    func run() throws {
        let (width, height) = parseSize(size)!
        let file = try wrapVM { try ProgramFile(path: model) }
        let result = try benchmark(program: file.program, width: width, height: height, runs: runs, options: vm)
        print(json ? result.json(model: (model as NSString).lastPathComponent)
                   : result.text(model: (model as NSString).lastPathComponent), terminator: "")
        if instructions && !json {
            print("every instruction (profiled run):")
            for row in result.instructions { print("  " + row) }
        }
    }
}

/// What `srvm bench` measured.
struct BenchResult {
    struct Kind { var mnemonic: String; var count: Int; var ms: Double; var percent: Double }
    var width: Int, height: Int
    var threads: Int
    var kernels: String
    var times: [Double]           // ms of each timed run, sorted
    var multiplyAccumulates: Int
    var peakActivationBytes: Int
    var kinds: [Kind]             // slowest first
    var instructions: [String] = []   // one line per instruction of the profiled run

    var minMs: Double { times[0] }
    var medianMs: Double {
        let n = times.count
        return n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2
    }
    var gmacs: Double { Double(multiplyAccumulates) / 1e9 }
    var gmacPerSecond: Double { medianMs > 0 ? gmacs / (medianMs / 1000) : 0 }

    func text(model: String) -> String {
        var lines: [String] = []
        lines.append("\(model) at \(width)x\(height): kernels \(kernels), \(threads) thread\(threads == 1 ? "" : "s"), cpu: \(CPUFeatures.summary)")
        lines.append("time: min \(fixed(minMs, 2)) ms, median \(fixed(medianMs, 2)) ms over \(times.count) run\(times.count == 1 ? "" : "s")")
        lines.append("work: \(fixed(gmacs, 3)) GMAC per run, \(fixed(gmacPerSecond, 2)) GMAC/s at the median")
        lines.append("peak activation memory: \(peakActivationBytes) bytes (\(fixed(Double(peakActivationBytes) / 1_048_576, 2)) MiB)")
        lines.append("time by instruction kind (one profiled run):")
        let width = max(8, kinds.map(\.mnemonic.count).max() ?? 0)
        func row(_ a: String, _ b: String, _ c: String, _ d: String) -> String {
            "  " + a.padding(toLength: width, withPad: " ", startingAt: 0) + leftPad(b, 7) + leftPad(c, 11) + leftPad(d, 8)
        }
        lines.append(row("kind", "count", "ms", "%"))
        for k in kinds { lines.append(row(k.mnemonic, "\(k.count)", fixed(k.ms, 3), fixed(k.percent, 1))) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object; the key names are an interface (scripts read min_ms, median_ms, gmacs, gmac_per_s).
    func json(model: String) -> String {
        let kindObjects = kinds.map { k in
            "{\"mnemonic\":\(jsonString(k.mnemonic)),\"count\":\(k.count),\"ms\":\(fixed(k.ms, 4)),\"percent\":\(fixed(k.percent, 2))}"
        }
        let fields: [(String, String)] = [
            ("model", jsonString(model)),
            ("size", jsonString("\(width)x\(height)")),
            ("threads", "\(threads)"),
            ("kernels", jsonString(kernels)),
            ("cpu", jsonString(CPUFeatures.summary)),
            ("runs", "\(times.count)"),
            ("min_ms", fixed(minMs, 4)),
            ("median_ms", fixed(medianMs, 4)),
            ("gmacs", fixed(gmacs, 6)),
            ("gmac_per_s", fixed(gmacPerSecond, 4)),
            ("peak_activation_bytes", "\(peakActivationBytes)"),
            ("kinds", "[" + kindObjects.joined(separator: ",") + "]"),
        ]
        return "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}\n"
    }
}

/// Warm-up, `runs` timed runs, then one profiled run, on a pseudo-random `width` x `height` image.
func benchmark(program: Program, width: Int, height: Int, runs: Int, options: VMOptions) throws -> BenchResult {
    let vm = try options.machine(for: program)
    let image = pseudoRandomImage(width: width, height: height, seed: 1)
    let macs = try wrapVM { try vm.multiplyAccumulates(width: width, height: height) }
    let peak = try wrapVM { try vm.slotBytes(width: width, height: height) }.reduce(0, +)
    _ = try wrapVM { try vm.run(image) }
    var times: [Double] = []
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try wrapVM { try vm.run(image) }
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let profile = InstructionProfile(instructionCount: program.instructions.count)
    _ = try wrapVM { try vm.run(image, profile: profile) }

    var byKind: [String: (count: Int, seconds: Double)] = [:]
    for (ins, seconds) in zip(program.instructions, profile.seconds) {
        byKind[ins.mnemonic, default: (0, 0)].count += 1
        byKind[ins.mnemonic, default: (0, 0)].seconds += seconds
    }
    let total = byKind.values.reduce(0) { $0 + $1.seconds }
    let shapes = try wrapVM { try vm.shapes(width: width, height: height) }
    func convMACs(_ i: Int) -> Double {
        guard case let .conv(dst, _, q, _, _, _, _, _) = program.instructions[i] else { return 0 }
        let o = shapes[Int(dst)]
        return Double(o.c * o.h * o.w) * Double(q.inputChannels / q.group) * Double(q.kernelHeight * q.kernelWidth)
    }
    let groups = vm.siblingConvGroups
    let leaderOf = Dictionary(groups.flatMap { leader, members in members.dropFirst().map { ($0, leader) } }, uniquingKeysWith: { a, _ in a })
    var rows: [String] = []
    for (i, (ins, seconds)) in zip(program.instructions, profile.seconds).enumerated() {
        var row = "\(i) \(ins.mnemonic)"
        if let d = ins.destination { let s = shapes[Int(d)]; row += " -> \(program.values[Int(d)].name) [\(s.c),\(s.h),\(s.w)]" }
        if let leader = leaderOf[i] {
            row += " (computed with instruction \(leader))"
        } else {
            row += String(format: " %.3f ms", seconds * 1000)
            let macs = (groups[i] ?? [i]).reduce(0) { $0 + convMACs($1) }
            if macs > 0 && seconds > 0 {
                row += String(format: " %.1f GMAC/s", macs / seconds / 1e9)
                if let members = groups[i] { row += " (with instructions \(members.dropFirst().map(String.init).joined(separator: ", ")))" }
            }
        }
        rows.append(row)
    }
    let kinds = byKind.map { name, v in
        BenchResult.Kind(mnemonic: name, count: v.count, ms: v.seconds * 1000, percent: total > 0 ? 100 * v.seconds / total : 0)
    }.sorted { ($0.ms, $1.mnemonic) > ($1.ms, $0.mnemonic) }
    return BenchResult(width: width, height: height, threads: vm.threads, kernels: vm.kernels.rawValue, times: times.sorted(),
                       multiplyAccumulates: macs, peakActivationBytes: peak, kinds: kinds, instructions: rows)
}

/// Uniform random 8-bit RGB pixels (bench inputs: content does not change integer kernels' speed).
func pseudoRandomImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
    var rng = SeededGenerator(seed: seed)
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    var i = 0
    while i < pixels.count {
        var bits = rng.next()
        for _ in 0..<8 where i < pixels.count {
            pixels[i] = UInt8(truncatingIfNeeded: bits)
            bits >>= 8
            i += 1
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

private func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
private func leftPad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

/// A JSON string literal: quotes, backslashes and control characters escaped.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}
