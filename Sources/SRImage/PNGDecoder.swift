/// The decoding pipeline: chunks -> inflate -> unfilter -> per-row sample expansion ->
/// placement (directly for non-interlaced images, Adam7 scatter otherwise).
enum PNGDecoder {
    /// Validates the file, inflates all IDAT data and unfilters every pass in place, then calls
    /// `body` once per stored row with the pass it belongs to, its index in the pass, and a
    /// pointer to its unfiltered bytes (no filter byte).
    static func forEachRow(_ bytes: [UInt8],
                           header headerSink: (PNGChunks) throws -> Void,
                           row body: (PNGPass, Int, UnsafePointer<UInt8>) throws -> Void) throws {
        try bytes.withUnsafeBufferPointer { input in
            let chunks = try PNGChunkReader.read(input)
            let header = chunks.header
            var raw = try PNGInflate.inflate(input, segments: chunks.imageData, expectedSize: header.rawDataSize)
            // Only now, with the image data known to be all there, allocate the outputs.
            try headerSink(chunks)
            try raw.withUnsafeMutableBufferPointer { buf in
                guard let base = buf.baseAddress else { return }
                var offset = 0
                var rowLabel = 0
                for pass in header.passes {
                    let rb = header.rowBytes(pixels: pass.width)
                    let start = base + offset
                    try PNGFilter.unfilter(start, rows: pass.height, rowBytes: rb,
                                           stride: header.filterStride, firstRow: rowLabel)
                    for j in 0..<pass.height {
                        try body(pass, j, UnsafePointer(start + j * (rb + 1) + 1))
                    }
                    offset += pass.height * (rb + 1)
                    rowLabel += pass.height
                }
            }
        }
    }

    static func decode(_ bytes: [UInt8]) throws -> PNGImage {
        var expander: PNGSampleExpander?
        var samples: [UInt16] = []
        var rowBuffer: [UInt16] = []
        var chunksSeen: PNGChunks?
        try forEachRow(bytes, header: { chunks in
            let e = PNGSampleExpander(chunks)
            expander = e
            chunksSeen = chunks
            let h = chunks.header
            samples = [UInt16](repeating: 0, count: h.width * h.height * e.outChannels)
            rowBuffer = [UInt16](repeating: 0, count: h.width * e.outChannels)
        }, row: { pass, j, src in
            guard let e = expander else { return }
            let oc = e.outChannels
            try rowBuffer.withUnsafeMutableBufferPointer { rowBuf in
                guard let rp = rowBuf.baseAddress else { return }
                try e.expandRow(src, pixels: pass.width, row: pass.y0 + j * pass.dy, into: rp)
                samples.withUnsafeMutableBufferPointer { out in
                    guard let op = out.baseAddress else { return }
                    pass.scatterRow(UnsafePointer(rp), passRow: j, channels: oc, into: op, imageWidth: e.header.width)
                }
            }
        })
        guard let e = expander, let chunks = chunksSeen else { throw PNGError.missingImageData }
        let h = e.header
        return PNGImage(width: h.width, height: h.height, channels: e.outChannels,
                        bitDepth: h.bitDepth == 16 ? 16 : 8, samples: samples,
                        colorType: h.colorType, sourceBitDepth: h.bitDepth, interlaced: h.interlaced,
                        transparentColor: transparentKey(chunks))
    }

    /// The tRNS colour key of a gray / RGB file on the `PNGImage.samples` scale.
    static func transparentKey(_ chunks: PNGChunks) -> [UInt16]? {
        let h = chunks.header
        guard let t = chunks.transparency, h.colorType == 0 || h.colorType == 2 else { return nil }
        let n = h.colorType == 0 ? 1 : 3
        guard t.count == 2 * n else { return nil }
        let mask = (1 << h.bitDepth) - 1
        return (0..<n).map { k in
            let v = (Int(t[2 * k]) << 8 | Int(t[2 * k + 1])) & mask
            return UInt16(h.bitDepth < 8 ? v * 255 / mask : v)
        }
    }

    /// Straight to 8-bit RGB, with the same rule as `PNGImage.rgbImage()`; 8-bit RGB and RGBA
    /// rows are copied without the UInt16 detour.
    static func decodeRGB(_ bytes: [UInt8]) throws -> RGBImage {
        var expander: PNGSampleExpander?
        var pixels: [UInt8] = []
        var rowBuffer: [UInt16] = []
        var rgbRow: [UInt8] = []
        var width = 0, height = 0
        try forEachRow(bytes, header: { chunks in
            let e = PNGSampleExpander(chunks)
            expander = e
            width = chunks.header.width
            height = chunks.header.height
            pixels = [UInt8](repeating: 0, count: width * height * 3)
            rowBuffer = [UInt16](repeating: 0, count: width * e.outChannels)
            rgbRow = [UInt8](repeating: 0, count: width * 3)
        }, row: { pass, j, src in
            guard let e = expander else { return }
            let n = pass.width
            let h = e.header
            try rgbRow.withUnsafeMutableBufferPointer { rgbBuf in
                guard let rgb = rgbBuf.baseAddress else { return }
                if h.bitDepth == 8 && h.colorType == 2 {
                    rgb.update(from: src, count: n * 3)
                } else if h.bitDepth == 8 && h.colorType == 6 {
                    for x in 0..<n {
                        rgb[x * 3] = src[x * 4]
                        rgb[x * 3 + 1] = src[x * 4 + 1]
                        rgb[x * 3 + 2] = src[x * 4 + 2]
                    }
                } else {
                    try rowBuffer.withUnsafeMutableBufferPointer { rowBuf in
                        guard let rp = rowBuf.baseAddress else { return }
                        try e.expandRow(src, pixels: n, row: pass.y0 + j * pass.dy, into: rp)
                        let c = e.outChannels
                        let shift: UInt16 = h.bitDepth == 16 ? 8 : 0
                        for x in 0..<n {
                            if c >= 3 {
                                rgb[x * 3] = UInt8(truncatingIfNeeded: rp[x * c] >> shift)
                                rgb[x * 3 + 1] = UInt8(truncatingIfNeeded: rp[x * c + 1] >> shift)
                                rgb[x * 3 + 2] = UInt8(truncatingIfNeeded: rp[x * c + 2] >> shift)
                            } else {
                                let g = UInt8(truncatingIfNeeded: rp[x * c] >> shift)
                                rgb[x * 3] = g
                                rgb[x * 3 + 1] = g
                                rgb[x * 3 + 2] = g
                            }
                        }
                    }
                }
                pixels.withUnsafeMutableBufferPointer { out in
                    guard let op = out.baseAddress else { return }
                    pass.scatterRow(UnsafePointer(rgb), passRow: j, channels: 3, into: op, imageWidth: width)
                }
            }
        })
        guard expander != nil else { throw PNGError.missingImageData }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
