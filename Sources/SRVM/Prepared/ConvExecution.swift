import QSRFormat
import SRRuntime
import SRVMKernelsCommon
#if arch(x86_64)
import SRVMKernelsAVX2
import SRVMKernelsVNNI
import SRVMKernelsAVX512
#endif

/// Which tile and epilogue implementations the prepared engine calls.
enum PreparedISA: Sendable {
    case portable, avx2
    /// AVX2 with AVX-VNNI conv tiles.
    case vnni
    /// AVX2 with AVX-512 VNNI conv tiles (zmm; chunks of up to 4 blocks).
    case avx512
    /// The element-wise kernels and conv epilogues are AVX2 code.
    var hasAVX2: Bool { self != .portable }
    /// Dot-product instructions that take any u8 x s8 quad exactly (VNNI).
    var hasDotProducts: Bool { self == .vnni || self == .avx512 }
    /// Blocks of 8 output channels one register tile covers at most.
    var maxChunkBlocks: Int { self == .avx512 ? 4 : 2 }
}

/// Output rows a thread computes between refreshes of its widened input rows: small, so the
/// staged rows stay in cache and a thread never holds more than a few rows of the input.
private let rowsPerChunk = 8

extension PreparedConv {
    /// Runs the conv over output rows split across `threads` (each row's result does not
    /// depend on the split, so every thread count gives the same bytes).
    /// `depthToSpace`: the results go through a depth_to_space of `block` into `dst`, laid out
    /// as its destination (`dstLayout` is the conv's own output shape); the output channels are
    /// in DCR order, each chunk within one sub-pixel.
    /// `afterRows`: called by the thread that computed them with each band of finished output
    /// rows (a few at a time, in order), so a row-local consumer can read them while they are in cache.
    func run(src: UnsafeRawPointer, srcLayout: PixelLayout, dst: UnsafeMutableRawPointer, dstLayout: PixelLayout,
             isa: PreparedISA, threads: Int, depthToSpace: (block: Int, layout: PixelLayout)? = nil,
             afterRows: ((Range<Int>) -> Void)? = nil) {
        // A thread's share is at least a few rows, so tiny outputs (the [C,1,1] attention
        // convs) do not pay for waking threads.
        let work = dstLayout.height * dstLayout.width * groupOutputs * taps * groupInputs
        let useThreads = work < 1 << 16 ? 1 : threads
        parallelRanges(dstLayout.height, threads: useThreads) { rows in
            if let plan = self.amxPlan {
                self.runRowsAMX(plan, rows, src: src, srcLayout: srcLayout, dst: dst, dstLayout: dstLayout, depthToSpace: depthToSpace,
                                afterRows: afterRows)
                return
            }
            self.runRows(rows, src: src, srcLayout: srcLayout, dst: dst, dstLayout: dstLayout, isa: isa, depthToSpace: depthToSpace,
                         afterRows: afterRows)
        }
    }

    func runRows(_ rows: Range<Int>, src: UnsafeRawPointer, srcLayout: PixelLayout, dst: UnsafeMutableRawPointer,
                 dstLayout: PixelLayout, isa: PreparedISA, depthToSpace: (block: Int, layout: PixelLayout)? = nil,
                 afterRows: ((Range<Int>) -> Void)? = nil) {
        let H = srcLayout.height, W = srcLayout.width, Wo = dstLayout.width
        let T = taps, eb = kind.elementBytes
        let pixelBytes = srcLayout.stride * eb
        let rowBytes = W * pixelBytes
        let (dstType, pixelStep, store) = outputAddressing(dst: dst, dstLayout: dstLayout, depthToSpace: depthToSpace)
        let tables = requant.tables
        let pad = UnsafeRawPointer(padPixel)

        // One spare pixel of pointers (to the pad pixel): AVX-512's 1-block tiles compute pixels in pairs.
        let pointers = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: (Wo + 1) * T)
        defer { pointers.deallocate() }
        for t in 0..<T { pointers[Wo * T + t] = pad }
        // `gathers`: one row of gathered vectors (taps × channels, zero past them), one spare pixel.
        let gatherBytes = gathers ? stepsPerTap * kind.channelsPerStep * eb : 0
        let gathered = UnsafeMutableRawPointer.allocate(byteCount: max(64, (Wo + 1) * gatherBytes + 64), alignment: 64)
        defer { gathered.deallocate() }
        if gathers {
            gathered.initializeMemory(as: UInt8.self, repeating: 0, count: (Wo + 1) * gatherBytes + 64)
            for x in 0...Wo { pointers[x] = UnsafeRawPointer(gathered + x * gatherBytes) }
        }
        let acc = UnsafeMutableRawPointer.allocate(byteCount: 16 * 4 * 8 * 4, alignment: 64).bindMemory(to: Int32.self, capacity: 16 * 4 * 8)
        defer { acc.deallocate() }
        let stages = widensSource || offsetsSource
        let stagedRows = stages ? windowRows(forOutputRows: rowsPerChunk) : 0
        let stage = UnsafeMutableRawPointer.allocate(byteCount: stagedRows * rowBytes + 64, alignment: 64)
        defer { stage.deallocate() }

