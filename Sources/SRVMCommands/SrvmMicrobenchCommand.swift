import ArgumentParser
import Foundation
import SRRuntime
import SRVM

struct SrvmMicrobenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microbench",
        abstract: "Time the 3x3 conv core on one thread against the CPU's peak for its instructions.",
        discussion: """
        For each operand format this CPU runs (8-bit, 16-bit and 4-bit sources; AVX2, and \
        AVX-VNNI / AVX-512 VNNI where present), times a 3x3 conv of 64 -> 64 channels on a \
        --size x --size image on one thread, and a register-only loop of the instruction \
        sequence the conv's tiles use (12 independent accumulators, no loads): that loop's \
        rate is the peak, and the table prints the conv's share of it. The exact-int8 peak on \
        AVX2 is the faster of vpmaddwd+vpaddd (16 MACs) and vpmaddubsw+vpmaddwd+vpaddd \
        (32 MACs, operands ≤ 127); sequences per cycle use the clock /proc/cpuinfo reports.

        Examples:
          srvm microbench
          srvm microbench --size 128 --seconds 2
        """)

    @Option(help: "Image side in pixels.")
    var size: Int = 64

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 1.0

    func validate() throws {
        guard size >= 1 else { throw ValidationError("--size must be at least 1 (got \(size))") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        let rows = runConvMicrobenchmark(size: size, seconds: seconds)
        print("cpu: \(CPUFeatures.summary); clock (reported): \(reportedClockMHz().map { String(format: "%.0f MHz", $0) } ?? "unknown")")
        print("3x3 conv 64->64 at \(size)x\(size), 1 thread")
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        print(pad("conv core", 46) + pad("set", 8) + pad("GMAC/s", 9) + pad("peak", 9) + pad("% peak", 8) + "sequence (per cycle at peak)")
        for r in rows {
            let perCycle = r.peakSequencesPerCycle.map { String(format: " %.2f/cycle", $0) } ?? ""
            print(pad(r.name, 46) + pad(r.kernels, 8) + pad(String(format: "%.1f", r.gmacPerSecond), 9) +
                  pad(String(format: "%.1f", r.peakGmacPerSecond), 9) + pad(String(format: "%.0f%%", r.percentOfPeak), 8) + r.sequence + perCycle)
        }
    }
}
