import Foundation
import SRGraph

/// Which kernels the engine runs.
public enum KernelChoice: Sendable, Equatable {
    /// Portable, obviously-correct loops for every op (the numerical reference).
    case reference
    /// The fastest kernels this CPU supports (AVX-512, else AVX2+FMA, else portable Swift).
    case best
    /// Forced kernel sets, for tests and measurements; `init` throws if the CPU lacks them.
    case portable, avx2, avx512
}

/// Instruction sets of the fast conv kernels.
enum ConvISA: Sendable { case portable, avx2, avx512 }

/// CPU features, read once. On Linux /proc/cpuinfo lists avx512f/avx2 only when the kernel
/// has enabled the matching register state in XCR0, so the flags already include the OS check
/// that cpuid alone would need xgetbv for (clang's cpuid helpers are macros Swift cannot import).
enum CPUFeatures {
    static let flags: Set<String> = {
        #if os(Linux) && arch(x86_64)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
        #else
        return []
        #endif
    }()

    /// FloatKernelsAVX512 is compiled with -mavx512f/bw/vl and FMA: all must be present.
    static var hasAVX512: Bool { ["avx512f", "avx512bw", "avx512vl", "fma"].allSatisfy(flags.contains) }
    /// FloatKernelsAVX2 is compiled with only -mavx2 -mfma, so it runs on any AVX2+FMA CPU.
    static var hasAVX2: Bool { ["avx2", "fma"].allSatisfy(flags.contains) }

    static func isa(for choice: KernelChoice) throws -> ConvISA? {
        switch choice {
        case .reference: return nil
        case .portable: return .portable
        case .best: return hasAVX512 ? .avx512 : (hasAVX2 ? .avx2 : .portable)
        case .avx2:
            guard hasAVX2 else { throw GraphError("kernels .avx2 requested but this CPU lacks AVX2/FMA") }
            return .avx2
        case .avx512:
            guard hasAVX512 else { throw GraphError("kernels .avx512 requested but this CPU lacks AVX-512F/BW/VL") }
            return .avx512
        }
    }
}
