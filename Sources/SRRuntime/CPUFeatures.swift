import Foundation

/// CPU features, read once, for choosing kernels at run time (a binary built on one x86-64
/// machine runs on any other). On Linux /proc/cpuinfo lists avx2/avx512* only when the kernel
/// has enabled the matching register state in XCR0, so the flags already include the OS check
/// that cpuid alone would need xgetbv for (clang's cpuid helpers are macros Swift cannot import).
public enum CPUFeatures {
    public static let flags: Set<String> = {
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

    /// AVX2 kernels are compiled with -mavx2 -mfma: both must be present.
    public static var hasAVX2: Bool { ["avx2", "fma"].allSatisfy(flags.contains) }
    /// AVX-512 kernels are compiled with -mavx512f/bw/vl (and FMA): all must be present.
    public static var hasAVX512: Bool { hasAVX2 && ["avx512f", "avx512bw", "avx512vl"].allSatisfy(flags.contains) }
    /// AVX-VNNI (vpdpbusd/vpdpwssd on ymm, VEX-encoded): Alder Lake, Sapphire Rapids, Zen 4 and later.
    public static var hasAVXVNNI: Bool { hasAVX2 && flags.contains("avx_vnni") }
    /// vpdpbusd on 512-bit registers (Cascade Lake and later).
    public static var hasAVX512VNNI: Bool { hasAVX512 && flags.contains("avx512_vnni") }

    /// One line for logs and bench tables.
    public static var summary: String {
        let names = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni"].filter(flags.contains)
        return names.isEmpty ? "no SIMD extensions detected" : names.joined(separator: " ")
    }
}
