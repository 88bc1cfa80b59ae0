import Foundation
import FixedPoint
import QSRFormat
import SRRuntime
import SRVMKernelsCommon
import SRVMKernelsAMX
#if arch(x86_64)
import SRVMKernelsAVX2
import SRVMKernelsVNNI
import SRVMKernelsAVX512
#endif

/// One line of `srvm microbench`: a 3x3 conv core on one thread against the register-only rate
/// of the instruction sequence its tiles use (the CPU's peak for that sequence).
public struct ConvMicrobenchRow: Sendable {
    public var name: String
    public var kernels: String
    /// The tile's inner sequence and the MACs one pass of it does.
    public var sequence: String
    public var gmacPerSecond: Double
    public var peakGmacPerSecond: Double
    /// Instructions of the sequence per cycle at the peak (using the clock /proc/cpuinfo reports), when known.
    public var peakSequencesPerCycle: Double?
    public var percentOfPeak: Double { peakGmacPerSecond > 0 ? 100 * gmacPerSecond / peakGmacPerSecond : 0 }
}

/// The clock the kernel reports (MHz; nil where unknown). Virtual machines report the nominal clock.
public func reportedClockMHz() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
        if let v = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) { return v }
    }
    return nil
}

/// Times `body` (which does `work` MACs) until `seconds` pass, best of 3 rounds: GMAC/s.
private func rate(work: Double, seconds: Double, _ body: () -> Void) -> Double {
    body()
    var best = 0.0
    for _ in 0..<3 {
        var n = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat { body(); n += 1; elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 } while elapsed < seconds / 3
        best = max(best, work * Double(n) / elapsed / 1e9)
    }
    return best
}

