import QSRFormat
import SRVMKernelsAMX
import SRVMKernelsCommon
#if arch(x86_64)
import SRVMKernelsAVX512
#endif

/// A conv prepared for AMX tiles (SPEC.md §5.6, "AMX"): 16 or 32 pixels x 32 output channels
/// per call, every source byte format exact (u8 x s8 tdpbusd, s8 x s8 tdpbssd, s16 as a low and a
/// high byte plane), then the AVX-512 epilogue. Built for every conv of one group (after the
/// dense form of a few narrow groups); outputs are padded to a multiple of 16 with zero weights
/// (the epilogue stores only the real ones); an RGB head with byte sources runs on its gathered
/// (im2col) rows as one tap.
final class AMXConvPlan {
    let format: Int32
    /// Input bytes per K step (the sources' tile width, a multiple of 4, ≤ 64) and K steps per
    /// tap: kSteps·kBytes covers the tap's channels (the gathered vector for a head), and what it
    /// reads past them meets zero weights.
    let kBytes: Int, kSteps: Int
    let outputs: Int
    /// [chunk of 32][tap][kStep][half][kBytes/4][16][4] s8, zero past the inputs and outputs.
    let weights: UnsafeMutablePointer<Int8>
    let chunkBytes: Int
    /// The file's bias (AMX needs no offset correction) and requantization, per output channel.
    let requant: RequantTableStorage
    let padValues: [Int32]
    let channels: Int
    /// An RGB head on its gathered rows: the bytes of one pixel's gathered vector (else 0).
    let gatherBytes: Int
    /// Taps the tiles loop over (1 for a gathered head).
    let tileTaps: Int
    /// Pixels one call covers: two source tiles of 16 for bytes, one for split s16 (its two
    /// planes take both source tiles).
    var maxPixels: Int { format == Int32(SRVM_AMX_SPLIT16) ? 16 : 32 }
    /// How `srvm info` and `srvm microbench` name this operand format.
    var formatName: String { ["amx u8", "amx s8", "amx split s16"][Int(format)] }

    init?(params q: ConvParameters, groups: Int, weights w: [Int32], bias: [Int32], requant r: Requantization,
          padValues pads: [Int32]?, sourceType: StorageType, gathers: Bool) {
        let C = Int(q.inputChannels), O = Int(q.outputChannels), taps = Int(q.kernelHeight * q.kernelWidth)
        guard groups == 1 else { return nil }
        switch sourceType {
        case .u8: format = Int32(SRVM_AMX_U8)
        case .i8: format = Int32(SRVM_AMX_S8)
        case .i16 where !gathers: format = Int32(SRVM_AMX_SPLIT16)
        default: return nil
        }
        // K per tap in quads, split into steps of at most 16 quads (64 bytes).
        let K = gathers ? taps * C : C
        let quads = (K + 3) / 4
        kSteps = (quads + 15) / 16
        kBytes = 4 * ((quads + kSteps - 1) / kSteps)
        tileTaps = gathers ? 1 : taps
        // A word copy per tap spills up to 4 bytes past the tap's channels (ConvExecution.gatherRow).
        gatherBytes = gathers ? max(kSteps * kBytes, (taps - 1) * C + 4 + 3) / 4 * 4 : 0
        outputs = O; channels = C
        padValues = pads ?? [Int32](repeating: 0, count: C)
        let bBytes = kBytes * 16
        chunkBytes = tileTaps * kSteps * 2 * bBytes
        let chunkCount = (O + 31) / 32
        weights = .allocate(capacity: chunkCount * chunkBytes)
        weights.initialize(repeating: 0, count: chunkCount * chunkBytes)
        // The file's weight of output oc, element ic of a tap's K (the gathered vector's element
        // ic is tap ic / C, channel ic % C).
        func weight(_ oc: Int, tap t: Int, _ ic: Int) -> Int8 {
            guard oc < O, ic < K else { return 0 }
            let (tap, c) = gathers ? (ic / C, ic % C) : (t, ic)
            return Int8(w[(oc * C + c) * taps + tap])
        }
        for chunk in 0..<chunkCount {
            let halves = (O - chunk * 32) > 16 ? 2 : 1
            var at = chunk * chunkBytes
            for t in 0..<tileTaps {
                for s in 0..<kSteps {
                    for h in 0..<halves {
                        for row in 0..<(kBytes / 4) {
                            for o in 0..<16 {
                                for j in 0..<4 {
                                    weights[at + row * 64 + o * 4 + j] = weight(chunk * 32 + h * 16 + o, tap: t, s * kBytes + row * 4 + j)
                                }
                            }
                        }
                        at += bBytes
                    }
                }
            }
        }
        requant = RequantTableStorage(r, paddedChannels: (O + 15) / 16 * 16, bias: bias) { $0 < O ? $0 : nil }
    }

    deinit { weights.deallocate() }
}

/// Output rows a thread computes between refreshes of its split s16 input rows.
private let amxRowsPerChunk = 8

