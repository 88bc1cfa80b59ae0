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
/// (the epilogue stores only the real ones). A conv with few channels (an RGB head, XLSR's dense
/// groups) merges each kernel row's taps into one K vector: its source rows are staged with their
/// pad columns (split s16: as a low and a high byte plane), so a kernel row's kw pixels are kw·S
/// adjacent bytes, and a strided tile load reads them for 16 pixels at once (no gather, no
/// border case).
final class AMXConvPlan {
    let format: Int32
    /// Input bytes per K step (the sources' tile width, a multiple of 4, ≤ 64) and K steps per
    /// tap: kSteps·kBytes covers the tap's channels (the gathered vector for a head), and what it
    /// reads past them meets zero weights.
    let kBytes: Int, kSteps: Int
    /// Taps merged by kernel row (see the type's comment): the tiles loop over kh tap rows.
    let mergesRows: Bool
    let outputs: Int
    /// [chunk of 32][tap][kStep][half][kBytes/4][16][4] s8, zero past the inputs and outputs.
    let weights: UnsafeMutablePointer<Int8>
    let chunkBytes: Int
    /// The file's bias (AMX needs no offset correction) and requantization, per output channel.
    let requant: RequantTableStorage
    let padValues: [Int32]
    let channels: Int
    /// Taps the tiles loop over (kernel rows when mergesRows).
    let tileTaps: Int
    /// How `srvm info` and `srvm microbench` name this operand format.
    var formatName: String { ["amx u8", "amx s8", "amx split s16"][Int(format)] }

    /// Whether a conv of `groups` (as it runs) merges its taps by kernel row: byte or split s16
    /// sources, adjacent columns (dilation 1), and fewer K steps per kernel row than per-tap steps take
    /// (a head's 3 channels, XLSR's dense 32: kw·S bytes in ⌈kw·S/64⌉ steps against kw·⌈C/64⌉).
    static func mergesRows(params q: ConvParameters, groups: Int, sourceType: StorageType) -> Bool {
        let kw = Int(q.kernelWidth), C = Int(q.inputChannels), S = (C + 7) / 8 * 8
        return sourceType != .i32 && groups == 1 && kw > 1 && q.dilationX == 1
            && (kw * S + 63) / 64 < kw * ((C + 63) / 64)
    }

    init?(params q: ConvParameters, groups: Int, weights w: [Int32], bias: [Int32], requant r: Requantization,
          padValues pads: [Int32]?, sourceType: StorageType, sumBound: Int64) {
        let C = Int(q.inputChannels), O = Int(q.outputChannels), taps = Int(q.kernelHeight * q.kernelWidth)
        let kw = Int(q.kernelWidth), S = (C + 7) / 8 * 8
        guard groups == 1 else { return nil }
        switch sourceType {
        case .u8: format = Int32(SRVM_AMX_U8)
        case .i8: format = Int32(SRVM_AMX_S8)
        case .i16: format = Int32(SRVM_AMX_SPLIT16)
        default: return nil
        }
        let merged = Self.mergesRows(params: q, groups: groups, sourceType: sourceType)
        mergesRows = merged
        // K per tap (or tap row) in quads, split into steps of at most 16 quads (64 bytes).
        let K = merged ? kw * S : C
        let quads = (K + 3) / 4
        kSteps = (quads + 15) / 16
        kBytes = 4 * ((quads + kSteps - 1) / kSteps)
        tileTaps = merged ? Int(q.kernelHeight) : taps
        outputs = O; channels = C
        padValues = pads ?? [Int32](repeating: 0, count: C)
        let bBytes = kBytes * 16
        chunkBytes = tileTaps * kSteps * 2 * bBytes
        let chunkCount = (O + 31) / 32
        // 64-byte aligned, as every tile (bBytes is a multiple of 64): a tile row that straddles
        // two cache lines makes each tile load half as fast.
        weights = UnsafeMutableRawPointer.allocate(byteCount: chunkCount * chunkBytes, alignment: 64)
            .initializeMemory(as: Int8.self, repeating: 0, count: chunkCount * chunkBytes)
        // The file's weight of output oc, element ic of tap t's K (of kernel row t's K when
        // merged: element ic is column ic / S, channel ic % S; zero on the channel padding).
        func weight(_ oc: Int, tap t: Int, _ ic: Int) -> Int8 {
            guard oc < O, ic < K else { return 0 }
            let (tap, c) = merged ? (t * kw + ic / S, ic % S) : (t, ic)
            return c < C ? Int8(w[(oc * C + c) * taps + tap]) : 0
        }
        let tapCount = tileTaps, steps = kSteps, stepBytes = kBytes
        for chunk in 0..<chunkCount {
            let halves = (O - chunk * 32) > 16 ? 2 : 1
            var at = chunk * chunkBytes
            for t in 0..<tapCount {
                for s in 0..<steps {
                    for h in 0..<halves {
                        for row in 0..<(stepBytes / 4) {
                            for o in 0..<16 {
                                for j in 0..<4 {
                                    weights[at + row * 64 + o * 4 + j] = weight(chunk * 32 + h * 16 + o, tap: t, s * stepBytes + row * 4 + j)
                                }
                            }
                        }
                        at += bBytes
                    }
                }
            }
        }
        requant = RequantTableStorage(r, paddedChannels: (O + 15) / 16 * 16, bias: bias, inputBound: sumBound) { $0 < O ? $0 : nil }
    }

