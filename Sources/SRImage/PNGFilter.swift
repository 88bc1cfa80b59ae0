/// Scanline filters (PNG spec section 9): types 0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth.
enum PNGFilter {
    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let ia = Int(a), ib = Int(b), ic = Int(c)
        let pa = abs(ib - ic)           // |p - a| with p = a + b - c
        let pb = abs(ia - ic)           // |p - b|
        let pc = abs(ia + ib - 2 * ic)  // |p - c|
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Reverses the filters in place on one pass: `rows` rows of `1 + rowBytes` bytes each,
    /// the first byte of each row being its filter type. `stride` is the filter unit (bpp).
    /// `firstRow` only labels errors.
    static func unfilter(_ base: UnsafeMutablePointer<UInt8>, rows: Int, rowBytes: Int,
                         stride bpp: Int, firstRow: Int = 0) throws {
        let rowSize = rowBytes + 1
        var prev: UnsafeMutablePointer<UInt8>? = nil
        for y in 0..<rows {
            let row = base + y * rowSize
            let filter = row[0]
            let cur = row + 1
            switch filter {
            case 0:
                break
            case 1:
                if rowBytes > bpp {
                    for i in bpp..<rowBytes { cur[i] = cur[i] &+ cur[i - bpp] }
                }
            case 2:
                if let p = prev {
                    for i in 0..<rowBytes { cur[i] = cur[i] &+ p[i] }
                }
            case 3:
                if let p = prev {
                    let head = min(bpp, rowBytes)
                    for i in 0..<head { cur[i] = cur[i] &+ (p[i] >> 1) }
                    if rowBytes > bpp {
                        for i in bpp..<rowBytes {
                            cur[i] = cur[i] &+ UInt8((UInt16(cur[i - bpp]) + UInt16(p[i])) >> 1)
                        }
                    }
                } else if rowBytes > bpp {
                    for i in bpp..<rowBytes { cur[i] = cur[i] &+ (cur[i - bpp] >> 1) }
                }
            case 4:
                if let p = prev {
                    let head = min(bpp, rowBytes)
                    // Left and upper-left are zero here, so the predictor is the byte above.
                    for i in 0..<head { cur[i] = cur[i] &+ p[i] }
                    if rowBytes > bpp {
                        for i in bpp..<rowBytes {
                            cur[i] = cur[i] &+ paeth(cur[i - bpp], p[i], p[i - bpp])
                        }
                    }
                } else if rowBytes > bpp {
                    // No row above: Paeth reduces to Sub.
                    for i in bpp..<rowBytes { cur[i] = cur[i] &+ cur[i - bpp] }
                }
            default:
                throw PNGError.badFilterType(filter: filter, row: firstRow + y)
            }
            prev = cur
        }
    }

    /// Applies filter `type` to `rowBytes` bytes of `cur` (with `prev` the unfiltered row above,
    /// all zeros for the first row), writing the filtered bytes to `out`.
    static func filter(type: UInt8, cur: UnsafePointer<UInt8>, prev: UnsafePointer<UInt8>,
                       rowBytes: Int, stride bpp: Int, out: UnsafeMutablePointer<UInt8>) {
        let head = min(bpp, rowBytes)
        switch type {
        case 1:
            for i in 0..<head { out[i] = cur[i] }
            if rowBytes > bpp { for i in bpp..<rowBytes { out[i] = cur[i] &- cur[i - bpp] } }
        case 2:
            for i in 0..<rowBytes { out[i] = cur[i] &- prev[i] }
        case 3:
            for i in 0..<head { out[i] = cur[i] &- (prev[i] >> 1) }
            if rowBytes > bpp {
                for i in bpp..<rowBytes {
                    out[i] = cur[i] &- UInt8((UInt16(cur[i - bpp]) + UInt16(prev[i])) >> 1)
                }
            }
        case 4:
            for i in 0..<head { out[i] = cur[i] &- prev[i] }
            if rowBytes > bpp {
                for i in bpp..<rowBytes { out[i] = cur[i] &- paeth(cur[i - bpp], prev[i], prev[i - bpp]) }
            }
        default:
            out.update(from: cur, count: rowBytes)
        }
    }
}