extension PreparedConv {
    /// runRows on AMX tiles: the same bytes as the vector tiles and the reference kernel.
    func runRowsAMX(_ plan: AMXConvPlan, _ rows: Range<Int>, src: UnsafeRawPointer, srcLayout: PixelLayout,
                    dst: UnsafeMutableRawPointer, dstLayout: PixelLayout, depthToSpace: (block: Int, layout: PixelLayout)?,
                    afterRows: ((Range<Int>) -> Void)? = nil) {
        #if arch(x86_64)
        srvm_amx_configure(Int32(plan.kBytes))
        let sx = Int(params.strideX)
        let H = srcLayout.height, W = srcLayout.width, Wo = dstLayout.width, T = plan.tileTaps
        let S = srcLayout.stride
        let split = plan.format == Int32(SRVM_AMX_SPLIT16)
        // The operand format's pixel: S bytes, or S low bytes then S high bytes (split s16).
        let pixelBytes = split ? 2 * S : S
        let rowBytes = W * pixelBytes
        let (dstType, pixelStep, store) = outputAddressing(dst: dst, dstLayout: dstLayout, depthToSpace: depthToSpace)

        // The pad pixel in the operand format, with room for a whole K step past the channels.
        let padBytes = max(pixelBytes, plan.kSteps * plan.kBytes) + 2 * S + 64
        let pad = UnsafeMutableRawPointer.allocate(byteCount: padBytes, alignment: 64)
        defer { pad.deallocate() }
        pad.initializeMemory(as: UInt8.self, repeating: 0, count: padBytes)
        for c in 0..<plan.channels {
            let v = plan.padValues[c]
            pad.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: c, as: UInt8.self)
            if split { pad.storeBytes(of: UInt8(truncatingIfNeeded: v >> 8), toByteOffset: S + c, as: UInt8.self) }
        }
        let pointers = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: (Wo + 1) * T)
        defer { pointers.deallocate() }
        // A gathered head: one row of gathered vectors, zero past each one's elements.
        let gatherBytes = plan.gatherBytes
        let gathered = UnsafeMutableRawPointer.allocate(byteCount: max(64, (Wo + 1) * gatherBytes + 64), alignment: 64)
        defer { gathered.deallocate() }
        if gatherBytes > 0 {
            gathered.initializeMemory(as: UInt8.self, repeating: 0, count: (Wo + 1) * gatherBytes + 64)
            for x in 0...Wo { pointers[x] = UnsafeRawPointer(gathered + x * gatherBytes) }
        }
        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: 32 * 32)
        defer { acc.deallocate() }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
        defer { scratch.deallocate() }
        let stagedRows = split ? windowRows(forOutputRows: amxRowsPerChunk) : 0
        let stage = UnsafeMutableRawPointer.allocate(byteCount: stagedRows * rowBytes + 64, alignment: 64)
        defer { stage.deallocate() }
        let tables = plan.requant.tables

        var yc = rows.lowerBound
        while yc < rows.upperBound {
            let ye = min(yc + amxRowsPerChunk, rows.upperBound)
            let (firstRow, insideRows) = inputWindow(yc..<ye, height: H)
            if split {
                for iy in insideRows {
                    srvm_amx_split16((src + iy * W * S * 2).assumingMemoryBound(to: Int16.self),
                                     (stage + (iy - firstRow) * rowBytes).assumingMemoryBound(to: UInt8.self), W, S)
                }
            }
            for y in yc..<ye {
                if gatherBytes > 0 {
                    gatherRow(y, src: src, srcLayout: srcLayout, gathered: gathered, gatherBytes: gatherBytes,
                              outputWidth: Wo, elementBytes: 1, wordCopies: true, pad: UnsafeRawPointer(pad))
                } else {
                    fillTapPointers(pointers, outputRow: y, outputWidth: Wo, inputHeight: H, inputWidth: W,
                                    pixelBytes: pixelBytes, pad: UnsafeRawPointer(pad)) { iy in
                        split ? UnsafeRawPointer(stage + (iy - firstRow) * rowBytes) : src + iy * rowBytes
                    }
                }
                var chunk = 0
                while chunk * 32 < plan.outputs {
                    let valid = min(32, plan.outputs - chunk * 32), halves = valid > 16 ? 2 : 1
                    var x0 = 0
                    while x0 < Wo {
                        let n = min(plan.maxPixels, Wo - x0)
                        var args = srvm_amx_conv_args(
                            pointers: UnsafeRawPointer(pointers + x0 * T).assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                            pad: UnsafeRawPointer(pad).assumingMemoryBound(to: UInt8.self),
                            weights: UnsafePointer(plan.weights + chunk * plan.chunkBytes), acc: acc,
                            scratch: scratch.assumingMemoryBound(to: UInt8.self),
                            taps: T, pixels: n, halves: halves, kBytes: plan.kBytes, kSteps: plan.kSteps,
                            channelOffset: 0, pixelStride: gatherBytes > 0 ? gatherBytes : sx * pixelBytes, hiOffset: S, format: plan.format)
                        srvm_amx_conv(&args)
                        requantizeTileAVX512(acc, pixels: n, blocks: 2 * halves, tables, channel: chunk * 32,
                                             validChannels: valid, out: store(y, x0, chunk * 32),
                                             pixelBytes: pixelStep, type: dstType)
                        x0 += n
                    }
                    chunk += 1
                }
            }
            afterRows?(yc..<ye)
            yc = ye
        }
        #endif
    }
}
