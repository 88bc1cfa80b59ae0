import FixedPoint
import SRImage

/// Serializes a program as a .qsr file (SPEC.md §5.4). Deterministic: the same program always
/// gives the same bytes (notes are sorted by key, padding is zero). The writer checks only
/// that the program is representable (constant values fit their kind, counts fit a u32);
/// semantic validity is the reader's and `validate(_:)`'s business.
public func encode(_ p: Program) -> [UInt8] {
    var sections: [[UInt8]] = []
    sections.append(encodeMetadata(p.metadata))
    sections.append(encodeValues(p.values))
    let (table, data) = encodeConstants(p.constants)
    sections.append(table)
    sections.append(data)
    sections.append(encodeInstructions(p.instructions))

    var out = ByteWriter()
    out.bytes += QSRLayout.magic
    out.u16(QSRLayout.version)
    out.u16(0)                                   // flags: none defined
    out.count(p.slotCount)
    out.u32(UInt32(sections.count))
    var offset = QSRLayout.tableEnd
    for (tag, body) in zip(QSRLayout.sectionTags, sections) {
        offset = QSRLayout.aligned(offset)
        out.bytes += Array(tag.utf8)
        out.count(offset)
        out.count(body.count)
        out.u32(0)
        offset += body.count
    }
    for body in sections {
        out.align(QSRLayout.alignment)
        out.bytes += body
    }
    out.u32(crc32(out.bytes))
    return out.bytes
}

private func encodeMetadata(_ m: ModelMetadata) -> [UInt8] {
    var w = ByteWriter()
    precondition((0...255).contains(m.scale) && (0...65535).contains(m.valueRange) && m.sourceBytes >= 0,
                 "QSRWriter: metadata scale/range/sourceBytes not representable")
    w.u8(UInt8(m.scale))
    w.u8(m.channelOrder.rawValue)
    w.u16(UInt16(m.valueRange))
    w.u64(UInt64(m.sourceBytes))
    w.string(m.modelName)
    w.string(m.inputName)
    w.string(m.outputName)
    w.count(m.notes.count)
    for key in m.notes.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
        w.string(key)
        w.string(m.notes[key]!)
    }
    return w.bytes
}

private func encodeDim(_ d: DimExpr, _ w: inout ByteWriter) {
    w.u8(d.symbol ?? 0xFF)
    w.i32(d.coefficient)
    w.i32(d.offset)
    w.i32(d.divisor)
}

private func encodeValues(_ values: [ValueDescriptor]) -> [UInt8] {
    var w = ByteWriter()
    w.count(values.count)
    for v in values {
        w.string(v.name)
        w.u8(v.type.rawValue)
        w.i32(v.channels)
        encodeDim(v.height, &w)
        encodeDim(v.width, &w)
        w.u32(v.scale.bitPattern)
        w.i32(v.qmin)
        w.i32(v.qmax)
        w.i32(v.slot)
    }
    return w.bytes
}

private func encodeConstants(_ constants: [Constant]) -> (table: [UInt8], data: [UInt8]) {
    var table = ByteWriter(), data = ByteWriter()
    table.count(constants.count)
    for (i, c) in constants.enumerated() {
        precondition(c.count == c.values.count, "QSRWriter: constant \(i) count \(c.count) != \(c.values.count) values")
        let range = QSRLayout.valueRange(c.kind)
        data.align(QSRLayout.alignment)
        let start = data.bytes.count
        switch c.kind {
        case .int4:
            var k = 0
            while k < c.values.count {
                let lo = c.values[k], hi = k + 1 < c.values.count ? c.values[k + 1] : 0
                precondition(range.contains(lo) && range.contains(hi), "QSRWriter: constant \(i) value outside int4")
                data.u8(UInt8(lo & 0xF) | UInt8(hi & 0xF) << 4)
                k += 2
            }
        case .int8, .uint8:
            for v in c.values {
                precondition(range.contains(v), "QSRWriter: constant \(i) value \(v) outside \(QSRLayout.kindName(c.kind))")
                data.u8(UInt8(truncatingIfNeeded: v))
            }
        case .int32:
            for v in c.values { data.i32(v) }
        }
        table.u8(c.kind.rawValue)
        table.u8(0); table.u8(0); table.u8(0)
        table.count(c.count)
        table.count(start)
        table.count(data.bytes.count - start)
    }
    return (table.bytes, data.bytes)
}

private func encodeRequant(_ r: Requantization, _ w: inout ByteWriter) {
    w.count(r.positive.count)
    for m in r.positive { w.multiplier(m) }
    if let n = r.negative {
        w.bool(true)
        w.count(n.count)
        for m in n { w.multiplier(m) }
    } else {
        w.bool(false)
    }
    w.i32(r.clampMin)
    w.i32(r.clampMax)
    w.i32(r.offset)
}

private func encodeInstructions(_ instructions: [Instruction]) -> [UInt8] {
    var w = ByteWriter()
    w.count(instructions.count)
    for ins in instructions {
        var o = ByteWriter()
        switch ins {
        case let .inputPixels(dst):
            o.i32(dst)
        case let .conv(dst, src, p, weights, bits, bias, requant, padValues):
            o.i32(dst); o.i32(src)
            for f in [p.outputChannels, p.inputChannels, p.kernelHeight, p.kernelWidth, p.strideY, p.strideX,
                      p.padTop, p.padLeft, p.padBottom, p.padRight, p.dilationY, p.dilationX, p.group] { o.i32(f) }
            o.i32(weights); o.u8(bits); o.i32(bias)
            encodeRequant(requant, &o)
            o.i32(padValues ?? -1)
        case let .requantize(dst, src, requant):
            o.i32(dst); o.i32(src)
            encodeRequant(requant, &o)
        case let .add(dst, a, b, shift, ma, mb, mo, subtract, lo, hi):
            o.i32(dst); o.i32(a); o.i32(b); o.u8(shift)
            o.multiplier(ma); o.multiplier(mb); o.multiplier(mo)
            o.bool(subtract); o.i32(lo); o.i32(hi)
        case let .mul(dst, a, b, m, lo, hi):
            o.i32(dst); o.i32(a); o.i32(b); o.multiplier(m); o.i32(lo); o.i32(hi)
        case let .concat(dst, sources, multipliers, lo, hi):
            precondition(sources.count == multipliers.count, "QSRWriter: concat with \(sources.count) sources and \(multipliers.count) multipliers")
            o.i32(dst)
            o.count(sources.count)
            for (s, m) in zip(sources, multipliers) {
                o.i32(s)
                if let m { o.bool(true); o.multiplier(m) } else { o.bool(false) }
            }
            o.i32(lo); o.i32(hi)
        case let .sliceChannels(dst, src, start):
            o.i32(dst); o.i32(src); o.i32(start)
        case let .depthToSpace(dst, src, block, crd):
            o.i32(dst); o.i32(src); o.i32(block); o.bool(crd)
        case let .reduceMean(dst, src, m, lo, hi), let .sqrt(dst, src, m, lo, hi):
            o.i32(dst); o.i32(src); o.multiplier(m); o.i32(lo); o.i32(hi)
        case let .lookup(dst, src, table):
            o.i32(dst); o.i32(src); o.i32(table)
        case let .outputPixels(src):
            o.i32(src)
        }
        w.u16(ins.opcode.rawValue)
        w.count(o.bytes.count)
        w.bytes += o.bytes
    }
    return w.bytes
}
