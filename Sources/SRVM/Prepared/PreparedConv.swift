import FixedPoint
import QSRFormat
import SRVMKernelsCommon

/// A conv instruction prepared once at load time (SPEC.md §5.6): weights packed into the
/// register tiles' layout, the operand format chosen from proven bounds, requantization
/// lanes per output channel, and the pad pixel (the pad values in the operand format) that
/// out-of-image taps point at, so no padded copy of the input is ever made.
final class PreparedConv {
    let params: ConvParameters
    let kind: ConvMicroKind
    /// Quad kinds: steps of s16 partial sums before a flush (2·max|x|·max|w|·K ≤ 32767).
    let flushInterval: Int
    /// Pair kind on a byte source: input rows are widened to s16 (a few rows per thread).
    let widensSource: Bool
    /// .quadOffset outside gathers: input rows are staged (a few rows per thread) as the
    /// unsigned bytes x + o once, and the tiles run as .quadUnsigned: the offset is added once
    /// per element instead of once per broadcast (each quad is broadcast once per tap and chunk).
    let offsetsSource: Bool
    /// The tiles' operand format (.quadUnsigned for a staged .quadOffset source).
    var tileKind: ConvMicroKind { offsetsSource ? .quadUnsigned : kind }
    /// .quadOffset: what the tiles add to every source byte (its o·Σw is out of the bias).
    let sourceOffset: Int32
    let groups: Int, groupInputs: Int, groupOutputs: Int
    let blocksPerGroup: Int, stepsPerTap: Int, taps: Int
    /// Few input channels (RGB heads): each output pixel's taps × channels are gathered into
    /// one contiguous vector per row (im2col), so the tiles run one long tap instead of many
    /// one-step taps; weights are packed as a 1x1 conv over (tap, channel).
    let gathers: Bool
    /// Taps the tiles loop over (1 when `gathers`).
    let tileTaps: Int
    /// Register-tile chunks: (group, first block, blocks 1 or 2, byte offset of its weights).
    let chunks: [(group: Int, firstBlock: Int, blocks: Int, weightOffset: Int)]
    let weights: UnsafeMutableRawPointer
    let requant: RequantTableStorage
    /// The pad value of every source channel in the operand format, then zeros.
    let padPixel: UnsafeMutableRawPointer
    let sourceType: StorageType
    /// Pair convs with at most 4 outputs (RGB tails) on SIMD ISAs sum along the input channels
    /// (convDotPair*): weights [output][tap][dotVector] s16, zero past the channels.
    let dotWeights: UnsafeMutablePointer<Int16>?
    /// Channels the channel-sum kernels read per tap: the group's inputs rounded up to 16.
    let dotVector: Int
    /// The AMX form of this conv (`amx` was asked for and its tiles cover the conv), run instead
    /// of the vector tiles.
    let amxPlan: AMXConvPlan?

