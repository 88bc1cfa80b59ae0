import FixedPoint
import SRImage

/// Parses and validates a .qsr file (SPEC.md §5.4). Everything is checked before a program is
/// returned: container (magic, version, flags, CRC, section table, every length and offset),
/// encodings (enum values, opcodes, multipliers, UTF-8), and then the program's semantics
/// with `validate(_:)`. Any failure is a `QSRError`; no input makes the reader crash or
/// allocate more than the file's size justifies.
public func decode(_ bytes: [UInt8]) throws -> Program {
    let minimum = QSRLayout.tableEnd + 4
    guard bytes.count >= minimum else {
        throw QSRError("file: \(bytes.count) bytes is too short for a .qsr file (at least \(minimum))")
    }
    guard Array(bytes[0..<4]) == QSRLayout.magic else { throw QSRError("header: bad magic (not a .qsr file)") }
    var header = ByteReader(bytes, from: 4, to: QSRLayout.tableEnd, section: "header")
    let version = try header.u16("version")
    guard version == QSRLayout.version else {
        throw QSRError("header: unsupported version \(version) (this reader knows version \(QSRLayout.version))")
    }
    let body = bytes.count - 4
    let stored = UInt32(bytes[body]) | UInt32(bytes[body + 1]) << 8 | UInt32(bytes[body + 2]) << 16 | UInt32(bytes[body + 3]) << 24
    let computed = bytes.withUnsafeBufferPointer { crc32(continuing: 0, UnsafeBufferPointer(rebasing: $0[0..<body])) }
    guard stored == computed else {
        throw QSRError("file: CRC mismatch (stored \(hex(stored)), computed \(hex(computed))): the file is corrupt or truncated")
    }
    let flags = try header.u16("flags")
    guard flags == 0 else { throw QSRError("header: unknown flags \(hex(UInt32(flags)))") }
    let slotCount = Int(try header.u32("slot count"))
    let sectionCount = try header.u32("section count")
    guard sectionCount == UInt32(QSRLayout.sectionTags.count) else {
        throw QSRError("header: \(sectionCount) sections, expected \(QSRLayout.sectionTags.count)")
    }

    // Section table: fixed tags in fixed order, each section 16-byte aligned right after the
    // previous one (zero padding between), the last one ending where the CRC starts.
    var ranges: [Range<Int>] = []
    var expected = QSRLayout.tableEnd
    for tag in QSRLayout.sectionTags {
        let tagBytes = try header.take(4, "section tag")
        let found = Array(bytes[tagBytes..<(tagBytes + 4)])
        guard found == Array(tag.utf8) else {
            throw QSRError("section table: expected section \(tag), found \(printable(found))")
        }
        let offset = Int(try header.u32("\(tag) offset"))
        let length = Int(try header.u32("\(tag) length"))
        guard try header.u32("\(tag) reserved") == 0 else { throw QSRError("section table: \(tag) reserved field is not 0") }
        let start = QSRLayout.aligned(expected)
        guard offset == start else { throw QSRError("section table: \(tag) at offset \(offset), expected \(start)") }
        guard length <= body - offset else {
            throw QSRError("section table: \(tag) length \(length) at offset \(offset) runs past the end of the file (\(body) bytes before the CRC)")
        }
        for k in expected..<offset where bytes[k] != 0 {
            throw QSRError("section table: non-zero padding byte at offset \(k) before \(tag)")
        }
        ranges.append(offset..<(offset + length))
        expected = offset + length
    }
    guard expected == body else {
        throw QSRError("file: \(body - expected) unexpected bytes between the last section and the CRC")
    }

    let metadata = try readMetadata(bytes, ranges[0])
    let values = try readValues(bytes, ranges[1])
    let constants = try readConstants(bytes, table: ranges[2], data: ranges[3])
    let instructions = try readInstructions(bytes, ranges[4])
    let program = Program(metadata: metadata, values: values, constants: constants,
                          instructions: instructions, slotCount: slotCount)
    try validate(program)
    return program
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}

private func printable(_ b: [UInt8]) -> String {
    if b.allSatisfy({ (0x20...0x7e).contains($0) }) { return "\"" + String(decoding: b, as: UTF8.self) + "\"" }
    return b.map { String($0, radix: 16) }.joined(separator: " ")
}

