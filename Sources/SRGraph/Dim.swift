/// One dimension of a tensor shape: a known integer, or an expression in one symbol
/// (the network input's height `H` or width `W`, fixed only when an image arrives).
///
/// The value is `floor((coefficient * symbol + offset) / divisor)`. That family is closed
/// under everything SR graphs do to spatial sizes: padding (+c), pixel shuffle (x r),
/// strided convs and pooling (floor division). A product of a divided dim and an integer
/// is not representable exactly; such results are `nil` and shape inference reports the node.
public struct Dim: Hashable, Sendable, CustomStringConvertible {
    public let symbol: String?
    public let coefficient: Int
    public let offset: Int
    public let divisor: Int

    public init(symbol: String?, coefficient: Int = 1, offset: Int = 0, divisor: Int = 1) {
        precondition(divisor >= 1)
        if symbol == nil || coefficient == 0 {
            // Fold to a constant. floor division as Python's //.
            self.symbol = nil
            self.coefficient = 0
            self.offset = Dim.floorDiv(offset, divisor)
            self.divisor = 1
        } else {
            self.symbol = symbol
            self.coefficient = coefficient
            self.offset = offset
            self.divisor = divisor
        }
    }

    public static func known(_ value: Int) -> Dim { Dim(symbol: nil, offset: value) }
    public static func symbolic(_ name: String) -> Dim { Dim(symbol: name) }

    /// The integer value when the dim does not depend on a symbol.
    public var value: Int? { symbol == nil ? offset : nil }

    public func evaluate(_ bindings: [String: Int]) -> Int? {
        guard let s = symbol else { return offset }
        guard let v = bindings[s] else { return nil }
        return Dim.floorDiv(coefficient * v + offset, divisor)
    }

    public static func + (a: Dim, c: Int) -> Dim {
        Dim(symbol: a.symbol, coefficient: a.coefficient, offset: a.offset + c * a.divisor, divisor: a.divisor)
    }

    public static func - (a: Dim, c: Int) -> Dim { a + (-c) }

    /// a * r, exact only when nothing was divided (or r == 1).
    public func multiplied(by r: Int) -> Dim? {
        if r == 1 { return self }
        if symbol == nil { return .known(offset * r) }
        guard divisor == 1 else { return nil }
        return Dim(symbol: symbol, coefficient: coefficient * r, offset: offset * r)
    }

    /// floor(a / r).
    public func floorDivided(by r: Int) -> Dim {
        precondition(r >= 1)
        return Dim(symbol: symbol, coefficient: coefficient, offset: offset, divisor: divisor * r)
    }

    /// Exact division, when it provably has no remainder for every symbol value (e.g. 4*H / 2).
    public func exactlyDivided(by r: Int) -> Dim? {
        if let v = value { return v % r == 0 ? .known(v / r) : nil }
        guard divisor == 1, coefficient % r == 0, offset % r == 0 else { return nil }
        return Dim(symbol: symbol, coefficient: coefficient / r, offset: offset / r)
    }

    /// Sum of two dims (concat along a spatial axis): same symbol and no division only.
    public static func + (a: Dim, b: Dim) -> Dim? {
        if let v = b.value { return a + v }
        if let v = a.value { return b + v }
        guard a.symbol == b.symbol, a.divisor == 1, b.divisor == 1 else { return nil }
        return Dim(symbol: a.symbol, coefficient: a.coefficient + b.coefficient, offset: a.offset + b.offset)
    }

    /// Stable text: `64`, `H`, `2*H`, `H+2`, `(H-1)/2`.
    public var description: String {
        guard let s = symbol else { return String(offset) }
        var t = coefficient == 1 ? s : (coefficient == -1 ? "-" + s : "\(coefficient)*\(s)")
        if offset > 0 { t += "+\(offset)" } else if offset < 0 { t += "\(offset)" }
        if divisor != 1 { t = (offset == 0 && coefficient == 1 ? t : "(\(t))") + "/\(divisor)" }
        return t
    }

    @inlinable
    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}

/// A tensor shape in the IR: dims may be symbolic.
public typealias Shape = [Dim]

extension Array where Element == Dim {
    public init(known values: [Int]) { self = values.map { Dim.known($0) } }
    /// All dims known: the integer shape.
    public var knownValues: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(count)
        for d in self { guard let v = d.value else { return nil }; out.append(v) }
        return out
    }
    public func evaluate(_ bindings: [String: Int]) -> [Int]? {
        var out: [Int] = []
        for d in self { guard let v = d.evaluate(bindings) else { return nil }; out.append(v) }
        return out
    }
    public var text: String { "[" + map(\.description).joined(separator: ",") + "]" }
}
