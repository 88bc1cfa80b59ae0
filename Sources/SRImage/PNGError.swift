/// Everything that can go wrong while reading or writing a PNG.
/// Every decoder failure maps to one of these; the decoder never traps on malformed input.
public enum PNGError: Error, CustomStringConvertible, Equatable, Sendable {
    case empty
    case badSignature
    /// A chunk header or body runs past the end of the input.
    case truncatedChunk(chunk: String, needed: Int, available: Int)
    case chunkTooLong(chunk: String, length: UInt32)
    case invalidChunkType(bytes: [UInt8])
    case crcMismatch(chunk: String, stored: UInt32, computed: UInt32)
    case firstChunkNotIHDR(found: String)
    case badChunkLength(chunk: String, length: Int, expected: String)
    case invalidDimensions(width: UInt32, height: UInt32)
    case imageTooLarge(width: Int, height: Int, limit: Int)
    case invalidColorTypeAndDepth(colorType: UInt8, bitDepth: UInt8)
    case unsupportedCompressionMethod(UInt8)
    case unsupportedFilterMethod(UInt8)
    case unsupportedInterlaceMethod(UInt8)
    case duplicateChunk(chunk: String)
    case misplacedChunk(chunk: String, reason: String)
    case unknownCriticalChunk(chunk: String)
    case missingPalette
    case paletteNotAllowed(colorType: UInt8)
    case paletteTooLarge(entries: Int, bitDepth: UInt8)
    case invalidTransparency(reason: String)
    case missingImageData
    case missingIEND
    case paletteIndexOutOfRange(index: Int, paletteEntries: Int, row: Int)
    case badFilterType(filter: UInt8, row: Int)
    /// zlib reported a corrupt stream (bad header, bad block, Adler-32 mismatch...).
    case zlibError(code: Int32, message: String)
    /// The IDAT data ran out before the zlib stream was complete.
    case compressedDataTruncated(decompressed: Int, expected: Int)
    /// The zlib stream ended cleanly but held fewer bytes than the image needs.
    case imageDataTooShort(decompressed: Int, expected: Int)
    /// The zlib stream holds more bytes than the image needs.
    case imageDataTooLong(expected: Int)
    /// Compressed bytes follow the end of the zlib stream inside IDAT.
    case trailingCompressedData(bytes: Int)
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case .empty:
            return "PNG: input is empty"
        case .badSignature:
            return "PNG: bad signature (not a PNG file, or corrupted by a text-mode transfer)"
        case let .truncatedChunk(chunk, needed, available):
            return "PNG: truncated \(chunk) chunk: needs \(needed) more bytes, only \(available) left"
        case let .chunkTooLong(chunk, length):
            return "PNG: \(chunk) chunk length \(length) exceeds the 2^31-1 limit"
        case let .invalidChunkType(bytes):
            return "PNG: invalid chunk type bytes \(bytes.map { String($0, radix: 16) }) (must be ASCII letters)"
        case let .crcMismatch(chunk, stored, computed):
            return "PNG: CRC mismatch in \(chunk) chunk (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16)))"
        case let .firstChunkNotIHDR(found):
            return "PNG: first chunk is \(found), expected IHDR"
        case let .badChunkLength(chunk, length, expected):
            return "PNG: \(chunk) chunk has length \(length), expected \(expected)"
        case let .invalidDimensions(w, h):
            return "PNG: IHDR has invalid size \(w)x\(h) (each must be 1...2^31-1)"
        case let .imageTooLarge(w, h, limit):
            return "PNG: image \(w)x\(h) exceeds the limit of \(limit) pixels"
        case let .invalidColorTypeAndDepth(ct, d):
            return "PNG: IHDR has invalid colour type \(ct) / bit depth \(d) combination"
        case let .unsupportedCompressionMethod(m):
            return "PNG: IHDR compression method \(m) is not 0"
        case let .unsupportedFilterMethod(m):
            return "PNG: IHDR filter method \(m) is not 0"
        case let .unsupportedInterlaceMethod(m):
            return "PNG: IHDR interlace method \(m) is not 0 or 1"
        case let .duplicateChunk(chunk):
            return "PNG: more than one \(chunk) chunk"
        case let .misplacedChunk(chunk, reason):
            return "PNG: misplaced \(chunk) chunk: \(reason)"
        case let .unknownCriticalChunk(chunk):
            return "PNG: unknown critical chunk \(chunk)"
        case .missingPalette:
            return "PNG: colour type 3 (palette) but no PLTE chunk before IDAT"
        case let .paletteNotAllowed(ct):
            return "PNG: PLTE chunk is not allowed for colour type \(ct)"
        case let .paletteTooLarge(entries, depth):
            return "PNG: PLTE has \(entries) entries, more than bit depth \(depth) can index"
        case let .invalidTransparency(reason):
            return "PNG: invalid tRNS chunk: \(reason)"
        case .missingImageData:
            return "PNG: no IDAT chunk"
        case .missingIEND:
            return "PNG: missing IEND chunk (file truncated?)"
        case let .paletteIndexOutOfRange(index, entries, row):
            return "PNG: palette index \(index) out of range (PLTE has \(entries) entries) in row \(row)"
        case let .badFilterType(filter, row):
            return "PNG: invalid filter type \(filter) in row \(row) (must be 0...4)"
        case let .zlibError(code, message):
            return "PNG: corrupt IDAT zlib stream (zlib error \(code): \(message))"
        case let .compressedDataTruncated(got, expected):
            return "PNG: IDAT zlib stream is truncated after \(got) of \(expected) decompressed bytes"
        case let .imageDataTooShort(got, expected):
            return "PNG: IDAT holds \(got) decompressed bytes, the image needs \(expected)"
        case let .imageDataTooLong(expected):
            return "PNG: IDAT holds more than the \(expected) decompressed bytes the image needs"
        case let .trailingCompressedData(n):
            return "PNG: \(n) bytes of IDAT data follow the end of the zlib stream"
        case let .io(path, message):
            return "PNG: \(path): \(message)"
        }
    }
}