        var yc = rows.lowerBound
        while yc < rows.upperBound {
            let ye = min(yc + rowsPerChunk, rows.upperBound)
            let (firstRow, insideRows) = inputWindow(yc..<ye, height: H)
            if stages {
                for iy in insideRows {
                    let from = src + iy * W * srcLayout.stride * sourceType.byteWidth, to = stage + (iy - firstRow) * rowBytes
                    if offsetsSource {
                        offsetRow(from, to: to, count: W * srcLayout.stride, offset: UInt8(truncatingIfNeeded: sourceOffset), isa: isa)
                    } else {
                        widenRow(from, to: to, count: W * srcLayout.stride, type: sourceType)
                    }
                }
            }
            for y in yc..<ye {
                if gathers {
                    gatherRow(y, src: src, srcLayout: srcLayout, gathered: gathered, gatherBytes: gatherBytes,
                              outputWidth: Wo, elementBytes: eb, wordCopies: gathersWords(eb: eb), pad: pad)
                } else {
                    fillTapPointers(pointers, outputRow: y, outputWidth: Wo, inputHeight: H, inputWidth: W, pixelBytes: pixelBytes, pad: pad) { iy in
                        stages ? UnsafeRawPointer(stage + (iy - firstRow) * rowBytes) : src + iy * rowBytes
                    }
                }
                #if arch(x86_64)
                if let dw = dotWeights {
                    // Few outputs: sums along the channels, two pixels at a time, then the tile epilogue.
                    var x0 = 0
                    while x0 < Wo {
                        let nr = min(2, Wo - x0)
                        if isa == .avx512 {
                            convDotPairAVX512(pointers: pointers + x0 * T, pixels: nr, taps: T, outputs: groupOutputs, vector: dotVector, weights: dw, acc: acc)
                        } else {
                            convDotPairAVX2(pointers: pointers + x0 * T, pixels: nr, taps: T, outputs: groupOutputs, vector: dotVector, weights: dw, acc: acc)
                        }
                        requantizeTileAVX2(acc, pixels: nr, blocks: 1, tables, channel: 0, validChannels: groupOutputs, out: store(y, x0, 0),
                                           pixelBytes: pixelStep, type: dstType)
                        x0 += nr
                    }
                    continue
                }
                #endif
                for chunk in chunks {
                    let weightsBase = UnsafeRawPointer(weights + chunk.weightOffset)
                    let channelOffset = chunk.group * groupInputs * eb
                    let maxPixels = tilePixels(isa, blocks: chunk.blocks)
                    var x0 = 0
                    while x0 < Wo {
                        let nr = min(maxPixels, Wo - x0)
                        let args = ConvMicroArgs(pointers: pointers + x0 * tileTaps, taps: tileTaps, steps: stepsPerTap, channelOffset: channelOffset,
                                                 weights: weightsBase, acc: acc, flushInterval: flushInterval,
                                                 sourceOffset: offsetsSource ? 0 : sourceOffset)
                        let kind = tileKind
                        switch isa {
                        case .portable: convMicroPortable(kind, pixels: nr, blocks: chunk.blocks, args)
                        #if arch(x86_64)
                        case .avx2: convMicroAVX2(kind, pixels: nr, blocks: chunk.blocks, args)
                        case .vnni: convMicroVNNI(kind, pixels: nr, blocks: chunk.blocks, args)
                        case .avx512: convMicroAVX512(kind, pixels: nr, blocks: chunk.blocks, args)
                        #else
                        case .avx2, .vnni, .avx512: convMicroPortable(kind, pixels: nr, blocks: chunk.blocks, args)
                        #endif
                        }
                        #if arch(x86_64)
                        if isa.hasAVX2 {
                            let c = (chunk.group * blocksPerGroup + chunk.firstBlock) * 8
                            let out = store(y, x0, chunk.group * groupOutputs + chunk.firstBlock * 8)
                            if isa == .avx512 {
                                requantizeTileAVX512(acc, pixels: nr, blocks: chunk.blocks, tables, channel: c,
                                                     validChannels: groupOutputs - chunk.firstBlock * 8, out: out,
                                                     pixelBytes: pixelStep, type: dstType)
                            } else {
                                requantizeTileAVX2(acc, pixels: nr, blocks: chunk.blocks, tables, channel: c,
                                                   validChannels: groupOutputs - chunk.firstBlock * 8, out: out,
                                                   pixelBytes: pixelStep, type: dstType)
                            }
                            x0 += nr
                            continue
                        }
                        #endif
                        for p in 0..<nr {
                            for m in 0..<chunk.blocks {
                                let bj = chunk.firstBlock + m
                                let count = min(8, groupOutputs - bj * 8)
                                let out = store(y, x0 + p, chunk.group * groupOutputs + bj * 8)
                                let lanes = UnsafePointer(acc + (p * chunk.blocks + m) * 8)
                                let c = (chunk.group * blocksPerGroup + bj) * 8
                                requantizeStorePortable(lanes, tables, channel: c, count: count, out: out, type: dstType)
                            }
                        }
                        x0 += nr
                    }
                }
            }
            afterRows?(yc..<ye)
            yc = ye
        }
    }
}

