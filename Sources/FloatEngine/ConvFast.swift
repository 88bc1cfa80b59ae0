import SRRuntime
import Foundation
import SRGraph
import FloatKernelsCommon
import FloatKernelsAVX2
import FloatKernelsAVX512

/// A conv prepared for the fast kernels: weights packed once at `init` into the layout the
/// register tiles read ([group][output block][input channel][ky][kx][block lane], zero-padded
/// to whole blocks), so every FMA step reads `block` consecutive weights.
final class PreparedConv: @unchecked Sendable {
    let attributes: Conv2DAttributes
    let isa: ConvISA
    let shape: ConvKernelShape
    let outputChannels: Int, groupInputChannels: Int, groupOutputChannels: Int
    let kernelHeight: Int, kernelWidth: Int
    let blocksPerGroup: Int
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>
    var activation: FusedActivation = .none
    /// Border value per input channel (nil: zero padding).
    let padValues: [Float]?

    /// The fast kernels cover stride 1 (any padding, dilation, groups, kernel size).
    static func supports(_ a: Conv2DAttributes) -> Bool { a.strides == [1, 1] }

    init(weight w: Tensor, bias b: Tensor?, attributes a: Conv2DAttributes, isa: ConvISA) {
        attributes = a
        self.isa = isa
        padValues = a.padValues
        switch a.activation {
        case .relu?: activation = .relu
        case .leakyRelu(let alpha)?: activation = .leakyRelu(alpha)
        case .clip(let lo, let hi)?: activation = .clip(lo, hi)
        case nil: activation = .none
        }
        switch isa {
        #if arch(x86_64)
        case .avx512: shape = conv2DShapeAVX512
        case .avx2: shape = conv2DShapeAVX2
        #endif
        default: shape = ConvKernelShape(outputBlock: 8, lanes: 1, maxVectors: 64)
        }
        outputChannels = w.shape[0]; groupInputChannels = w.shape[1]
        kernelHeight = w.shape[2]; kernelWidth = w.shape[3]
        groupOutputChannels = outputChannels / a.group
        let block = shape.outputBlock
        blocksPerGroup = (groupOutputChannels + block - 1) / block
        let taps = groupInputChannels * kernelHeight * kernelWidth
        let blockCount = a.group * blocksPerGroup
        weights = .allocate(capacity: blockCount * taps * block)
        weights.initialize(repeating: 0, count: blockCount * taps * block)
        bias = .allocate(capacity: blockCount * block)
        bias.initialize(repeating: 0, count: blockCount * block)
        for g in 0..<a.group {
            for ob in 0..<blocksPerGroup {
                let blockIndex = g * blocksPerGroup + ob
                for lane in 0..<block {
                    let ocInGroup = ob * block + lane
                    guard ocInGroup < groupOutputChannels else { continue }
                    let oc = g * groupOutputChannels + ocInGroup
                    if let b { bias[blockIndex * block + lane] = b.floats[oc] }
                    for t in 0..<taps {
                        weights[(blockIndex * taps + t) * block + lane] = w.floats[oc * taps + t]
                    }
                }
            }
        }
    }

    deinit { weights.deallocate(); bias.deallocate() }

    private func runTile(_ tile: ConvTile) {
        switch isa {
        #if arch(x86_64)
        case .avx512: conv2DTileAVX512(tile)
        case .avx2: conv2DTileAVX2(tile)
        #endif
        default: conv2DTilePortable(tile, block: shape.outputBlock)
        }
    }

    /// Cuts `width` pixels into register tiles of whole vectors, as even as the kernel's
    /// widths allow (256 pixels in 48-pixel tiles: 48,48,48,48,32,32 rather than five 48s and
    /// a 16 that runs at a third of the rate). Returns (first pixel, width) pairs.
    func tileSpans(_ width: Int) -> [(x0: Int, width: Int)] {
        let lanes = shape.lanes, vectors = (width + lanes - 1) / lanes
        let tiles = (vectors + shape.maxVectors - 1) / shape.maxVectors
        var spans: [(x0: Int, width: Int)] = []
        spans.reserveCapacity(tiles)
        var x0 = 0
        for t in 0..<tiles {
            let v = vectors / tiles + (t < vectors % tiles ? 1 : 0)
            let w = min(v * lanes, width - x0)
            spans.append((x0, w))
            x0 += w
        }
        return spans
    }