private func finish(_ r: ByteReader) throws {
    guard r.remaining == 0 else { throw r.fail("\(r.remaining) trailing bytes after the last entry") }
}

private func readMetadata(_ bytes: [UInt8], _ range: Range<Int>) throws -> ModelMetadata {
    var r = ByteReader(bytes, from: range.lowerBound, to: range.upperBound, section: "META")
    let scale = Int(try r.u8("scale"))
    let orderRaw = try r.u8("channel order")
    guard let order = ModelMetadata.ChannelOrder(rawValue: orderRaw) else { throw r.fail("unknown channel order \(orderRaw)") }
    let valueRange = Int(try r.u16("value range"))
    let sourceBytes = try r.u64("source bytes")
    guard sourceBytes <= UInt64(Int64.max) else { throw r.fail("source bytes \(sourceBytes) out of range") }
    let name = try r.string("model name")
    let inputName = try r.string("input name")
    let outputName = try r.string("output name")
    let noteCount = try r.count("note count", minItemBytes: 8)
    var notes: [String: String] = [:]
    var previous: [UInt8]? = nil
    for k in 0..<noteCount {
        let key = try r.string("note \(k) key")
        let value = try r.string("note \(k) value")
        let keyBytes = Array(key.utf8)
        if let p = previous, !p.lexicographicallyPrecedes(keyBytes) {
            throw r.fail("note keys are not strictly sorted at note \(k) (\(key))")
        }
        guard notes[key] == nil else { throw r.fail("duplicate note key \(key)") }
        previous = keyBytes
        notes[key] = value
    }
    try finish(r)
    return ModelMetadata(modelName: name, scale: scale, channelOrder: order, valueRange: valueRange,
                         inputName: inputName, outputName: outputName, sourceBytes: Int(sourceBytes), notes: notes)
}

private func readDim(_ r: inout ByteReader, _ what: String) throws -> DimExpr {
    let symbol = try r.u8("\(what) symbol")
    guard symbol <= 1 || symbol == 0xFF else { throw r.fail("\(what): unknown symbol \(symbol) (0 = H, 1 = W, 255 = none)") }
    let coefficient = try r.i32("\(what) coefficient")
    let offset = try r.i32("\(what) offset")
    let divisor = try r.i32("\(what) divisor")
    return DimExpr(symbol: symbol == 0xFF ? nil : symbol, coefficient: coefficient, offset: offset, divisor: divisor)
}

private func readValues(_ bytes: [UInt8], _ range: Range<Int>) throws -> [ValueDescriptor] {
    var r = ByteReader(bytes, from: range.lowerBound, to: range.upperBound, section: "VALS")
    let n = try r.count("value count", minItemBytes: 51)
    var values: [ValueDescriptor] = []
    values.reserveCapacity(n)
    for i in 0..<n {
        let name = try r.string("value \(i) name")
        let typeRaw = try r.u8("value \(i) type")
        guard let type = ElementType(rawValue: typeRaw) else { throw r.fail("value \(i) (\(name)): unknown element type \(typeRaw)") }
        let channels = try r.i32("value \(i) channels")
        let height = try readDim(&r, "value \(i) height")
        let width = try readDim(&r, "value \(i) width")
        let scale = Float(bitPattern: try r.u32("value \(i) scale"))
        let qmin = try r.i32("value \(i) qmin"), qmax = try r.i32("value \(i) qmax")
        let slot = try r.i32("value \(i) slot")
        values.append(ValueDescriptor(name: name, type: type, channels: channels, height: height, width: width,
                                      scale: scale, qmin: qmin, qmax: qmax, slot: slot))
    }
    try finish(r)
    return values
}