extension PreparedConv {
    /// The input rows output rows `out` read: the window's first row (negative above the
    /// image) and those of its rows inside the image (the ones a staged window copies).
    func inputWindow(_ out: Range<Int>, height H: Int) -> (first: Int, inside: StrideThrough<Int>) {
        let q = params
        let sy = Int(q.strideY), pt = Int(q.padTop), span = (Int(q.kernelHeight) - 1) * Int(q.dilationY)
        let first = out.lowerBound * sy - pt, last = (out.upperBound - 1) * sy - pt + span
        return (first, stride(from: max(0, first), through: min(H - 1, last), by: 1))
    }

    /// Input rows in the window of `count` output rows (the rows a staged window holds).
    func windowRows(forOutputRows count: Int) -> Int {
        (count - 1) * Int(params.strideY) + (Int(params.kernelHeight) - 1) * Int(params.dilationY) + 1
    }

    /// The destination type, the bytes from one output pixel to the next, and where output
    /// channel c (a block's first) of pixel (y, x) is stored: in `dst` as `dstLayout`, or through
    /// a depth_to_space of `block` into `dst` laid out as its destination (channels in DCR order).
    func outputAddressing(dst: UnsafeMutableRawPointer, dstLayout: PixelLayout, depthToSpace: (block: Int, layout: PixelLayout)?)
        -> (type: StorageType, pixelStep: Int, store: (Int, Int, Int) -> UnsafeMutableRawPointer) {
        let dstType = depthToSpace?.layout.type ?? dstLayout.type, dstBytes = dstType.byteWidth
        if let (b, d) = depthToSpace {
            let cOut = d.channels
            return (dstType, b * d.stride * dstBytes, { y, x, c in
                let sub = c / cOut
                return dst + pixelOffset(d, y * b + sub / b, x * b + sub % b) + (c % cOut) * dstBytes
            })
        }
        return (dstType, dstLayout.stride * dstBytes, { y, x, c in dst + pixelOffset(dstLayout, y, x) + c * dstBytes })
    }