    init(params q: ConvParameters, weights fileWeights: [Int32], bias: [Int32], requant r: Requantization,
         padValues: [Int32]?, source: ValueDescriptor, sourceRange: ClosedRange<Int32>, isa: PreparedISA, amx: Bool = false) {
        params = q
        let C = Int(q.inputChannels), O = Int(q.outputChannels)
        // A grouped conv with a few narrow groups (XLSR's 4 groups of 8) runs as the dense conv
        // with block-diagonal weights: its tiles then do ≤ 4x the products in whole register
        // tiles instead of one 8-channel block per group with two steps per tap; the added
        // products are with zero weights, so the sums are the same.
        let G = Self.runGroups(q)
        let denseGroups = G != Int(q.group)
        let w = denseGroups ? blockDiagonalWeights(fileWeights, params: q) : fileWeights
        groups = G; groupInputs = C / G; groupOutputs = O / G
        blocksPerGroup = (groupOutputs + 7) / 8
        taps = Int(q.kernelHeight * q.kernelWidth)
        sourceType = StorageType(rawValue: source.type.rawValue)!

        // Operand bounds: what the source can hold and what the pads add.
        var lo = sourceRange.lowerBound, hi = sourceRange.upperBound
        for v in padValues ?? [0] { lo = min(lo, v); hi = max(hi, v) }
        let maxA = Int((lo...hi).magnitude)
        let maxW = w.map { abs(Int($0)) }.max() ?? 0
        let pairBound = 2 * maxA * maxW
        let interval = pairBound == 0 ? 1 << 20 : min(1 << 20, 32767 / pairBound)
        let byteSource = source.type == .u8 || source.type == .i8
        let noMinWeight = !w.contains(-128)   // vpsignb cannot negate -128
        // vpmaddubsw's s16 partial sums of sources shifted by `o` (x + o ≥ 0): steps before a flush.
        func steps(shiftedMax: Int) -> Int { shiftedMax * maxW == 0 ? 1 << 20 : min(1 << 20, 32767 / (2 * shiftedMax * maxW)) }
        let offsetInterval = lo < 0 ? steps(shiftedMax: Int(hi) - Int(lo)) : 0
        var widen = false
        if isa.hasDotProducts && byteSource {
            // vpdpbusd sums u8 x s8 quads straight into int32: exact for every byte operand;
            // signed bytes are read with their sign bit flipped (x + 128), see `.quadOffset`.
            kind = lo >= 0 ? .quadUnsigned : .quadOffset
            sourceOffset = lo >= 0 ? 0 : 128
            flushInterval = 1 << 20
        } else if byteSource && lo >= 0 && interval >= 1 {
            // u8: s16 partial sums flushed every `interval` steps (1: every step, vpmaddwd by ones).
            kind = .quadUnsigned; sourceOffset = 0; flushInterval = interval
        } else if byteSource && lo < 0 && offsetInterval >= 2 {
            // Small signed sources (4-bit): x − lo is a small unsigned byte, one vpaddb per broadcast.
            kind = .quadOffset; sourceOffset = -lo; flushInterval = offsetInterval
        } else if byteSource && lo < 0 && interval >= 2 && noMinWeight {
            // Signed bytes whose s16 partial sums last 2+ steps (small weights). Where they
            // would flush every step (8-bit sources and weights), |x|, the sign move and two
            // multiplies per quad cost more than s16 pairs (EDSR's i8 body convs, AVX2, 1
            // thread: 47-53 -> 39 ms), so those widen to pairs below.
            kind = .quadSigned; sourceOffset = 0; flushInterval = interval
        } else {
            kind = .pair; sourceOffset = 0; flushInterval = 1; widen = byteSource
        }
        let k = kind.channelsPerStep
        gathers = G == 1 && taps > 1 && C <= 4
        tileTaps = gathers ? 1 : taps
        stepsPerTap = ((gathers ? taps * C : groupInputs) + k - 1) / k
        widensSource = widen && !gathers   // a gather converts to the operand format itself
        offsetsSource = kind == .quadOffset && !gathers

        // What the epilogue requantizes is bounded by this (the bounded form below 2^30).
        let bound = Self.sumBound(weights: w, outputs: O, bias: bias, maxSource: maxA)
        amxPlan = amx ? AMXConvPlan(params: q, groups: G, weights: w, bias: bias, requant: r, padValues: padValues,
                                    sourceType: sourceType, sumBound: bound) : nil

        // Chunks of up to 2 blocks per group; weights [tap][step][block][lane][k] per chunk
        // (none when the AMX tiles run the conv: they have their own packing).
        var list: [(Int, Int, Int, Int)] = []
        var offset = 0
        let tapsCount = tileTaps, steps = stepsPerTap
        let chunkBytes = { (blocks: Int) in tapsCount * steps * blocks * 32 }
        for g in 0..<G where amxPlan == nil {
            var b = 0
            while b < blocksPerGroup {
                let left = blocksPerGroup - b
                let n = left >= isa.maxChunkBlocks ? isa.maxChunkBlocks : (left >= 2 ? 2 : 1)
                list.append((g, b, n, offset)); offset += chunkBytes(n); b += n
            }
        }
        chunks = list
        weights = .allocate(byteCount: max(offset, 32), alignment: 64)
        weights.initializeMemory(as: UInt8.self, repeating: 0, count: max(offset, 32))
        let kh = Int(q.kernelHeight), kw = Int(q.kernelWidth), cg = groupInputs, og = groupOutputs
        let gathered = gathers, T = taps
        for (g, b0, n, base) in chunks {
            var at = base
            for t in 0..<tileTaps {
                let ky = t / kw, kx = t % kw
                for s in 0..<stepsPerTap {
                    for m in 0..<n {
                        for lane in 0..<8 {
                            let oj = (b0 + m) * 8 + lane
                            for j in 0..<k {
                                let ic = s * k + j
                                var v: Int32 = 0
                                if gathered {
                                    // Element ic of the gathered vector is tap ic / C, channel ic % C.
                                    if oj < og && ic < T * cg { v = w[((g * og + oj) * cg + ic % cg) * T + ic / cg] }
                                } else if oj < og && ic < cg { v = w[(((g * og + oj) * cg + ic) * kh + ky) * kw + kx] }
                                if kind == .pair {
                                    weights.storeBytes(of: Int16(v), toByteOffset: at + (lane * k + j) * 2, as: Int16.self)
                                } else {
                                    weights.storeBytes(of: Int8(v), toByteOffset: at + lane * k + j, as: Int8.self)
                                }
                            }
                        }
                        at += 32
                    }
                }
            }
        }

        let bpg = blocksPerGroup
        // .quadOffset sums (x + o)·w: take o·Σw out of each bias (wrapping, as the sums do).
        var adjustedBias = bias
        if kind == .quadOffset {
            let perOutput = cg * taps
            for o in 0..<O {
                var sum: Int32 = 0
                for i in 0..<perOutput { sum &+= w[o * perOutput + i] }
                adjustedBias[o] = bias[o] &- sourceOffset &* sum
            }
        }
        requant = RequantTableStorage(r, paddedChannels: G * bpg * 8, bias: adjustedBias, inputBound: bound) { i in
            let g = i / (bpg * 8), oj = i % (bpg * 8)
            return oj < og ? g * og + oj : nil
        }

        if kind == .pair && G == 1 && O <= 4 && !gathers && C >= 16 && isa.hasAVX2 && amxPlan == nil {
            let v = (C + 15) / 16 * 16, T = taps
            let dw = UnsafeMutablePointer<Int16>.allocate(capacity: O * T * v)
            dw.initialize(repeating: 0, count: O * T * v)
            for o in 0..<O {
                for t in 0..<T {
                    for c in 0..<C { dw[(o * T + t) * v + c] = Int16(w[(o * C + c) * T + t]) }
                }
            }
            dotWeights = dw; dotVector = v
        } else {
            dotWeights = nil; dotVector = 0
        }

        let eb = kind.elementBytes
        let padBytes = ((C + 7) / 8 * 8 + 8) * eb + 64
        padPixel = .allocate(byteCount: padBytes, alignment: 64)
        padPixel.initializeMemory(as: UInt8.self, repeating: 0, count: padBytes)
        for c in 0..<C {
            let v = padValues?[c] ?? 0
            if eb == 2 { padPixel.storeBytes(of: Int16(v), toByteOffset: 2 * c, as: Int16.self) }
            else {
                // A staged offset source points at pad bytes already offset.
                let b = offsetsSource ? Int32(truncatingIfNeeded: UInt8(truncatingIfNeeded: v &+ sourceOffset)) : v
                padPixel.storeBytes(of: UInt8(truncatingIfNeeded: b), toByteOffset: c, as: UInt8.self)
            }
        }
    }