private func readConstants(_ bytes: [UInt8], table: Range<Int>, data: Range<Int>) throws -> [Constant] {
    var r = ByteReader(bytes, from: table.lowerBound, to: table.upperBound, section: "CNST")
    let n = try r.count("constant count", minItemBytes: QSRLayout.constantEntryBytes)
    var constants: [Constant] = []
    constants.reserveCapacity(n)
    var expected = 0                          // next payload offset, relative to DATA
    for i in 0..<n {
        let kindRaw = try r.u8("constant \(i) kind")
        guard let kind = Constant.Kind(rawValue: kindRaw) else { throw r.fail("constant \(i): unknown kind \(kindRaw)") }
        for _ in 0..<3 { guard try r.u8("constant \(i) reserved") == 0 else { throw r.fail("constant \(i): reserved bytes are not 0") } }
        let count = Int(try r.u32("constant \(i) count"))
        let offset = Int(try r.u32("constant \(i) offset"))
        let length = Int(try r.u32("constant \(i) length"))
        let start = QSRLayout.aligned(expected)
        guard offset == start else { throw r.fail("constant \(i): data offset \(offset), expected \(start)") }
        guard length == QSRLayout.payloadBytes(kind, count: count) else {
            throw r.fail("constant \(i): \(length) bytes do not hold \(count) \(QSRLayout.kindName(kind)) values")
        }
        guard length <= data.count - offset else {
            throw r.fail("constant \(i): \(length) bytes at data offset \(offset) run past the DATA section (\(data.count) bytes)")
        }
        let base = data.lowerBound
        for k in expected..<offset where bytes[base + k] != 0 {
            throw QSRError("DATA: non-zero padding byte before constant \(i)")
        }
        var values = [Int32](repeating: 0, count: count)
        let p = base + offset
        switch kind {
        case .int4:
            for k in 0..<count {
                let byte = bytes[p + k / 2]
                let nibble = k % 2 == 0 ? byte & 0xF : byte >> 4
                values[k] = Int32(nibble) - (nibble >= 8 ? 16 : 0)
            }
            if count % 2 == 1 && bytes[p + count / 2] >> 4 != 0 {
                throw QSRError("DATA: constant \(i): unused high nibble of the last int4 byte is not 0")
            }
        case .int8:
            for k in 0..<count { values[k] = Int32(Int8(bitPattern: bytes[p + k])) }
        case .uint8:
            for k in 0..<count { values[k] = Int32(bytes[p + k]) }
        case .int32:
            for k in 0..<count {
                let q = p + 4 * k
                values[k] = Int32(bitPattern: UInt32(bytes[q]) | UInt32(bytes[q + 1]) << 8 | UInt32(bytes[q + 2]) << 16 | UInt32(bytes[q + 3]) << 24)
            }
        }
        constants.append(Constant(kind: kind, values: values))
        expected = offset + length
    }
    try finish(r)
    guard expected == data.count else { throw QSRError("DATA: \(data.count - expected) bytes after the last constant") }
    return constants
}

private func readRequant(_ r: inout ByteReader, _ what: String) throws -> Requantization {
    let n = try r.count("\(what) multiplier count", minItemBytes: 5)
    var positive: [QuantMultiplier] = []
    for k in 0..<n { positive.append(try r.multiplier("\(what) multiplier \(k)")) }
    var negative: [QuantMultiplier]? = nil
    if try r.bool("\(what) has negative multipliers") {
        let m = try r.count("\(what) negative multiplier count", minItemBytes: 5)
        var list: [QuantMultiplier] = []
        for k in 0..<m { list.append(try r.multiplier("\(what) negative multiplier \(k)")) }
        negative = list
    }
    let lo = try r.i32("\(what) clamp min"), hi = try r.i32("\(what) clamp max")
    let offset = try r.i32("\(what) offset")
    return Requantization(positive: positive, negative: negative, clampMin: lo, clampMax: hi, offset: offset)
}

