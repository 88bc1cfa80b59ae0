import CZlib

/// Decompresses the zlib stream split across IDAT chunks into a buffer of exactly the size the
/// image needs. Strict: the stream must end (with a valid Adler-32, checked by zlib) exactly when
/// that many bytes have been produced, and no compressed bytes may follow it.
enum PNGInflate {
    /// Deflate cannot expand one input byte into more than 1032 output bytes (a 258-byte match
    /// coded in 2 bits); with some slack this bounds what a stream can possibly produce.
    static func maxOutput(compressedBytes n: Int) -> Int { n * 1040 + 4096 }

    static func inflate(_ input: UnsafeBufferPointer<UInt8>, segments: [Range<Int>],
                        expectedSize: Int) throws -> [UInt8] {
        // A small file claiming a huge image must not make us allocate gigabytes: allocate no
        // more than the compressed data could ever produce. If that is less than the image
        // needs, decoding fails below (the stream ends or runs out before filling it).
        let compressed = segments.reduce(0) { $0 + $1.count }
        let capacity = min(expectedSize, maxOutput(compressedBytes: compressed))
        var out = [UInt8](repeating: 0, count: capacity)
        try out.withUnsafeMutableBufferPointer { dst in
            try inflate(input, segments: segments, into: dst, expectedSize: expectedSize)
        }
        guard capacity == expectedSize else {
            throw PNGError.compressedDataTruncated(decompressed: capacity, expected: expectedSize)
        }
        return out
    }

    static func inflate(_ input: UnsafeBufferPointer<UInt8>, segments: [Range<Int>],
                        into dst: UnsafeMutableBufferPointer<UInt8>, expectedSize expected: Int) throws {
        var strm = z_stream()
        let initResult = inflateInit_(&strm, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else {
            throw PNGError.zlibError(code: initResult, message: "inflateInit failed")
        }
        defer { inflateEnd(&strm) }

        let capacity = dst.count  // == expected, unless the input is too small to fill the image
        var produced = 0
        var ended = false
        var scratch: UInt8 = 0
        guard let inBase = input.baseAddress else { throw PNGError.missingImageData }

        for seg in segments where !seg.isEmpty {
            if ended {
                // Another non-empty IDAT after the end of the stream.
                throw PNGError.trailingCompressedData(bytes: seg.count)
            }
            strm.next_in = UnsafeMutablePointer(mutating: inBase + seg.lowerBound)
            strm.avail_in = uInt(seg.count)  // chunk lengths are < 2^31
            while strm.avail_in > 0 {
                let room = capacity - produced
                let ret: Int32
                let wrote: Int
                if room > 0, let outBase = dst.baseAddress {
                    let give = min(room, 1 << 30)
                    strm.next_out = outBase + produced
                    strm.avail_out = uInt(give)
                    ret = CZlib.inflate(&strm, Z_NO_FLUSH)
                    wrote = give - Int(strm.avail_out)
                    produced += wrote
                } else {
                    // Image buffer full: any further output means the stream is too long.
                    let got: (Int32, Int) = withUnsafeMutablePointer(to: &scratch) { p in
                        strm.next_out = p
                        strm.avail_out = 1
                        let r = CZlib.inflate(&strm, Z_NO_FLUSH)
                        return (r, 1 - Int(strm.avail_out))
                    }
                    ret = got.0
                    wrote = got.1
                    if wrote > 0 {
                        guard capacity == expected else {
                            throw PNGError.compressedDataTruncated(decompressed: produced, expected: expected)
                        }
                        throw PNGError.imageDataTooLong(expected: expected)
                    }
                }
                switch ret {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    ended = true
                    if strm.avail_in > 0 { throw PNGError.trailingCompressedData(bytes: Int(strm.avail_in)) }
                case Z_BUF_ERROR:
                    // No progress was possible; with input and output room left this cannot
                    // happen for a sane stream, so treat it as corruption rather than loop.
                    if wrote == 0 { throw PNGError.zlibError(code: ret, message: message(strm) ?? "no progress") }
                default:
                    throw PNGError.zlibError(code: ret, message: message(strm) ?? "error")
                }
            }
        }
        guard ended else {
            // Input ran out before the zlib end marker and Adler-32 (whether or not all the
            // image bytes had already been produced).
            throw PNGError.compressedDataTruncated(decompressed: produced, expected: expected)
        }
        guard produced == expected else {
            throw PNGError.imageDataTooShort(decompressed: produced, expected: expected)
        }
    }

    private static func message(_ strm: z_stream) -> String? {
        guard let m = strm.msg else { return nil }
        return String(cString: m)
    }
}