    /// Where every tap of output row `y` reads, as runs: tap t (in ky·kw + kx order) of pixel x
    /// reads column x·sx + off at base + x·sx·pixelBytes (`base` the address for x = 0, from
    /// `row(iy)`, input row iy's first pixel, only called for rows inside the image) for x in
    /// xLo ..< xHi, and the pad pixel elsewhere and on rows outside the image (xLo = xHi).
    func forEachTapRun(outputRow y: Int, outputWidth Wo: Int, inputHeight H: Int, inputWidth W: Int, pixelBytes: Int,
                       row: (Int) -> UnsafeRawPointer, _ body: (_ tap: Int, _ base: Int, _ xLo: Int, _ xHi: Int) -> Void) {
        let q = params
        let kh = Int(q.kernelHeight), kw = Int(q.kernelWidth)
        let sy = Int(q.strideY), sx = Int(q.strideX), dy = Int(q.dilationY), dx = Int(q.dilationX)
        let pt = Int(q.padTop), pl = Int(q.padLeft)
        for ky in 0..<kh {
            let iy = y * sy - pt + ky * dy
            let inside = iy >= 0 && iy < H
            let rowBase = inside ? Int(bitPattern: row(iy)) : 0
            for kx in 0..<kw {
                let off = kx * dx - pl
                let xLo = inside ? min(Wo, off >= 0 ? 0 : (sx - 1 - off) / sx) : Wo
                let xHi = inside && W - 1 - off >= 0 ? max(xLo, min(Wo, (W - 1 - off) / sx + 1)) : xLo
                body(ky * kw + kx, rowBase &+ off &* pixelBytes, xLo, xHi)
            }
        }
    }

    /// Points every (pixel, tap) of output row `y` at its input pixel or at the pad pixel (the
    /// runs of forEachTapRun, one pointer per pixel).
    func fillTapPointers(_ pointers: UnsafeMutablePointer<UnsafeRawPointer>, outputRow y: Int, outputWidth Wo: Int,
                         inputHeight H: Int, inputWidth W: Int, pixelBytes: Int, pad: UnsafeRawPointer,
                         row: (Int) -> UnsafeRawPointer) {
        let T = taps, step = Int(params.strideX) * pixelBytes
        forEachTapRun(outputRow: y, outputWidth: Wo, inputHeight: H, inputWidth: W, pixelBytes: pixelBytes, row: row) { t, base, xLo, xHi in
            for x in 0..<xLo { pointers[x * T + t] = pad }
            for x in xLo..<xHi { pointers[x * T + t] = UnsafeRawPointer(bitPattern: base &+ x &* step)! }
            for x in xHi..<Wo { pointers[x * T + t] = pad }
        }
    }
}

extension PreparedConv {
    /// im2col for convs with few input channels: output row y's pixels each get their taps ×
    /// channels in one vector of `gatherBytes` (element (tap, channel) at tap·C + channel, in
    /// `elementBytes`: raw bytes, or s16 for pairs), taps outside the image from `pad`.
    func gatherRow(_ y: Int, src: UnsafeRawPointer, srcLayout: PixelLayout, gathered: UnsafeMutableRawPointer, gatherBytes: Int,
                   outputWidth Wo: Int, elementBytes eb: Int, wordCopies: Bool, pad: UnsafeRawPointer) {
        let q = params
        let kh = Int(q.kernelHeight), kw = Int(q.kernelWidth)
        let sy = Int(q.strideY), sx = Int(q.strideX), dy = Int(q.dilationY), dx = Int(q.dilationX)
        let pt = Int(q.padTop), pl = Int(q.padLeft)
        let H = srcLayout.height, W = srcLayout.width, C = srcLayout.channels
        let sourceBytes = srcLayout.stride * sourceType.byteWidth
        if wordCopies {
            // Tap by tap, one unaligned 4-byte (u8) or 8-byte (s16) word per pixel: a
            // word's channels past C spill into the next tap's place, which the next tap
            // overwrites; the last tap's spill lands on zero weights. Byte sources of s16
            // operands (pairs) widen their 4 bytes into the 8-byte word; the pad pixel is
            // already in the operand format.
            let widens = eb == 2 && (sourceType == .u8 || sourceType == .i8), signed = sourceType == .i8
            for ky in 0..<kh {
                let iy = y * sy - pt + ky * dy
                let inside = iy >= 0 && iy < H
                let row = src + (inside ? iy : 0) * W * sourceBytes
                for kx in 0..<kw {
                    let e = (ky * kw + kx) * C * eb
                    for x in 0..<Wo {
                        let ix = x * sx - pl + kx * dx
                        let px = inside && ix >= 0 && ix < W ? row + ix * sourceBytes : pad
                        let out = gathered + x * gatherBytes + e
                        if eb == 1 { out.storeBytes(of: px.loadUnaligned(as: UInt32.self), as: UInt32.self) }
                        else if widens && px != pad {
                            let w = px.loadUnaligned(as: UInt32.self)
                            out.storeBytes(of: signed ? widenBytesSigned(w) : widenBytesUnsigned(w), as: UInt64.self)
                        }
                        else { out.storeBytes(of: px.loadUnaligned(as: UInt64.self), as: UInt64.self) }
                    }
                }
            }
        } else {
            for x in 0..<Wo {
                let out = gathered + x * gatherBytes
                for ky in 0..<kh {
                    let iy = y * sy - pt + ky * dy
                    for kx in 0..<kw {
                        let ix = x * sx - pl + kx * dx
                        let e = (ky * kw + kx) * C
                        if iy >= 0 && iy < H && ix >= 0 && ix < W {
                            let px = src + (iy * W + ix) * sourceBytes
                            if eb == 1 {
                                for c in 0..<C { out.storeBytes(of: px.load(fromByteOffset: c, as: UInt8.self), toByteOffset: e + c, as: UInt8.self) }
                            } else {
                                for c in 0..<C { out.storeBytes(of: Int16(loadElement(px, c, sourceType)), toByteOffset: 2 * (e + c), as: Int16.self) }
                            }
                        } else {
                            (out + e * eb).copyMemory(from: pad, byteCount: C * eb)
                        }
                    }
                }
            }
        }
    }
}