    func run(_ x: Tensor, outputShape: [Int], threads: Int, pool: BufferPool? = nil) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = outputShape[2], ow = outputShape[3]
        let a = attributes
        let pads = a.resolvedPads(inputHeight: h, inputWidth: w)
        let block = shape.outputBlock
        let taps = groupInputChannels * kernelHeight * kernelWidth
        let cg = groupInputChannels, mg = groupOutputChannels, m = outputChannels
        let kh = kernelHeight, kw = kernelWidth, dh = a.dilations[0], dw = a.dilations[1]
        var out = pool?.take(n * m * oh * ow)
            ?? [Float](unsafeUninitializedCapacity: n * m * oh * ow) { _, count in count = n * m * oh * ow }
        x.floats.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let xp = xb.baseAddress!, op = ob.baseAddress!
                if kh == 1 && kw == 1 && pads == [0, 0, 0, 0] {
                    // 1x1 without padding is a matrix product over the flattened plane: no strip copy.
                    let plane = h * w
                    let spans = tileSpans(plane)
                    parallelRangesFlushingDenormals(n * spans.count, threads: threads) { range in
                        for t in range {
                            let b0 = t / spans.count, span = spans[t % spans.count]
                            // Every output block of this pixel span while its inputs are in L1.
                            for g in 0..<a.group {
                                for blk in 0..<blocksPerGroup {
                                    let blockIndex = g * blocksPerGroup + blk
                                    runTile(ConvTile(
                                        input: xp + (b0 * c + g * cg) * plane + span.x0, channelStride: plane,
                                        rowStride: 0, kernelStepX: 0, inputChannels: cg, kernelHeight: 1, kernelWidth: 1,
                                        weights: weights + blockIndex * taps * block, bias: bias + blockIndex * block,
                                        output: op + (b0 * m + g * mg + blk * block) * plane + span.x0, outputChannelStride: plane,
                                        outputChannels: min(block, mg - blk * block), width: span.width, activation: activation))
                                }
                            }
                        }
                    }
                    return
                }
                // General stride-1 case: a thread takes a run of output rows and walks it in bands;
                // per band and group it copies the input rows the band reads, once each, into a
                // padded buffer [channel][band row][x] (so borders need no special cases in the
                // kernels), then sweeps each output row with register tiles: per pixel span, every
                // output block, so the span's input stays in L1 while the blocks' weights stream.
                let stripWidth = ow + (kw - 1) * dw
                let stripStride = (stripWidth + 15) / 16 * 16
                let spans = tileSpans(ow)
                // Band height: up to 8 rows while the buffer stays near L2 size (each band re-reads
                // the (kh-1)*dh rows it shares with the next).
                let rowBytes = cg * stripStride * MemoryLayout<Float>.size
                let band = max(1, min(8, (512 << 10) / max(1, rowBytes) - (kh - 1) * dh))
                let bandRows = band + (kh - 1) * dh
                // Every padded row has the same layout: fill [0, lo), input from column firstX in
                // [lo, hi), fill after.
                let lo = min(max(pads[1], 0), stripWidth)
                let firstX = lo - pads[1]
                let hi = min(stripWidth, w - firstX + lo)
                parallelRangesFlushingDenormals(n * oh, threads: threads) { range in
                    let strip = UnsafeMutablePointer<Float>.allocate(capacity: cg * bandRows * stripStride)
                    defer { strip.deallocate() }
                    var first = range.lowerBound
                    while first < range.upperBound {
                        let b0 = first / oh, oy0 = first % oh
                        let rows = min(band, range.upperBound - first, oh - oy0)   // a band never crosses images
                        let inputRows = rows + (kh - 1) * dh
                        for g in 0..<a.group {
                            for ic in 0..<cg {
                                let src = xp + (b0 * c + g * cg + ic) * h * w
                                let fill = padValues?[g * cg + ic] ?? 0
                                for r in 0..<inputRows {
                                    let dst = strip + (ic * bandRows + r) * stripStride
                                    let iy = oy0 - pads[0] + r
                                    guard iy >= 0 && iy < h else { dst.update(repeating: fill, count: stripWidth); continue }
                                    if lo > 0 { dst.update(repeating: fill, count: lo) }
                                    if hi > lo { (dst + lo).update(from: src + iy * w + firstX, count: hi - lo) }
                                    if stripWidth > max(hi, lo) { (dst + max(hi, lo)).update(repeating: fill, count: stripWidth - max(hi, lo)) }
                                }
                            }
                            for r in 0..<rows {
                                let oy = oy0 + r
                                for span in spans {
                                    for blk in 0..<blocksPerGroup {
                                        let blockIndex = g * blocksPerGroup + blk
                                        let outBase = op + ((b0 * m + g * mg + blk * block) * oh + oy) * ow
                                        runTile(ConvTile(
                                            input: strip + r * stripStride + span.x0, channelStride: bandRows * stripStride,
                                            rowStride: dh * stripStride, kernelStepX: dw, inputChannels: cg,
                                            kernelHeight: kh, kernelWidth: kw,
                                            weights: weights + blockIndex * taps * block, bias: bias + blockIndex * block,
                                            output: outBase + span.x0, outputChannelStride: oh * ow,
                                            outputChannels: min(block, mg - blk * block), width: span.width, activation: activation))
                                    }
                                }
                            }
                        }
                        first += rows
                    }
                }
            }
        }
        return Tensor(shape: outputShape, floats: out)
    }
}

/// Portable tile: one output channel at a time over a row segment; the inner loop over
/// pixels is a plain multiply-add the compiler vectorizes for the baseline ISA.
func conv2DTilePortable(_ t: ConvTile, block: Int) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: t.width) { acc in
        let accp = acc.baseAddress!
        for o in 0..<t.outputChannels {
            for x in 0..<t.width { accp[x] = t.bias[o] }
            var wi = o
            for ic in 0..<t.inputChannels {
                for ky in 0..<t.kernelHeight {
                    for kx in 0..<t.kernelWidth {
                        let wv = t.weights[wi]
                        wi += block
                        let src = t.input + ic * t.channelStride + ky * t.rowStride + kx * t.kernelStepX
                        for x in 0..<t.width { accp[x] += wv * src[x] }
                    }
                }
            }
            let dst = t.output + o * t.outputChannelStride
            if t.activation.enabled {
                for x in 0..<t.width { dst[x] = t.activation.apply(accp[x]) }
            } else {
                for x in 0..<t.width { dst[x] = accp[x] }
            }
        }
    }
}
