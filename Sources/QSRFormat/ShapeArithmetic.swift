/// Dimension arithmetic shared by the static validator (on symbolic dims) and the VM (on
/// evaluated sizes), so the shape rule of every instruction is written once
/// (`checkInstructionShapes`). A failed operation (overflow, leaving the dim family) is nil.
public protocol ShapeDim: Equatable, CustomStringConvertible {
    static func known(_ v: Int) -> Self
    func plus(_ c: Int) -> Self?
    func floorDivided(by r: Int) -> Self?
    func times(_ r: Int) -> Self?
}

extension Int: ShapeDim {
    public static func known(_ v: Int) -> Int { v }
    public func plus(_ c: Int) -> Int? { let (r, o) = addingReportingOverflow(c); return o ? nil : r }
    public func floorDivided(by r: Int) -> Int? { r > 0 ? (self >= 0 ? self / r : -((-self + r - 1) / r)) : nil }
    public func times(_ r: Int) -> Int? { let (v, o) = multipliedReportingOverflow(by: r); return o ? nil : v }
}

/// `floor((k·S + c) / d)` in canonical form (gcd(k, d) = 1), or a constant; equal functions of
/// S have equal canonical forms, so `==` compares dims by meaning, not by spelling.
public struct SymbolicDim: ShapeDim {
    public let symbol: UInt8?
    public let k: Int, c: Int, d: Int
    static let limit = 1 << 40

    init?(symbol: UInt8?, k: Int, c: Int, d: Int) {
        guard abs(k) < Self.limit, abs(c) < Self.limit, d >= 1, d < Self.limit else { return nil }
        if symbol == nil || k == 0 {
            self.symbol = nil; self.k = 0; self.d = 1
            self.c = symbol == nil ? c : c.floorDivided(by: d)!
            return
        }
        var a = abs(k), b = d
        while b != 0 { (a, b) = (b, a % b) }
        self.symbol = symbol; self.k = k / a; self.d = d / a; self.c = c.floorDivided(by: a)!
    }

    /// nil when the expression is malformed (divisor < 1).
    public init?(_ e: DimExpr) {
        guard e.divisor >= 1 else { return nil }
        if e.symbol == nil { self.init(symbol: nil, k: 0, c: Int(e.offset), d: 1) } else {
            self.init(symbol: e.symbol, k: Int(e.coefficient), c: Int(e.offset), d: Int(e.divisor))
        }
    }

    public static func known(_ v: Int) -> SymbolicDim { SymbolicDim(symbol: nil, k: 0, c: v, d: 1)! }
    public static func symbol(_ s: UInt8, times k: Int = 1) -> SymbolicDim { SymbolicDim(symbol: s, k: k, c: 0, d: 1)! }

    public func plus(_ v: Int) -> SymbolicDim? {
        guard abs(v) < Self.limit else { return nil }
        return SymbolicDim(symbol: symbol, k: k, c: c + v * d, d: d)
    }
    public func floorDivided(by r: Int) -> SymbolicDim? {
        guard r >= 1, r < Self.limit else { return nil }
        if symbol == nil { return SymbolicDim(symbol: nil, k: 0, c: c.floorDivided(by: r)!, d: 1) }
        return SymbolicDim(symbol: symbol, k: k, c: c, d: d * r)
    }
    public func times(_ r: Int) -> SymbolicDim? {
        guard abs(r) < Self.limit else { return nil }
        if symbol == nil { return SymbolicDim(symbol: nil, k: 0, c: c * r, d: 1) }
        guard d == 1 else { return nil }
        return SymbolicDim(symbol: symbol, k: k * r, c: c * r, d: 1)
    }
    public var description: String { DimExpr(symbol: symbol, coefficient: Int32(clamping: k), offset: Int32(clamping: c), divisor: Int32(clamping: d)).text }
}

extension DimExpr {
    /// The SPEC §1.1 text: `64`, `H`, `2*H`, `H+2`, `(H-1)/2`.
    public var text: String {
        guard let s = symbol else { return String(offset) }
        let name = s == 0 ? "H" : (s == 1 ? "W" : "S\(s)")
        var t = coefficient == 1 ? name : (coefficient == -1 ? "-" + name : "\(coefficient)*\(name)")
        if offset > 0 { t += "+\(offset)" } else if offset < 0 { t += "\(offset)" }
        if divisor != 1 { t = (offset == 0 && coefficient == 1 ? t : "(\(t))") + "/\(divisor)" }
        return t
    }
}

