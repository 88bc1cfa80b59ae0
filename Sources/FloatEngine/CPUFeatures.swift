import Foundation
import SRGraph
import SRRuntime

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

/// The engine's view of SRRuntime's CPU features: which conv kernel set a choice means.
enum EngineISA {
    static var hasAVX512: Bool { CPUFeatures.hasAVX512 }
    static var hasAVX2: Bool { CPUFeatures.hasAVX2 }

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