    deinit { weights.deallocate() }
}

/// Output rows a thread computes between refreshes of its split s16 input rows.
private let amxRowsPerChunk = 8
/// Output pixels of one row per AMX call: one group of 32 (two of 16 split s16), whose int32 sums
/// (4 KiB, double buffered) the epilogue reads while the next call's products run.
private let amxPixelsPerCall = 32

extension PreparedConv {
    /// runRows on AMX tiles: the same bytes as the vector tiles and the reference kernel.
    func runRowsAMX(_ plan: AMXConvPlan, _ rows: Range<Int>, src: UnsafeRawPointer, srcLayout: PixelLayout,
                    dst: UnsafeMutableRawPointer, dstLayout: PixelLayout, depthToSpace: (block: Int, layout: PixelLayout)?,
                    afterRows: ((Range<Int>) -> Void)? = nil) {
        #if arch(x86_64)
        srvm_amx_configure(Int32(plan.kBytes))
        let sx = Int(params.strideX), sy = Int(params.strideY), dy = Int(params.dilationY)
        let H = srcLayout.height, W = srcLayout.width, Wo = dstLayout.width, T = plan.tileTaps
        let S = srcLayout.stride, C = plan.channels
        let split = plan.format == Int32(SRVM_AMX_SPLIT16), merged = plan.mergesRows
        // The operand format's pixel: S bytes, or S low bytes then S high bytes (split s16); a
        // merged conv's staged pixel holds its channels in whole quads (split s16: in each of a
        // staged row's two planes, low bytes then high bytes).
        let pixelBytes = merged ? (C + 7) / 8 * 8 : (split ? 2 * S : S)
        let rowBytes = W * pixelBytes
        let (dstType, pixelStep, store) = outputAddressing(dst: dst, dstLayout: dstLayout, depthToSpace: depthToSpace)

        // The pad pixel in the operand format, with room for a whole K step past the channels.
        let padBytes = max(pixelBytes, plan.kSteps * plan.kBytes) + 2 * S + 64
        let pad = UnsafeMutableRawPointer.allocate(byteCount: padBytes, alignment: 64)
        defer { pad.deallocate() }
        pad.initializeMemory(as: UInt8.self, repeating: 0, count: padBytes)
        for c in 0..<C {
            let v = plan.padValues[c]
            pad.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: c, as: UInt8.self)
            if split { pad.storeBytes(of: UInt8(truncatingIfNeeded: v >> 8), toByteOffset: S + c, as: UInt8.self) }
        }
        let taps = UnsafeMutablePointer<srvm_amx_tap>.allocate(capacity: T)
        defer { taps.deallocate() }
        // Aligned for the tile stores and the epilogue's loads (see weights).
        let acc = UnsafeMutableRawPointer.allocate(byteCount: 2 * amxPixelsPerCall * 32 * 4, alignment: 64).bindMemory(to: Int32.self, capacity: 2 * amxPixelsPerCall * 32)
        defer { acc.deallocate() }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
        defer { scratch.deallocate() }
        // Staged input rows: split s16 planes, or a merged conv's rows with their pad columns
        // (column ix + padLeft holds input column ix) and a K step of slack past the last.
        let padLeft = Int(params.padLeft), kw = Int(params.kernelWidth)
        let stageColumns = merged ? max((Wo - 1) * sx + kw, padLeft + W) : W
        let planes = split ? 2 : 1, planeBytes = stageColumns * pixelBytes
        let stageRowBytes = merged ? planes * planeBytes : rowBytes
        let stagedRows = split || merged ? windowRows(forOutputRows: amxRowsPerChunk) : 0
        let stage = UnsafeMutableRawPointer.allocate(byteCount: stagedRows * stageRowBytes + 128, alignment: 64)
        defer { stage.deallocate() }
        stage.initializeMemory(as: UInt8.self, repeating: 0, count: stagedRows * stageRowBytes + 128)
        // A merged conv's row of pad pixels, the source of every staged pad column and row.
        let padRow = UnsafeMutableRawPointer.allocate(byteCount: merged ? stageRowBytes : 1, alignment: 64)
        defer { padRow.deallocate() }
        if merged {
            for plane in 0..<planes {
                for x in 0..<stageColumns { (padRow + plane * planeBytes + x * pixelBytes).copyMemory(from: pad + plane * S, byteCount: pixelBytes) }
            }
        }
        let sourceBytes = S * srcLayout.type.byteWidth
        let tables = plan.requant.tables

