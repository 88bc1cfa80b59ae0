/// The IHDR fields, validated, plus the geometry derived from them.
struct PNGHeader: Sendable, Equatable {
    /// Decoding refuses images with more pixels than this (2^28, i.e. 16384 x 16384).
    static let maxPixels = 1 << 28

    let width: Int
    let height: Int
    let bitDepth: Int
    let colorType: UInt8
    let interlaced: Bool

    /// Parses and validates the 13-byte IHDR body.
    init(ihdr d: UnsafeBufferPointer<UInt8>) throws {
        guard d.count == 13 else {
            throw PNGError.badChunkLength(chunk: "IHDR", length: d.count, expected: "13")
        }
        let w = PNGHeader.be32(d, 0), h = PNGHeader.be32(d, 4)
        guard w > 0, h > 0, w <= 0x7FFF_FFFF, h <= 0x7FFF_FFFF else {
            throw PNGError.invalidDimensions(width: w, height: h)
        }
        let depth = d[8], ct = d[9]
        let valid: Bool
        switch ct {
        case 0: valid = [1, 2, 4, 8, 16].contains(depth)
        case 3: valid = [1, 2, 4, 8].contains(depth)
        case 2, 4, 6: valid = depth == 8 || depth == 16
        default: valid = false
        }
        guard valid else { throw PNGError.invalidColorTypeAndDepth(colorType: ct, bitDepth: depth) }
        guard d[10] == 0 else { throw PNGError.unsupportedCompressionMethod(d[10]) }
        guard d[11] == 0 else { throw PNGError.unsupportedFilterMethod(d[11]) }
        guard d[12] <= 1 else { throw PNGError.unsupportedInterlaceMethod(d[12]) }
        guard Int(w) * Int(h) <= PNGHeader.maxPixels else {
            throw PNGError.imageTooLarge(width: Int(w), height: Int(h), limit: PNGHeader.maxPixels)
        }
        width = Int(w)
        height = Int(h)
        bitDepth = Int(depth)
        colorType = ct
        interlaced = d[12] == 1
    }

    static func be32(_ d: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3])
    }

    /// Samples per pixel as stored in the file (palette images store one index).
    var fileChannels: Int {
        switch colorType {
        case 0, 3: return 1
        case 4: return 2
        case 2: return 3
        default: return 4
        }
    }

    var bitsPerPixel: Int { fileChannels * bitDepth }

    /// The filter unit: bytes per complete pixel, rounded up to 1 (PNG spec "bpp").
    var filterStride: Int { max(1, bitsPerPixel / 8) }

    /// Bytes in one scanline of `pixels` pixels, excluding the filter-type byte.
    func rowBytes(pixels: Int) -> Int { (pixels * bitsPerPixel + 7) / 8 }

    /// The sub-images stored in the zlib stream: one for non-interlaced images, up to seven (Adam7).
    var passes: [PNGPass] {
        interlaced ? PNGPass.adam7(width: width, height: height) : [PNGPass.whole(width: width, height: height)]
    }

    /// Total decompressed size: each pass row is a filter byte plus its packed samples.
    var rawDataSize: Int {
        passes.reduce(0) { $0 + $1.height * (1 + rowBytes(pixels: $1.width)) }
    }
}
