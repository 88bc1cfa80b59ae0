/// Turns one unfiltered scanline (packed at the file's bit depth) into interleaved UInt16
/// samples at the precision `PNGImage` reports:
/// - 16-bit samples are kept as they are (big-endian pairs combined);
/// - 8-bit samples are copied;
/// - 1/2/4-bit gray is scaled to 8 bits as v * 255 / (2^d - 1), which is what libpng's
///   expansion and Pillow's "L;2"/"L;4" unpackers produce (1-bit: 0/255, 2-bit: v*85, 4-bit: v*17);
/// - palette indices (any depth) are replaced by the PLTE colour, plus the tRNS alpha
///   (255 for entries tRNS does not cover) when the file has tRNS.
struct PNGSampleExpander {
    let header: PNGHeader
    /// Samples per output pixel.
    let outChannels: Int
    /// Palette images: outChannels values per palette entry.
    private let paletteTable: [UInt16]
    private let paletteEntries: Int

    init(_ chunks: PNGChunks) {
        header = chunks.header
        switch header.colorType {
        case 0: outChannels = 1
        case 4: outChannels = 2
        case 2: outChannels = 3
        case 3: outChannels = chunks.transparency == nil ? 3 : 4
        default: outChannels = 4
        }
        if header.colorType == 3 {
            let n = chunks.palette.count / 3
            var table = [UInt16](repeating: 0, count: n * outChannels)
            let alpha = chunks.transparency ?? []
            for i in 0..<n {
                for c in 0..<3 { table[i * outChannels + c] = UInt16(chunks.palette[i * 3 + c]) }
                if outChannels == 4 { table[i * 4 + 3] = i < alpha.count ? UInt16(alpha[i]) : 255 }
            }
            paletteTable = table
            paletteEntries = n
        } else {
            paletteTable = []
            paletteEntries = 0
        }
    }

    /// Reads the low-bit sample number `i` of a packed row (most significant bits first).
    @inline(__always)
    private static func packed(_ src: UnsafePointer<UInt8>, _ i: Int, depth: Int) -> Int {
        let bit = i * depth
        let shift = 8 - depth - (bit & 7)
        return (Int(src[bit >> 3]) >> shift) & ((1 << depth) - 1)
    }

    /// Expands `pixels` pixels from `src` into `dst` (pixels * outChannels samples).
    /// `row` only labels errors.
    func expandRow(_ src: UnsafePointer<UInt8>, pixels: Int, row: Int,
                   into dst: UnsafeMutablePointer<UInt16>) throws {
        let depth = header.bitDepth
        if header.colorType == 3 {
            try paletteTable.withUnsafeBufferPointer { table in
                guard let t = table.baseAddress else {
                    throw PNGError.paletteIndexOutOfRange(index: 0, paletteEntries: 0, row: row)
                }
                let oc = outChannels
                for x in 0..<pixels {
                    let index = depth == 8 ? Int(src[x]) : PNGSampleExpander.packed(src, x, depth: depth)
                    guard index < paletteEntries else {
                        throw PNGError.paletteIndexOutOfRange(index: index, paletteEntries: paletteEntries, row: row)
                    }
                    (dst + x * oc).update(from: t + index * oc, count: oc)
                }
            }
            return
        }
        let count = pixels * outChannels
        switch depth {
        case 16:
            for i in 0..<count { dst[i] = UInt16(src[2 * i]) << 8 | UInt16(src[2 * i + 1]) }
        case 8:
            for i in 0..<count { dst[i] = UInt16(src[i]) }
        default:
            // Only gray (colour type 0) has 1/2/4-bit samples.
            let maxValue = (1 << depth) - 1
            for i in 0..<count {
                dst[i] = UInt16(PNGSampleExpander.packed(src, i, depth: depth) * 255 / maxValue)
            }
        }
    }
}
