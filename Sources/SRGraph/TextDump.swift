import Foundation

/// The stable text form of a graph (specified in SPEC.md, "Text dump"). Made to be diffed:
/// one line per item, constants sorted by name, nodes in execution order, floats printed
/// the same way everywhere, weights summarised by statistics and a content hash.
public enum TextDump {
    public static let header = "# srcc graph dump v1"

    /// `annotate` may add a trailing text per node (quantization parameters, in later stages).
    public static func render(_ graph: Graph, annotate: ((Node) -> String?)? = nil) -> String {
        var lines: [String] = [header]
        lines.append("graph \(quoted(graph.name))")
        for key in graph.metadata.keys.sorted() {
            lines.append("meta \(key)=\(quoted(graph.metadata[key]!))")
        }
        for i in graph.inputs { lines.append("input \(valueText(i))") }
        for o in graph.outputs { lines.append("output \(valueText(o))") }
        for name in graph.initializers.keys.sorted() {
            lines.append("const \(quoted(name)) " + tensorSummary(graph.initializers[name]!))
        }
        for node in graph.nodes {
            let ins = node.inputs.map { $0.isEmpty ? "_" : quoted($0) }.joined(separator: ", ")
            let outs = node.outputs.map { name -> String in
                if let info = graph.values[name] { return valueText(info) }
                return quoted(name)
            }.joined(separator: ", ")
            var line = "node \(quoted(node.name)) \(node.op.name)(\(ins)) -> (\(outs))"
            let attrs = node.op.attributeText
            if !attrs.isEmpty { line += " " + attrs }
            if let extra = annotate?(node), !extra.isEmpty { line += " | " + extra }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func valueText(_ v: ValueInfo) -> String {
        "\(quoted(v.name)) \(v.dtype.rawValue)\(v.shape.text)"
    }

    /// `f32[64,3,3,3] min=.. max=.. mean=.. hash=..` (statistics to 6 significant digits).
    public static func tensorSummary(_ t: Tensor) -> String {
        let values = t.doubles
        var text = "\(t.dtype.rawValue)\(Shape(known: t.shape).text)"
        if values.isEmpty { return text + " empty" }
        let lo = values.min()!, hi = values.max()!
        let mean = values.reduce(0, +) / Double(values.count)
        text += " min=\(number(lo)) max=\(number(hi)) mean=\(number(mean)) hash=\(contentHash(t))"
        return text
    }

    public static func number(_ v: Double) -> String {
        if v == 0 { return "0" }
        return String(format: "%.6g", v)
    }

    /// FNV-1a 64 over dtype, shape and the values' bit patterns; first 12 hex digits.
    public static func contentHash(_ t: Tensor) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ x: UInt64) {
            var v = x
            for _ in 0..<8 { h ^= v & 0xff; h = h &* 0x0000_0100_0000_01b3; v >>= 8 }
        }
        mix(t.dtype == .float32 ? 1 : 2)
        for d in t.shape { mix(UInt64(bitPattern: Int64(d))) }
        if t.dtype == .float32 { for f in t.floats { mix(UInt64(f.bitPattern)) } } else { for i in t.ints { mix(UInt64(bitPattern: i)) } }
        let s = String(h, radix: 16)
        return String((String(repeating: "0", count: 16 - s.count) + s).prefix(12))
    }

    /// Names are printed bare unless they contain characters that would make the line ambiguous.
    public static func quoted(_ s: String) -> String {
        let plain = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "_./:-".contains($0) }
        if plain { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