/// The 3x3 conv core (64 -> 64 channels, pads 1, `size` x `size` pixels, one thread) in each
/// operand format this CPU runs, against its instruction sequence's register-only peak.
public func runConvMicrobenchmark(size: Int = 64, seconds: Double = 1.0) -> [ConvMicrobenchRow] {
    var rows: [ConvMicrobenchRow] = []
    #if arch(x86_64)
    let clock = reportedClockMHz().map { $0 * 1e6 }
    func peak(_ macsPerIteration: Double, _ loop: (Int) -> Int32) -> Double {
        var sink: Int32 = 0
        let r = rate(work: macsPerIteration * 1_000_000, seconds: seconds) { sink &+= loop(1_000_000) }
        if sink == 42 { print("") }   // keeps the loops' results alive
        return r
    }
    func conv(_ name: String, _ set: String, source: (ElementType, ClosedRange<Int32>), weights: ClosedRange<Int32>, isa: PreparedISA,
              amx: Bool = false, sequence: String, sequenceMACs: Double, peakRate: Double) {
        let C = 64, O = 64
        let q = ConvParameters(outputChannels: Int32(O), inputChannels: Int32(C), kernelHeight: 3, kernelWidth: 3,
                               padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
        var rng = UInt64(12345)
        func next(_ r: ClosedRange<Int32>) -> Int32 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return r.lowerBound + Int32(truncatingIfNeeded: (rng >> 33) % UInt64(Int64(r.upperBound) - Int64(r.lowerBound) + 1))
        }
        let w = (0..<(O * C * 9)).map { _ in next(weights) }
        let desc = ValueDescriptor(name: "x", type: source.0, channels: Int32(C), height: .constant(Int32(size)), width: .constant(Int32(size)),
                                   scale: 1, qmin: source.1.lowerBound, qmax: source.1.upperBound, slot: 0)
        let requant = Requantization(positive: [QuantMultiplier(1e-4)], clampMin: 0, clampMax: 255)
        let prepared = PreparedConv(params: q, weights: w, bias: [Int32](repeating: 0, count: O), requant: requant, padValues: nil,
                                    source: desc, sourceRange: source.1, isa: isa, amx: amx)
        let sl = PixelLayout(channels: C, height: size, width: size, type: source.0)
        let dl = PixelLayout(channels: O, height: size, width: size, type: .u8)
        let src = UnsafeMutableRawPointer.allocate(byteCount: sl.byteCount, alignment: 64)
        let dst = UnsafeMutableRawPointer.allocate(byteCount: dl.byteCount, alignment: 64)
        defer { src.deallocate(); dst.deallocate() }
        for i in 0..<(size * size * sl.stride) { storeElement(next(source.1), src, i, sl.type) }
        let macs = Double(size * size * O * C * 9)
        let r = rate(work: macs, seconds: seconds) {
            prepared.run(src: src, srcLayout: sl, dst: dst, dstLayout: dl, isa: isa, threads: 1)
        }
        let kind = prepared.amxPlan.map(\.formatName) ?? "\(prepared.kind)"
        rows.append(ConvMicrobenchRow(name: name + " [\(kind)]", kernels: set, sequence: sequence, gmacPerSecond: r,
                                      peakGmacPerSecond: peakRate, peakSequencesPerCycle: clock.map { peakRate * 1e9 / sequenceMACs / $0 }))
    }
    if CPUFeatures.hasAVX2 {
        let pair = peak(12 * 16) { peakPairAVX2(iterations: $0, seed: 3) }
        let quad1 = peak(12 * 32) { peakQuad1AVX2(iterations: $0, seed: 3) }
        let quad16 = peak(12 * 32) { peakQuadS16AVX2(iterations: $0, seed: 3) }
        let exact8 = max(pair, quad1)
        let exact8Sequence = pair >= quad1 ? ("vpmaddwd+vpaddd (16 MAC)", 16.0) : ("vpmaddubsw+vpmaddwd+vpaddd (32 MAC)", 32.0)
        conv("int8 u8 0..255 x s8 (widened to s16)", "avx2", source: (.u8, 0...255), weights: -127...127, isa: .avx2,
             sequence: exact8Sequence.0, sequenceMACs: exact8Sequence.1, peakRate: exact8)
        conv("int8 u8 0..127 x s8", "avx2", source: (.u8, 0...127), weights: -127...127, isa: .avx2,
             sequence: exact8Sequence.0, sequenceMACs: exact8Sequence.1, peakRate: exact8)
        conv("int16 i16 x s8", "avx2", source: (.i16, -32767...32767), weights: -127...127, isa: .avx2,
             sequence: "vpmaddwd+vpaddd (16 MAC)", sequenceMACs: 16, peakRate: pair)
        conv("int4 u4 x s4", "avx2", source: (.u8, 0...15), weights: -8...7, isa: .avx2,
             sequence: "vpmaddubsw+vpaddw (32 MAC)", sequenceMACs: 32, peakRate: quad16)
    }
    if CPUFeatures.hasAVXVNNI {
        let dot = peak(12 * 32) { peakDotVNNI(iterations: $0, seed: 3) }
        conv("int8 u8 x s8", "vnni", source: (.u8, 0...255), weights: -127...127, isa: .vnni,
             sequence: "vpdpbusd ymm (32 MAC)", sequenceMACs: 32, peakRate: dot)
        conv("int4 u4 x s4", "vnni", source: (.u8, 0...15), weights: -8...7, isa: .vnni,
             sequence: "vpdpbusd ymm (32 MAC)", sequenceMACs: 32, peakRate: dot)
    }
    if CPUFeatures.hasAVX512VNNI {
        let dot = peak(12 * 64) { peakDotAVX512(iterations: $0, seed: 3) }
        conv("int8 u8 x s8", "avx512", source: (.u8, 0...255), weights: -127...127, isa: .avx512,
             sequence: "vpdpbusd zmm (64 MAC)", sequenceMACs: 64, peakRate: dot)
        conv("int8 i8 x s8", "avx512", source: (.i8, -127...127), weights: -127...127, isa: .avx512,
             sequence: "vpdpbusd zmm (64 MAC)", sequenceMACs: 64, peakRate: dot)
    }
    if CPUFeatures.hasAVX512VNNI && srvm_amx_available() != 0 {
        // 4 independent tdpbusd per iteration, each 16 x 16 x 64 MACs.
        let tile = peak(4 * 16 * 16 * 64) { Int32(truncatingIfNeeded: srvm_amx_peak_loop($0)) }
        conv("int8 u8 x s8", "amx", source: (.u8, 0...255), weights: -127...127, isa: .avx512, amx: true,
             sequence: "tdpbusd (16384 MAC)", sequenceMACs: 16384, peakRate: tile)
        conv("int8 i8 x s8", "amx", source: (.i8, -127...127), weights: -127...127, isa: .avx512, amx: true,
             sequence: "tdpbusd (16384 MAC)", sequenceMACs: 16384, peakRate: tile)
        conv("int16 i16 x s8", "amx", source: (.i16, -32767...32767), weights: -127...127, isa: .avx512, amx: true,
             sequence: "tdpbusd (16384 MAC), 2 per product", sequenceMACs: 16384, peakRate: tile / 2)
    }
    #endif
    return rows
}