extension PreparedConv {
    /// The gather copies whole words: the source holds the operand format (bytes for quads,
    /// s16 for pairs) or bytes that a pair's copy widens with bit operations (RGB heads on
    /// AVX2), so no element goes through loadElement. The word is 4 channels, ≥ C.
    /// The last tap's word must end inside the pixel's vector (else it would overwrite the next
    /// pixel's first tap, written before it).
    func gathersWords(eb: Int) -> Bool {
        let fits = (taps - 1) * Int(params.inputChannels) + 4 <= stepsPerTap * kind.channelsPerStep
        return fits && (eb == 1 ? (sourceType == .u8 || sourceType == .i8) : sourceType != .i32)
    }

    /// Output pixels per register tile for this conv's kind on `isa`.
    func tilePixels(_ isa: PreparedISA, blocks: Int) -> Int {
        #if arch(x86_64)
        switch isa {
        case .portable: return 4
        case .avx2: return convMicroAVX2MaxPixels(tileKind, flushInterval: flushInterval)
        case .vnni: return convMicroVNNIMaxPixels(tileKind, flushInterval: flushInterval)
        case .avx512: return convMicroAVX512MaxPixels(blocks: blocks)
        }
        #else
        return 4
        #endif
    }
}

/// Four u8 (low byte first) as four s16 lanes of a 64-bit word.
@inline(__always) func widenBytesUnsigned(_ w: UInt32) -> UInt64 {
    let x = UInt64(w)
    return (x & 0xFF) | (x & 0xFF00) << 8 | (x & 0xFF_0000) << 16 | (x & 0xFF00_0000) << 24
}

/// Four i8 as four s16 lanes: the unsigned spread, with 0xFF above every byte whose sign bit is set.
@inline(__always) func widenBytesSigned(_ w: UInt32) -> UInt64 {
    let spread = widenBytesUnsigned(w)
    return spread | ((spread & 0x0080_0080_0080_0080) >> 7) &* 0xFF00
}

/// Bytes plus `offset` (mod 256): a .quadOffset source in the unsigned operand format.
func offsetRow(_ src: UnsafeRawPointer, to dst: UnsafeMutableRawPointer, count: Int, offset: UInt8, isa: PreparedISA) {
    #if arch(x86_64)
    if isa.hasAVX2 { offsetBytesAVX2(src, dst, count: count, offset: offset); return }
    #endif
    let s = src.assumingMemoryBound(to: UInt8.self), d = dst.assumingMemoryBound(to: UInt8.self)
    for i in 0..<count { d[i] = s[i] &+ offset }
}

/// Byte elements widened to s16 (the pair tiles' operand format).
func widenRow(_ src: UnsafeRawPointer, to dst: UnsafeMutableRawPointer, count: Int, type: StorageType) {
    let out = dst.assumingMemoryBound(to: Int16.self)
    if type == .u8 {
        let s = src.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { out[i] = Int16(s[i]) }
    } else {
        let s = src.assumingMemoryBound(to: Int8.self)
        for i in 0..<count { out[i] = Int16(s[i]) }
    }
}