    deinit { weights.deallocate(); padPixel.deallocate(); dotWeights?.deallocate() }
}

extension PreparedConv {
    /// The largest |Σ x·w + bias| an output can reach with |x| ≤ maxSource (pad values
    /// included): what the epilogue requantizes, whatever offsets the tiles add and the bias
    /// takes back. The weights' sums per output, not max|w| times K, so a 16-bit conv usually
    /// stays under 2^30 (the bounded requantization).
    static func sumBound(weights w: [Int32], outputs O: Int, bias: [Int32], maxSource: Int) -> Int64 {
        let perOutput = w.count / max(O, 1)
        var worst: Int64 = 0
        for o in 0..<O {
            var s: Int64 = 0
            for i in 0..<perOutput { s += Int64(w[o * perOutput + i].magnitude) }
            worst = max(worst, s * Int64(maxSource) + Int64(bias[o].magnitude))
        }
        return worst
    }

    /// The groups a conv runs as: 1 for a few narrow groups (their dense form, see init).
    static func runGroups(_ q: ConvParameters) -> Int {
        let G = Int(q.group)
        return G > 1 && G <= 4 && Int(q.inputChannels) / G <= 8 ? 1 : G
    }
}

/// Grouped weights [O][C/G][kh][kw] as dense [O][C][kh][kw]: zero outside each output's group.
func blockDiagonalWeights(_ w: [Int32], params q: ConvParameters) -> [Int32] {
    let C = Int(q.inputChannels), O = Int(q.outputChannels), G = Int(q.group)
    let cg = C / G, og = O / G, taps = Int(q.kernelHeight * q.kernelWidth)
    var dense = [Int32](repeating: 0, count: O * C * taps)
    for o in 0..<O {
        let g = o / og
        for i in 0..<cg {
            for t in 0..<taps { dense[(o * C + g * cg + i) * taps + t] = w[(o * cg + i) * taps + t] }
        }
    }
    return dense
}
