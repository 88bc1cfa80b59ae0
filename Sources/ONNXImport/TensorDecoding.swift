import SRGraph

/// TensorProto -> HostTensor: every storage form (raw little-endian bytes or typed fields)
/// of the element types we accept. Float types become Float, integer types Int64.
enum TensorDecoding {
    static func typeName(_ t: Int32) -> String {
        let names: [Int32: String] = [0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16",
                                      6: "INT32", 7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE",
                                      12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16"]
        return names[t] ?? "type \(t)"
    }

    static func decode(_ t: ONNXTensor, file: String, what: String) throws -> HostTensor {
        let label = t.name.isEmpty ? what : "\(what) '\(t.name)'"
        if t.isExternal {
            throw ImportError(.externalData, file: file,
                              "\(label) uses external data: external data not supported, re-save with all tensors inside the file")
        }
        var count = 1
        var shape: [Int] = []
        for d in t.dims {
            guard d >= 0, d <= Int64(Int32.max) else { throw ImportError(.malformed, file: file, "\(label) has invalid dim \(d)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, p <= 1 << 31 else { throw ImportError(.malformed, file: file, "\(label) is too large (dims \(t.dims))") }
            count = p; shape.append(Int(d))
        }
        func mismatch(_ n: Int) -> ImportError {
            ImportError(.malformed, file: file, "\(label) holds \(n) values but its dims \(t.dims) need \(count)")
        }
        func raw<T>(_ size: Int, _ load: (UnsafeRawBufferPointer, Int) -> T) throws -> [T]? {
            guard let r = t.raw else { return nil }
            guard r.count == count * size else { throw mismatch(r.count / max(size, 1)) }
            return r.withUnsafeBytes { buf in (0..<count).map { load(buf, $0 * size) } }
        }
        func typed<T>(_ values: [T]) throws -> [T] {
            guard values.count == count else { throw mismatch(values.count) }
            return values
        }
        switch t.dataType {
        case 1:
            let v = try raw(4) { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self))) }
            return HostTensor(shape: shape, floats: try v ?? typed(t.floatData))
        case 11:
            let v = try raw(8) { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self))) }
            return HostTensor(shape: shape, floats: try (v ?? typed(t.doubleData)).map { Float($0) })
        case 10, 16:
            let bits = try raw(2) { UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt16.self)) }
                ?? typed(t.int32Data).map { UInt16(truncatingIfNeeded: $0) }
            let f = t.dataType == 10 ? bits.map(halfToFloat) : bits.map { Float(bitPattern: UInt32($0) << 16) }
            return HostTensor(shape: shape, floats: f)
        case 7:
            let v = try raw(8) { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int64.self)) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.int64Data))
        case 6:
            let v = try raw(4) { Int64(Int32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int32.self))) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.int32Data).map(Int64.init))
        case 5:
            let v = try raw(2) { Int64(Int16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int16.self))) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.int32Data).map(Int64.init))
        case 4:
            let v = try raw(2) { Int64(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt16.self))) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.int32Data).map(Int64.init))
        case 3:
            let v = try raw(1) { Int64(Int8(bitPattern: $0[$1])) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.int32Data).map(Int64.init))
        case 2, 9:
            let v = try raw(1) { Int64($0[$1]) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.int32Data).map(Int64.init))
        case 12:
            let v = try raw(4) { Int64(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self))) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.uint64Data).map { Int64(truncatingIfNeeded: $0) })
        case 13:
            let v = try raw(8) { Int64(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self))) }
            return HostTensor(shape: shape, ints: try v ?? typed(t.uint64Data).map { Int64(truncatingIfNeeded: $0) })
        default:
            throw ImportError(.unsupportedType, file: file, "\(label) has element type \(typeName(t.dataType)), which is not supported")
        }
    }

    /// IEEE 754 binary16 -> binary32.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1f)
        let frac = UInt32(h & 0x3ff)
        if exp == 0 {
            let magnitude = Float(frac) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (frac << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (frac << 13))
    }
}
