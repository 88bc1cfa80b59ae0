import ArgumentParser
import Foundation
import SRGraph
import FloatEngine
import SRQuant
import SRRuntime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the float engine on a model with a random input of a given size.",
        discussion: """
        Runs one warm-up, then --runs timed runs, and prints min and median milliseconds. \
        scripts/bench runs this beside ONNX Runtime and prints the ratio.

        Example: srcc bench edsr.onnx --size 256x256 --threads 2
        """)

    @Argument(help: "Model file (.onnx).")
    var model: String

    @Option(help: "Input size WxH.")
    var size: String = "256x256"

    @Option(help: "Timed runs.")
    var runs: Int = 5

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Use the portable reference kernels instead of the SIMD ones (same as --kernels reference).")
    var reference = false

    @Option(help: "Float kernels: best (this CPU's fastest), avx512, avx2, portable or reference. Forcing avx2 on an AVX-512 machine times the path AVX2-only CPUs run.")
    var kernels: FloatKernelName = .best

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let parts = size.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("--size must be WxH, e.g. 256x256") }
        let graph = try loadGraph(path: model)
        let engine = try FloatEngine(graph: graph, threads: threads, kernels: reference ? .reference : kernels.choice)
        var rng = SeededGenerator(seed: 1)
        let count = 3 * parts[0] * parts[1]
        let input = Tensor(shape: [1, 3, parts[1], parts[0]], floats: (0..<count).map { _ in Float(rng.next() >> 40) / Float(1 << 24) })
        let feeds = [graph.inputs[0].name: input]
        _ = try engine.run(feeds)
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let t = DispatchTime.now().uptimeNanoseconds
            _ = try engine.run(feeds)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        times.sort()
        let median = times[times.count / 2], best = times[0]
        if json {
            print("{\"model\":\"\((model as NSString).lastPathComponent)\",\"size\":\"\(size)\",\"min_ms\":\(String(format: "%.2f", best)),\"median_ms\":\(String(format: "%.2f", median))}")
        } else {
            print("\((model as NSString).lastPathComponent) \(size): min \(String(format: "%.1f", best)) ms, median \(String(format: "%.1f", median)) ms over \(times.count) runs")
        }
    }
}

/// The float engine's kernel sets as command-line names.
enum FloatKernelName: String, ExpressibleByArgument, CaseIterable {
    case best, avx512, avx2, portable, reference
    var choice: KernelChoice {
        switch self {
        case .best: return .best
        case .avx512: return .avx512
        case .avx2: return .avx2
        case .portable: return .portable
        case .reference: return .reference
        }
    }
}
