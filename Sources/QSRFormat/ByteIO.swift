import FixedPoint

/// Little-endian byte sink for the writer.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func i8(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func u16(_ v: UInt16) { for k in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func u64(_ v: UInt64) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func count(_ n: Int) {
        precondition(n >= 0 && n <= Int(UInt32.max), "QSRWriter: count \(n) does not fit a u32")
        u32(UInt32(n))
    }
    mutating func string(_ s: String) { let b = Array(s.utf8); count(b.count); bytes += b }
    mutating func multiplier(_ m: QuantMultiplier) { i32(m.mantissa); i8(m.shift) }
    mutating func align(_ a: Int) { while bytes.count % a != 0 { bytes.append(0) } }
}

/// Bounds-checked little-endian reader over one section of the file. Every read checks the
/// remaining bytes first and throws (naming the section) instead of reading past the end.
struct ByteReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int
    let section: String

    init(_ bytes: [UInt8], from start: Int, to end: Int, section: String) {
        self.bytes = bytes; self.position = start; self.end = end; self.section = section
    }

    var remaining: Int { end - position }

    func fail(_ message: String) -> QSRError { QSRError("\(section): \(message)") }

    mutating func take(_ n: Int, _ what: String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw fail("truncated: \(what) needs \(n) bytes at offset \(position), \(max(remaining, 0)) left")
        }
        let p = position
        position += n
        return p
    }
    mutating func u8(_ what: String) throws -> UInt8 { bytes[try take(1, what)] }
    mutating func i8(_ what: String) throws -> Int8 { Int8(bitPattern: try u8(what)) }
    mutating func bool(_ what: String) throws -> Bool {
        let v = try u8(what)
        guard v <= 1 else { throw fail("\(what) must be 0 or 1, found \(v)") }
        return v == 1
    }
    mutating func u16(_ what: String) throws -> UInt16 {
        let p = try take(2, what)
        return UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8
    }
    mutating func u32(_ what: String) throws -> UInt32 {
        let p = try take(4, what)
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[p + k]) << (8 * UInt32(k)) }
        return v
    }
    mutating func i32(_ what: String) throws -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func u64(_ what: String) throws -> UInt64 {
        let p = try take(8, what)
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[p + k]) << (8 * UInt64(k)) }
        return v
    }
    /// A count of items of at least `minItemBytes` bytes each: bounded by the bytes left, so a
    /// corrupt count can never make the reader allocate more than the file holds.
    mutating func count(_ what: String, minItemBytes: Int) throws -> Int {
        let n = Int(try u32(what))
        guard n <= remaining / max(minItemBytes, 1) else {
            throw fail("\(what) \(n) exceeds what the remaining \(remaining) bytes can hold")
        }
        return n
    }
    mutating func string(_ what: String) throws -> String {
        let n = try count("\(what) length", minItemBytes: 1)
        let p = try take(n, what)
        let raw = Array(bytes[p..<(p + n)])
        let s = String(decoding: raw, as: UTF8.self)
        guard Array(s.utf8) == raw else { throw fail("\(what) is not valid UTF-8") }
        return s
    }
    mutating func multiplier(_ what: String) throws -> QuantMultiplier {
        let mantissa = try i32("\(what) mantissa")
        let shift = try i8("\(what) shift")
        if mantissa == 0 {
            guard shift == 0 else { throw fail("\(what): zero multiplier with shift \(shift) (must be 0)") }
        } else {
            guard mantissa >= 1 << 30 else { throw fail("\(what): mantissa \(mantissa) outside [2^30, 2^31)") }
            guard (-31...30).contains(shift) else { throw fail("\(what): exponent \(shift) outside [-31, 30]") }
        }
        return QuantMultiplier(mantissa: mantissa, shift: shift)
    }
}
