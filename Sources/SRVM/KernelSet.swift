import Foundation
import SRRuntime
import SRVMKernelsAMX

/// Which kernels srvm runs a program with (`srvm run --kernels`).
public enum KernelSet: String, CaseIterable, Sendable {
    /// The scalar planar interpreter: every instruction as SPEC.md §5.3 reads, the oracle.
    case reference
    /// The fastest set this CPU supports (AMX, else AVX-512 VNNI, else AVX-VNNI, else AVX2, else portable).
    case best
    /// The prepared engine with portable Swift kernels (any CPU).
    case portable
    /// The prepared engine with AVX2 kernels; an error on a CPU without AVX2.
    case avx2
    /// AVX2 with AVX-VNNI conv tiles (vpdpbusd, vpdpwssd); an error on a CPU without them.
    case vnni
    /// AVX2 element-wise kernels with AVX-512 VNNI conv tiles (zmm vpdpbusd/vpdpwssd); an error
    /// on a CPU without AVX-512 F/BW/VL and VNNI.
    case avx512
    /// The avx512 set with AMX conv tiles (tdpbusd/tdpbssd) for the convs they cover; an error
    /// on a CPU (or an OS) without AMX-TILE/AMX-INT8 or without the avx512 set.
    case amx

    /// `.best` becomes the concrete set for this CPU; a forced set the CPU lacks is an error.
    func resolved() throws -> KernelSet {
        switch self {
        case .reference, .portable: return self
        case .best:
            if CPUFeatures.hasAVX512VNNI && srvm_amx_available() != 0 { return .amx }
            if CPUFeatures.hasAVX512VNNI { return .avx512 }
            return CPUFeatures.hasAVXVNNI ? .vnni : (CPUFeatures.hasAVX2 ? .avx2 : .portable)
        case .avx512:
            guard CPUFeatures.hasAVX512VNNI else { throw VMError("--kernels avx512: this CPU lacks AVX-512 F/BW/VL with VNNI") }
            return .avx512
        case .amx:
            guard CPUFeatures.hasAVX512VNNI, srvm_amx_available() != 0 else {
                throw VMError("--kernels amx: this CPU lacks AMX-TILE/AMX-INT8 with AVX-512 VNNI, or the OS did not grant the tile state")
            }
            return .amx
        case .vnni:
            guard CPUFeatures.hasAVXVNNI else { throw VMError("--kernels vnni: this CPU lacks AVX-VNNI (avx_vnni)") }
            return .vnni
        case .avx2:
            guard CPUFeatures.hasAVX2 else { throw VMError("--kernels avx2: this CPU lacks AVX2") }
            return .avx2
        }
    }
}

/// Wall time per instruction of the runs it was passed to (`srvm bench`'s per-kind table).
public final class InstructionProfile {
    public var seconds: [Double]
    public init(instructionCount: Int) { seconds = [Double](repeating: 0, count: instructionCount) }
}

@inline(__always) func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