        var yc = rows.lowerBound
        while yc < rows.upperBound {
            let ye = min(yc + amxRowsPerChunk, rows.upperBound)
            let (firstRow, insideRows) = inputWindow(yc..<ye, height: H)
            if split && !merged {
                for iy in insideRows {
                    let to = stage + (iy - firstRow) * rowBytes
                    srvm_amx_split16((src + iy * W * S * 2).assumingMemoryBound(to: Int16.self), S, to.assumingMemoryBound(to: UInt8.self),
                                     (to + S).assumingMemoryBound(to: UInt8.self), W, S, pixelBytes)
                }
            } else if merged {
                for r in 0..<windowRows(forOutputRows: ye - yc) {
                    let iy = firstRow + r, to = stage + r * stageRowBytes
                    guard iy >= 0 && iy < H else { to.copyMemory(from: padRow, byteCount: stageRowBytes); continue }
                    let right = stageColumns - padLeft - W
                    for plane in 0..<planes {
                        let at = plane * planeBytes
                        (to + at).copyMemory(from: padRow + at, byteCount: padLeft * pixelBytes)
                        if right > 0 { (to + at + (padLeft + W) * pixelBytes).copyMemory(from: padRow + at, byteCount: right * pixelBytes) }
                    }
                    let from = src + iy * W * sourceBytes, inner = to + padLeft * pixelBytes
                    if split {
                        srvm_amx_split16(from.assumingMemoryBound(to: Int16.self), S, inner.assumingMemoryBound(to: UInt8.self),
                                                (inner + planeBytes).assumingMemoryBound(to: UInt8.self), W, C, pixelBytes)
                    } else if sourceBytes == pixelBytes {
                        inner.copyMemory(from: from, byteCount: W * pixelBytes)
                    } else {
                        // A view's channels inside wider pixels.
                        for x in 0..<W { (inner + x * pixelBytes).copyMemory(from: from + x * sourceBytes, byteCount: C) }
                    }
                }
            }
            for y in yc..<ye {
                if merged {
                    // Kernel row ky of pixel x: staged row (y − yc)·sy + ky·dy, columns x·sx ..< x·sx + kw.
                    for ky in 0..<T {
                        taps[ky] = srvm_amx_tap(base: Int(bitPattern: stage + ((y - yc) * sy + ky * dy) * stageRowBytes), xLo: 0, xHi: Wo)
                    }
                } else {
                    forEachTapRun(outputRow: y, outputWidth: Wo, inputHeight: H, inputWidth: W, pixelBytes: pixelBytes, row: { iy in
                        split ? UnsafeRawPointer(stage + (iy - firstRow) * rowBytes) : src + iy * rowBytes
                    }) { t, base, xLo, xHi in taps[t] = srvm_amx_tap(base: base, xLo: xLo, xHi: xHi) }
                }
                // Software pipelined: call i's tile products are issued before call i − 1's
                // epilogue, so the AVX-512 requantization can run while the tile unit works (in
                // sequence each waits for the other). Measured (srvm microbench, 3x3 64->64 u8):
                // 743-775 -> 778-819 GMAC/s; the same conv without any epilogue runs 1390.
                var previous: (chunk: Int, x0: Int, n: Int, acc: UnsafeMutablePointer<Int32>)? = nil
                func epilogue(_ item: (chunk: Int, x0: Int, n: Int, acc: UnsafeMutablePointer<Int32>)) {
                    let valid = min(32, plan.outputs - item.chunk * 32), halves = valid > 16 ? 2 : 1
                    requantizeTileAVX512(item.acc, pixels: item.n, blocks: 2 * halves, tables, channel: item.chunk * 32,
                                         validChannels: valid, out: store(y, item.x0, item.chunk * 32),
                                         pixelBytes: pixelStep, type: dstType)
                }
                var chunk = 0, flip = 0
                while chunk * 32 < plan.outputs {
                    let valid = min(32, plan.outputs - chunk * 32), halves = valid > 16 ? 2 : 1
                    var x0 = 0
                    while x0 < Wo {
                        let n = min(amxPixelsPerCall, Wo - x0)
                        let buffer = acc + flip * amxPixelsPerCall * 32
                        flip ^= 1
                        var args = srvm_amx_conv_args(
                            taps: UnsafePointer(taps), pad: UnsafeRawPointer(pad).assumingMemoryBound(to: UInt8.self),
                            weights: UnsafePointer(plan.weights + chunk * plan.chunkBytes), acc: buffer,
                            scratch: scratch.assumingMemoryBound(to: UInt8.self),
                            x0: x0, pixels: n, tapCount: T, halves: halves, kBytes: plan.kBytes, kSteps: plan.kSteps,
                            pixelStride: sx * pixelBytes, hiOffset: merged ? planeBytes : S, format: plan.format)
                        srvm_amx_conv(&args)
                        if let p = previous { epilogue(p) }
                        previous = (chunk, x0, n, buffer)
                        x0 += n
                    }
                    chunk += 1
                }
                if let p = previous { epilogue(p) }
            }
            afterRows?(yc..<ye)
            yc = ye
        }
        #endif
    }
}
