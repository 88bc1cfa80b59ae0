import CZlib

/// Writes 8-bit RGB, non-interlaced PNGs: IHDR, IDAT (zlib level 6, split in 1 MiB chunks), IEND.
/// Each row gets the filter with the smallest sum of absolute filtered bytes (taken as signed),
/// the usual heuristic from the PNG spec's encoder recommendations.
enum PNGEncoder {
    static func encode(_ image: RGBImage) -> [UInt8] {
        precondition(image.width > 0 && image.height > 0, "PNG cannot store an empty \(image.width)x\(image.height) image")
        let w = image.width, h = image.height
        let rowBytes = w * 3
        var filtered = [UInt8](repeating: 0, count: h * (rowBytes + 1))
        image.pixels.withUnsafeBufferPointer { px in
            filtered.withUnsafeMutableBufferPointer { outBuf in
                guard let src = px.baseAddress, let out = outBuf.baseAddress else { return }
                filterRows(src, width: w, height: h, into: out)
            }
        }

        var out: [UInt8] = PNGChunkReader.signature
        var ihdr: [UInt8] = []
        appendBE32(&ihdr, UInt32(w))
        appendBE32(&ihdr, UInt32(h))
        ihdr += [8, 2, 0, 0, 0]  // depth 8, truecolour, deflate, adaptive filtering, no interlace
        appendChunk(&out, "IHDR", ihdr)
        let compressed = deflate(filtered)
        var offset = 0
        repeat {
            let n = min(compressed.count - offset, 1 << 20)
            appendChunk(&out, "IDAT", compressed[offset..<(offset + n)])
            offset += n
        } while offset < compressed.count
        appendChunk(&out, "IEND", [])
        return out
    }

    /// Filters every RGB8 row into `out` (filter byte + filtered bytes per row).
    static func filterRows(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int,
                           into out: UnsafeMutablePointer<UInt8>) {
        let rowBytes = w * 3
        let candidate = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes)
        let zero = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes)
        zero.initialize(repeating: 0, count: rowBytes)
        defer {
            candidate.deallocate()
            zero.deallocate()
        }
        for y in 0..<h {
            let cur = src + y * rowBytes
            let prev = y > 0 ? cur - rowBytes : UnsafePointer(zero)
            let dst = out + y * (rowBytes + 1)
            var bestScore = Int.max
            for type: UInt8 in 0...4 {
                PNGFilter.filter(type: type, cur: cur, prev: prev, rowBytes: rowBytes, stride: 3, out: candidate)
                var score = 0
                for i in 0..<rowBytes { score += abs(Int(Int8(bitPattern: candidate[i]))) }
                if score < bestScore {
                    bestScore = score
                    dst[0] = type
                    (dst + 1).update(from: candidate, count: rowBytes)
                }
            }
        }
    }

    static func deflate(_ data: [UInt8]) -> [UInt8] {
        var destLen = compressBound(uLong(data.count))
        var dest = [UInt8](repeating: 0, count: Int(destLen))
        let ret = data.withUnsafeBufferPointer { src in
            dest.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &destLen, src.baseAddress, uLong(src.count), 6)
            }
        }
        // compressBound guarantees room, so only memory exhaustion can fail here.
        precondition(ret == Z_OK, "zlib compress2 failed with \(ret)")
        dest.removeSubrange(Int(destLen)...)
        return dest
    }

    static func appendBE32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func appendChunk<C: Collection>(_ out: inout [UInt8], _ type: String, _ data: C) where C.Element == UInt8 {
        appendBE32(&out, UInt32(data.count))
        let start = out.count
        out += Array(type.utf8)
        out += data
        let crc = out.withUnsafeBufferPointer { crc32(continuing: 0, UnsafeBufferPointer(rebasing: $0[start...])) }
        appendBE32(&out, crc)
    }
}