private func readInstructions(_ bytes: [UInt8], _ range: Range<Int>) throws -> [Instruction] {
    var r = ByteReader(bytes, from: range.lowerBound, to: range.upperBound, section: "INST")
    let n = try r.count("instruction count", minItemBytes: 10)
    var out: [Instruction] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        let code = try r.u16("instruction \(i) opcode")
        guard let op = Opcode(rawValue: code) else { throw r.fail("instruction \(i): unknown opcode \(code)") }
        let length = Int(try r.u32("instruction \(i) operand length"))
        let start = try r.take(length, "instruction \(i) (\(op.mnemonic)) operands")
        var o = ByteReader(bytes, from: start, to: start + length, section: "INST instruction \(i) (\(op.mnemonic))")
        let ins: Instruction
        switch op {
        case .inputPixels:
            ins = .inputPixels(dst: try o.i32("dst"))
        case .conv:
            let dst = try o.i32("dst"), src = try o.i32("src")
            var f: [Int32] = []
            for name in ["output channels", "input channels", "kernel height", "kernel width", "stride y", "stride x",
                         "pad top", "pad left", "pad bottom", "pad right", "dilation y", "dilation x", "group"] {
                f.append(try o.i32(name))
            }
            let params = ConvParameters(outputChannels: f[0], inputChannels: f[1], kernelHeight: f[2], kernelWidth: f[3],
                                        strideY: f[4], strideX: f[5], padTop: f[6], padLeft: f[7], padBottom: f[8], padRight: f[9],
                                        dilationY: f[10], dilationX: f[11], group: f[12])
            let weights = try o.i32("weights"), bits = try o.u8("weight bits"), bias = try o.i32("bias")
            let requant = try readRequant(&o, "requantization")
            let pad = try o.i32("pad values")
            guard pad >= -1 else { throw o.fail("pad values constant \(pad) (use -1 for none)") }
            ins = .conv(dst: dst, src: src, params: params, weights: weights, weightBits: bits, bias: bias,
                        requant: requant, padValues: pad == -1 ? nil : pad)
        case .requantize:
            let dst = try o.i32("dst"), src = try o.i32("src")
            ins = .requantize(dst: dst, src: src, requant: try readRequant(&o, "requantization"))
        case .add:
            let dst = try o.i32("dst"), a = try o.i32("a"), b = try o.i32("b"), shift = try o.u8("left shift")
            let ma = try o.multiplier("multiplier a"), mb = try o.multiplier("multiplier b"), mo = try o.multiplier("output multiplier")
            let subtract = try o.bool("subtract")
            let lo = try o.i32("clamp min"), hi = try o.i32("clamp max")
            ins = .add(dst: dst, a: a, b: b, leftShift: shift, multiplierA: ma, multiplierB: mb, multiplierOut: mo,
                       subtract: subtract, clampMin: lo, clampMax: hi)
        case .mul:
            let dst = try o.i32("dst"), a = try o.i32("a"), b = try o.i32("b"), m = try o.multiplier("multiplier")
            let lo = try o.i32("clamp min"), hi = try o.i32("clamp max")
            ins = .mul(dst: dst, a: a, b: b, multiplier: m, clampMin: lo, clampMax: hi)
        case .concat:
            let dst = try o.i32("dst")
            let k = try o.count("source count", minItemBytes: 5)
            var sources: [ValueID] = [], multipliers: [QuantMultiplier?] = []
            for s in 0..<k {
                sources.append(try o.i32("source \(s)"))
                multipliers.append(try o.bool("source \(s) has multiplier") ? try o.multiplier("source \(s) multiplier") : nil)
            }
            let lo = try o.i32("clamp min"), hi = try o.i32("clamp max")
            ins = .concat(dst: dst, sources: sources, multipliers: multipliers, clampMin: lo, clampMax: hi)
        case .sliceChannels:
            let dst = try o.i32("dst"), src = try o.i32("src")
            ins = .sliceChannels(dst: dst, src: src, start: try o.i32("start"))
        case .depthToSpace:
            let dst = try o.i32("dst"), src = try o.i32("src"), block = try o.i32("block size")
            ins = .depthToSpace(dst: dst, src: src, blockSize: block, crd: try o.bool("mode (0 = DCR, 1 = CRD)"))
        case .reduceMean, .sqrt:
            let dst = try o.i32("dst"), src = try o.i32("src"), m = try o.multiplier("multiplier")
            let lo = try o.i32("clamp min"), hi = try o.i32("clamp max")
            ins = op == .sqrt ? .sqrt(dst: dst, src: src, multiplier: m, clampMin: lo, clampMax: hi)
                              : .reduceMean(dst: dst, src: src, multiplier: m, clampMin: lo, clampMax: hi)
        case .lookup:
            let dst = try o.i32("dst"), src = try o.i32("src")
            ins = .lookup(dst: dst, src: src, table: try o.i32("table"))
        case .outputPixels:
            ins = .outputPixels(src: try o.i32("src"))
        }
        try finish(o)
        out.append(ins)
    }
    try finish(r)
    return out
}
