/// Fixed-point requantization, specified in SPEC.md §5.2 and used by every integer kernel
/// (srvm's reference and SIMD kernels alike): a real multiplier m > 0 is carried as an int32
/// mantissa M0 in [2^30, 2^31) and a power-of-two exponent, and applied with gemmlowp's
/// rounding doubling high multiply followed by a rounding right shift.
public struct QuantMultiplier: Hashable, Sendable, CustomStringConvertible {
    /// Mantissa in [2^30, 2^31 - 1]; 0 encodes the multiplier 0.
    public let mantissa: Int32
    /// m ≈ mantissa * 2^(shift - 31). Positive: left shift before the multiply.
    public let shift: Int8

    public init(mantissa: Int32, shift: Int8) {
        self.mantissa = mantissa
        self.shift = shift
    }

    /// The nearest representable multiplier to `real` (>= 0). Exponents are limited to
    /// [-31, 30]: smaller multipliers become 0, larger ones are a compile error upstream.
    public init(_ real: Double) {
        precondition(real >= 0 && real.isFinite, "QuantMultiplier: \(real) is not a finite non-negative number")
        if real == 0 { self.init(mantissa: 0, shift: 0); return }
        let e = real.exponent + 1                 // real = f * 2^e with f in [0.5, 1)
        var q = (real * Double(sign: .plus, exponent: 31 - Int(e), significand: 1)).rounded()
        var exp = Int(e)
        if q == Double(1 << 31) { q /= 2; exp += 1 }
        if exp < -31 { self.init(mantissa: 0, shift: 0); return }
        precondition(exp <= 30, "QuantMultiplier: \(real) is too large")
        self.init(mantissa: Int32(q), shift: Int8(exp))
    }

    public static let one = QuantMultiplier(1.0)

    /// The real value this multiplier applies.
    public var real: Double { Double(mantissa) * Double(sign: .plus, exponent: Int(shift) - 31, significand: 1) }

    public var description: String { "\(mantissa)*2^\(Int(shift) - 31)" }
}

/// a * b / 2^31 rounded to nearest, saturating the single overflow case (a = b = INT32_MIN).
/// gemmlowp's SaturatingRoundingDoublingHighMul: ties round up for positive products and
/// toward zero for negative ones (the nudge is 2^30 or 1 - 2^30, then division truncates).
@inlinable
public func saturatingRoundingDoublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
    if a == .min && b == .min { return .max }
    let ab = Int64(a) * Int64(b)
    let nudge: Int64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30))
    return Int32(truncatingIfNeeded: (ab + nudge) / (1 << 31))   // Swift's / truncates toward zero, as C does
}

/// x / 2^exponent rounded to nearest, ties away from zero. gemmlowp's RoundingDivideByPOT.
@inlinable
public func roundingDivideByPowerOfTwo(_ x: Int32, _ exponent: Int) -> Int32 {
    if exponent == 0 { return x }
    let mask = Int32(truncatingIfNeeded: (Int64(1) << exponent) - 1)
    let remainder = x & mask
    let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
    return (x >> Int32(exponent)) + (remainder > threshold ? 1 : 0)
}

/// x * m in fixed point: saturating left shift when m's exponent is positive, the doubling
/// high multiply by the mantissa, then a rounding right shift for negative exponents.
/// The two roundings make the error at most 0.5 + 0.5 · 2^shift (≤ 0.75) of an output step.
@inlinable
public func requantize(_ x: Int32, _ m: QuantMultiplier) -> Int32 {
    let s = Int(m.shift)
    var v = x
    if s > 0 {
        let wide = Int64(x) << s
        v = Int32(clamping: wide)
    }
    let high = saturatingRoundingDoublingHighMul(v, m.mantissa)
    return s < 0 ? roundingDivideByPowerOfTwo(high, -s) : high
}

/// Integer division rounded to nearest, ties away from zero (ReduceMean's mean).
@inlinable
public func roundingDivide(_ a: Int64, _ b: Int64) -> Int64 {
    precondition(b > 0)
    return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b)
}

/// Fraction bits of reduce_mean's mean. The mean is kept at 2^-15 of an input step before its
/// requantization, so a mean whose output grid is finer than the input's (the variance in
/// IMDN's contrast attention: output steps 20-30x finer) is not first rounded to a whole input
/// step. Sources are at most 16 bits, so |mean| * 2^15 < 2^30 fits in int32.
public let meanFractionBits = 15

/// reduce_mean's mean of `count` values summing to `sum`, in units of 2^-meanFractionBits of
/// an input step, rounded to nearest (ties away from zero).
@inlinable
public func fixedPointMean(sum: Int64, count: Int) -> Int32 {
    Int32(clamping: roundingDivide(sum << Int64(meanFractionBits), Int64(count)))
}

/// round(sqrt(x)) for x >= 0, exactly (ties cannot occur for integers: sqrt(n) is never k + 1/2).
@inlinable
public func roundedSquareRoot(_ x: Int64) -> Int64 {
    precondition(x >= 0)
    if x < 2 { return x }
    var r = Int64(Double(x).squareRoot())
    while r * r > x { r -= 1 }
    while (r + 1) * (r + 1) <= x { r += 1 }
    // r = floor(sqrt x). Round up when x - r^2 > r, i.e. x > (r + 1/2)^2 - 1/4.
    return x - r * r > r ? r + 1 : r
}

/// Saturate to [lo, hi].
@inlinable
public func clamp(_ v: Int32, _ lo: Int32, _ hi: Int32) -> Int32 { min(max(v, lo), hi) }
