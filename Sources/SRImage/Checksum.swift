import CZlib

/// CRC-32 (ISO 3309 / ITU-T V.42, the polynomial PNG chunks and gzip use), computed by zlib.
public func crc32(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBufferPointer { crc32(continuing: 0, $0) }
}

/// Continues a CRC-32 over `buffer`, starting from a previous result (`0` for a fresh CRC).
public func crc32(continuing crc: UInt32, _ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return crc }
    var value = uLong(crc)
    var offset = 0
    // zlib's length parameter is a 32-bit uInt: feed very large buffers in pieces.
    while offset < buffer.count {
        let n = min(buffer.count - offset, 1 << 30)
        value = CZlib.crc32(value, base + offset, uInt(n))
        offset += n
    }
    return UInt32(truncatingIfNeeded: value)
}
