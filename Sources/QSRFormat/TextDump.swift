import FixedPoint
import Foundation

/// The stable text form of a compiled program (`srcc dump MODEL.qsr`, SPEC.md §5.4.3), in the
/// line style of the graph dump: values with their integer type, shape, scale and q range;
/// constants with kind, count, min/max and a content hash; one `node` line per instruction
/// with its attributes and, after `|`, the quantization parameters.
public func textDump(_ p: Program) -> String {
    var lines = ["# srcc qsr dump v1", "graph \(quotedName(p.metadata.modelName))"]
    let m = p.metadata
    var meta: [(String, String)] = [
        ("channels", m.channelOrder == .rgb ? "rgb" : "bgr"), ("range", "\(m.valueRange)"), ("scale", "\(m.scale)"),
        ("slots", "\(p.slotCount)"), ("source_bytes", "\(m.sourceBytes)"),
    ]
    for (k, v) in m.notes { meta.append(("note." + k, v)) }
    for (k, v) in meta.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }) {
        lines.append("meta \(k)=\(quotedName(v))")
    }
    func valueText(_ id: ValueID) -> String {
        guard id >= 0, Int(id) < p.values.count else { return "?\(id)" }
        let v = p.values[Int(id)]
        return "\(quotedName(v.name)) \(v.type)[\(v.channels),\(v.height.text),\(v.width.text)] scale=\(dumpNumber(Double(v.scale))) q=[\(v.qmin),\(v.qmax)]"
    }
    func name(_ id: ValueID) -> String {
        guard id >= 0, Int(id) < p.values.count else { return "?\(id)" }
        return quotedName(p.values[Int(id)].name)
    }
    func scale(_ id: ValueID) -> String {
        guard id >= 0, Int(id) < p.values.count else { return "?" }
        return dumpNumber(Double(p.values[Int(id)].scale))
    }
    if case let .inputPixels(dst)? = p.instructions.first { lines.append("input \(quotedName(m.inputName)) = \(valueText(dst))") }
    if case let .outputPixels(src)? = p.instructions.last { lines.append("output \(quotedName(m.outputName)) = \(valueText(src))") }
    for (i, c) in p.constants.enumerated() {
        var line = "const c\(i) \(QSRLayout.kindName(c.kind))[\(c.count)]"
        if let lo = c.values.min(), let hi = c.values.max() { line += " min=\(lo) max=\(hi) hash=\(constantHash(c))" } else { line += " empty" }
        lines.append(line)
    }
    func mults(_ list: [QuantMultiplier]) -> String { "[" + list.map(\.description).joined(separator: ",") + "]" }
    func requantText(_ r: Requantization) -> String {
        var t = "M=\(mults(r.positive))"
        if let n = r.negative { t += " M_neg=\(mults(n))" }
        return t + (r.offset != 0 ? " offset=\(r.offset)" : "") + " clamp=[\(r.clampMin),\(r.clampMax)]"
    }
    for (i, ins) in p.instructions.enumerated() {
        let ins_ = ins.sources.map(name).joined(separator: ", ")
        let outs = ins.destination.map(valueText) ?? ""
        var attrs = "", quant = ""
        switch ins {
        case .inputPixels, .outputPixels:
            attrs = "channels=\(m.channelOrder == .rgb ? "rgb" : "bgr")"
        case let .conv(dst, src, q, w, bits, b, r, pad):
            attrs = "kernel=[\(q.kernelHeight),\(q.kernelWidth)] strides=[\(q.strideY),\(q.strideX)] pads=[\(q.padTop),\(q.padLeft),\(q.padBottom),\(q.padRight)] dilations=[\(q.dilationY),\(q.dilationX)] group=\(q.group) channels=\(q.inputChannels)->\(q.outputChannels) weights=c\(w) bias=c\(b)"
            if let pad { attrs += " pad_values=c\(pad)" }
            quant = "w_bits=\(bits) in_scale=\(scale(src)) out_scale=\(scale(dst)) " + requantText(r)
        case let .requantize(dst, src, r):
            quant = "in_scale=\(scale(src)) out_scale=\(scale(dst)) " + requantText(r)
        case let .add(dst, a, b, shift, ma, mb, mo, subtract, lo, hi):
            attrs = subtract ? "op=sub" : "op=add"
            quant = "scales=[\(scale(a)),\(scale(b))]->\(scale(dst)) shift=\(shift) Ma=\(ma) Mb=\(mb) Mo=\(mo) clamp=[\(lo),\(hi)]"
        case let .mul(dst, a, b, mq, lo, hi):
            quant = "scales=[\(scale(a)),\(scale(b))]->\(scale(dst)) M=\(mq) clamp=[\(lo),\(hi)]"
        case let .concat(dst, sources, ms, lo, hi):
            quant = "scales=[\(sources.map(scale).joined(separator: ","))]->\(scale(dst)) M=[\(ms.map { $0?.description ?? "copy" }.joined(separator: ","))] clamp=[\(lo),\(hi)]"
        case let .sliceChannels(_, _, start):
            attrs = "start=\(start)"
        case let .depthToSpace(_, _, b, crd):
            attrs = "blocksize=\(b) mode=\(crd ? "CRD" : "DCR")"
        case let .reduceMean(dst, src, mq, lo, hi), let .sqrt(dst, src, mq, lo, hi):
            quant = "in_scale=\(scale(src)) out_scale=\(scale(dst)) M=\(mq) clamp=[\(lo),\(hi)]"
        case let .lookup(dst, src, t):
            attrs = "table=c\(t)"
            quant = "in_scale=\(scale(src)) out_scale=\(scale(dst))"
        }
        var line = "node i\(i) \(ins.mnemonic)(\(ins_)) -> (\(outs))"
        if !attrs.isEmpty { line += " " + attrs }
        if !quant.isEmpty { line += " | " + quant }
        lines.append(line)
    }
    return lines.joined(separator: "\n") + "\n"
}

/// FNV-1a 64 over (kind tag, count, each value as a little-endian Int64), 8 bytes each; the
/// first 12 lowercase hex digits (SPEC.md §5.4.3).
public func constantHash(_ c: Constant) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ x: UInt64) {
        var v = x
        for _ in 0..<8 { h ^= v & 0xff; h = h &* 0x0000_0100_0000_01b3; v >>= 8 }
    }
    mix(UInt64(c.kind.rawValue))
    mix(UInt64(c.count))
    for v in c.values { mix(UInt64(bitPattern: Int64(v))) }
    let s = String(h, radix: 16)
    return String((String(repeating: "0", count: 16 - s.count) + s).prefix(12))
}

func dumpNumber(_ v: Double) -> String { v == 0 ? "0" : String(format: "%.6g", v) }

func quotedName(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "_./:-".contains($0) }) { return s }
    return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}
