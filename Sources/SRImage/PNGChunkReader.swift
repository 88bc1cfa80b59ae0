/// The parts of a PNG file the decoder needs, found by walking and validating its chunks.
struct PNGChunks: Sendable {
    var header: PNGHeader
    /// PLTE entries as R,G,B triples (empty if there is no PLTE).
    var palette: [UInt8] = []
    /// Raw tRNS body, already checked against the colour type (nil if absent).
    var transparency: [UInt8]?
    /// Byte ranges of the IDAT bodies inside the input, in file order.
    var imageData: [Range<Int>] = []
}

enum PNGChunkReader {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Four-byte chunk types as big-endian integers.
    static let IHDR: UInt32 = 0x4948_4452
    static let PLTE: UInt32 = 0x504C_5445
    static let IDAT: UInt32 = 0x4944_4154
    static let IEND: UInt32 = 0x4945_4E44
    static let tRNS: UInt32 = 0x7452_4E53

    static func name(_ type: UInt32) -> String {
        let bytes = [UInt8(type >> 24), UInt8((type >> 16) & 0xFF), UInt8((type >> 8) & 0xFF), UInt8(type & 0xFF)]
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Checks the signature, every chunk's length and CRC, the IHDR fields, and the ordering rules
    /// for critical chunks and tRNS. Ancillary chunks other than tRNS are CRC-checked and skipped.
    /// Bytes after IEND are ignored (as libpng and Pillow do).
    static func read(_ b: UnsafeBufferPointer<UInt8>) throws -> PNGChunks {
        guard b.count > 0 else { throw PNGError.empty }
        guard b.count >= 8 else { throw PNGError.badSignature }
        for i in 0..<8 where b[i] != signature[i] { throw PNGError.badSignature }

        var pos = 8
        var header: PNGHeader?
        var palette: [UInt8] = []
        var transparency: [UInt8]?
        var imageData: [Range<Int>] = []
        var seenPLTE = false
        var idatStarted = false, idatEnded = false
        var isFirst = true

        while true {
            guard pos < b.count else { throw PNGError.missingIEND }
            let left = b.count - pos
            guard left >= 8 else {
                throw PNGError.truncatedChunk(chunk: "chunk header", needed: 8, available: left)
            }
            let length = PNGHeader.be32(b, pos)
            let type = PNGHeader.be32(b, pos + 4)
            let typeBytes = Array(b[(pos + 4)..<(pos + 8)])
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw PNGError.invalidChunkType(bytes: typeBytes)
            }
            let chunkName = name(type)
            guard length <= 0x7FFF_FFFF else { throw PNGError.chunkTooLong(chunk: chunkName, length: length) }
            let len = Int(length)
            guard left - 8 >= len + 4 else {
                throw PNGError.truncatedChunk(chunk: chunkName, needed: len + 4, available: left - 8)
            }
            let dataStart = pos + 8
            let data = UnsafeBufferPointer(rebasing: b[dataStart..<(dataStart + len)])
            let stored = PNGHeader.be32(b, dataStart + len)
            let computed = crc32(continuing: 0, UnsafeBufferPointer(rebasing: b[(pos + 4)..<(dataStart + len)]))
            guard stored == computed else {
                throw PNGError.crcMismatch(chunk: chunkName, stored: stored, computed: computed)
            }
            pos = dataStart + len + 4

            if isFirst {
                guard type == IHDR else { throw PNGError.firstChunkNotIHDR(found: chunkName) }
                header = try PNGHeader(ihdr: data)
                isFirst = false
                continue
            }
            guard let hdr = header else { throw PNGError.firstChunkNotIHDR(found: chunkName) }
            let ct = hdr.colorType
            if idatStarted && type != IDAT { idatEnded = true }

            switch type {
            case IHDR:
                throw PNGError.duplicateChunk(chunk: "IHDR")
            case PLTE:
                guard !seenPLTE else { throw PNGError.duplicateChunk(chunk: "PLTE") }
                guard !idatStarted else { throw PNGError.misplacedChunk(chunk: "PLTE", reason: "after IDAT") }
                guard transparency == nil else {
                    throw PNGError.misplacedChunk(chunk: "PLTE", reason: "after tRNS")
                }
                guard ct != 0 && ct != 4 else { throw PNGError.paletteNotAllowed(colorType: ct) }
                guard len % 3 == 0, len >= 3, len <= 768 else {
                    throw PNGError.badChunkLength(chunk: "PLTE", length: len, expected: "a multiple of 3 in 3...768")
                }
                if ct == 3 && len / 3 > 1 << hdr.bitDepth {
                    throw PNGError.paletteTooLarge(entries: len / 3, bitDepth: UInt8(hdr.bitDepth))
                }
                seenPLTE = true
                palette = Array(data)
            case tRNS:
                guard transparency == nil else { throw PNGError.duplicateChunk(chunk: "tRNS") }
                guard !idatStarted else { throw PNGError.misplacedChunk(chunk: "tRNS", reason: "after IDAT") }
                switch ct {
                case 0:
                    guard len == 2 else { throw PNGError.badChunkLength(chunk: "tRNS", length: len, expected: "2 for grayscale") }
                case 2:
                    guard len == 6 else { throw PNGError.badChunkLength(chunk: "tRNS", length: len, expected: "6 for truecolour") }
                case 3:
                    guard seenPLTE else { throw PNGError.misplacedChunk(chunk: "tRNS", reason: "before PLTE") }
                    guard len <= palette.count / 3 else {
                        throw PNGError.invalidTransparency(reason: "\(len) alpha entries for a \(palette.count / 3)-entry palette")
                    }
                default:
                    throw PNGError.invalidTransparency(reason: "not allowed for colour type \(ct), which has an alpha channel")
                }
                transparency = Array(data)
            case IDAT:
                guard !idatEnded else {
                    throw PNGError.misplacedChunk(chunk: "IDAT", reason: "IDAT chunks must be consecutive")
                }
                guard ct != 3 || seenPLTE else { throw PNGError.missingPalette }
                idatStarted = true
                imageData.append(dataStart..<(dataStart + len))
            case IEND:
                guard len == 0 else { throw PNGError.badChunkLength(chunk: "IEND", length: len, expected: "0") }
                guard idatStarted else { throw PNGError.missingImageData }
                return PNGChunks(header: hdr, palette: palette, transparency: transparency, imageData: imageData)
            default:
                // Bit 5 of the first type byte clear (uppercase) marks a critical chunk.
                if typeBytes[0] & 0x20 == 0 { throw PNGError.unknownCriticalChunk(chunk: chunkName) }
            }
        }
    }
}