/// The shape rule of each instruction (SPEC.md §5.3): throws a `QSRError` naming the instruction
/// when the shapes of its values disagree. `shape(v)` gives a value's (channels, height, width).
/// Channel counts and parameters are assumed already range-checked by the caller.
/// `input` is the image's (H, W): the symbols themselves, or their values at run time.
public func checkInstructionShapes<D: ShapeDim>(_ ins: Instruction, index: Int, program p: Program, input: (h: D, w: D),
                                                shape: (ValueID) -> (c: Int, h: D, w: D)) throws {
    let at = "instruction \(index) (\(ins.mnemonic))"
    func name(_ v: ValueID) -> String { p.values[Int(v)].name }
    func fail(_ m: String) -> QSRError { QSRError("\(at): \(m)") }
    func same(_ what: String, _ x: ValueID, _ y: ValueID, channels: Bool = true) throws {
        let a = shape(x), b = shape(y)
        if channels, a.c != b.c { throw fail("\(what): \(name(x)) has \(a.c) channels, \(name(y)) has \(b.c)") }
        guard a.h == b.h, a.w == b.w else {
            throw fail("\(what): \(name(x)) is \(a.h)x\(a.w), \(name(y)) is \(b.h)x\(b.w)")
        }
    }
    func broadcast(_ a: ValueID, _ b: ValueID) throws {
        let sa = shape(a), sb = shape(b)
        guard sa.c == sb.c else { throw fail("b (\(name(b))) has \(sb.c) channels, a (\(name(a))) has \(sa.c)") }
        if sb.h == D.known(1) && sb.w == D.known(1) { return }
        guard sa.h == sb.h, sa.w == sb.w else {
            throw fail("b (\(name(b))) is [\(sb.c),\(sb.h),\(sb.w)]: neither a's shape [\(sa.c),\(sa.h),\(sa.w)] nor [\(sa.c),1,1]")
        }
    }
    switch ins {
    case let .inputPixels(dst):
        let s = shape(dst)
        guard s.c == 3, s.h == input.h, s.w == input.w else {
            throw fail("dst \(name(dst)) is [\(s.c),\(s.h),\(s.w)], must be [3,H,W]")
        }
    case let .outputPixels(src):
        let s = shape(src), k = p.metadata.scale
        guard s.c == 3, s.h == input.h.times(k), s.w == input.w.times(k) else {
            throw fail("src \(name(src)) is [\(s.c),\(s.h),\(s.w)], must be [3,\(k)*H,\(k)*W] for scale \(k)")
        }
    case let .conv(dst, src, q, _, _, _, _, _):
        let s = shape(src), d = shape(dst)
        guard s.c == Int(q.inputChannels) else { throw fail("src \(name(src)) has \(s.c) channels, the conv takes \(q.inputChannels)") }
        guard d.c == Int(q.outputChannels) else { throw fail("dst \(name(dst)) has \(d.c) channels, the conv makes \(q.outputChannels)") }
        func out(_ x: D, _ p0: Int32, _ p1: Int32, _ dil: Int32, _ k: Int32, _ st: Int32) -> D? {
            x.plus(Int(p0) + Int(p1) - Int(dil) * (Int(k) - 1) - 1)?.floorDivided(by: Int(st))?.plus(1)
        }
        let ho = out(s.h, q.padTop, q.padBottom, q.dilationY, q.kernelHeight, q.strideY)
        let wo = out(s.w, q.padLeft, q.padRight, q.dilationX, q.kernelWidth, q.strideX)
        guard let ho, let wo, ho == d.h, wo == d.w else {
            throw fail("dst \(name(dst)) is \(d.h)x\(d.w), the conv of a \(s.h)x\(s.w) input makes \(ho.map { "\($0)" } ?? "?")x\(wo.map { "\($0)" } ?? "?")")
        }
    case let .requantize(dst, src, _), let .sqrt(dst, src, _, _, _), let .lookup(dst, src, _):
        try same("dst and src", dst, src)
    case let .add(dst, a, b, _, _, _, _, _, _, _), let .mul(dst, a, b, _, _, _):
        try same("dst and a", dst, a)
        try broadcast(a, b)
    case let .concat(dst, sources, _, _, _):
        var total = 0
        for s in sources { try same("dst and source", dst, s, channels: false); total += shape(s).c }
        guard total == shape(dst).c else { throw fail("sources have \(total) channels in all, dst \(name(dst)) has \(shape(dst).c)") }
    case let .sliceChannels(dst, src, start):
        try same("dst and src", dst, src, channels: false)
        let cs = shape(src).c, cd = shape(dst).c
        guard start >= 0, Int(start) + cd <= cs else {
            throw fail("channels [\(start), \(Int(start) + cd)) are not within the \(cs) channels of \(name(src))")
        }
    case let .depthToSpace(dst, src, b, _):
        let s = shape(src), d = shape(dst), bb = Int(b)
        guard s.c == d.c * bb * bb else { throw fail("src \(name(src)) has \(s.c) channels, not dst's \(d.c) times \(b)x\(b)") }
        guard s.h.times(bb) == d.h, s.w.times(bb) == d.w else {
            throw fail("dst \(name(dst)) is \(d.h)x\(d.w), expected \(b) times src's \(s.h)x\(s.w)")
        }
    case let .reduceMean(dst, src, _, _, _):
        let s = shape(src), d = shape(dst)
        guard d.c == s.c, d.h == D.known(1), d.w == D.known(1) else {
            throw fail("dst \(name(dst)) is [\(d.c),\(d.h),\(d.w)], must be [\(s.c),1,1]")
        }
    }
}

