import FixedPoint

/// Values below this magnitude may take the bounded form of requantization (see
/// `requantizeBoundedInput`): |x| < 2^30.
public let boundedRequantLimit: Int64 = 1 << 30

/// requantize(x, m) (SPEC.md §5.2) for |x| < 2^30 and m without a left shift, computed the way
/// the bounded SIMD kernels compute it: one 64-bit sum and one shift instead of a high multiply,
/// a remainder test and a shift. With r = −exponent and h = 2^(r−1) (0 when r = 0):
///   requantize(x, m) = (floor((2·x·M + 2^31 + h·2^32) / 2^32) − n) >> r,   n = 1 if x < 0 and r > 0.
/// Why: the doubling high multiply is floor((x·M + 2^30) / 2^31) = y for either sign (SPEC's
/// nudge of 1 − 2^30 with truncation toward zero equals this floor for negative products);
/// rounding y to 2^r with ties away from zero is (y + h) >> r for y ≥ 0 and (y + h − 1) >> r
/// for y < 0; y < 0 only when x < 0, and for x < 0 with y = 0 both give 0, so x's sign may
/// stand in for y's. The bound keeps 2·x in int32 and y + h ≤ 2^30 − 1 + 2^30 in int32.
@inlinable
public func requantizeBoundedInput(_ x: Int32, _ m: QuantMultiplier) -> Int32 {
    precondition(Int64(x.magnitude) < boundedRequantLimit && m.shift <= 0, "requantizeBoundedInput: |x| < 2^30, no left shift")
    let r = -Int64(m.shift), h: Int64 = r > 0 ? 1 << (r - 1) : 0
    let sum = Int64(x &+ x) * Int64(m.mantissa) + (1 << 31) + (h << 32)
    let yh = Int32(truncatingIfNeeded: sum >> 32)               // y + h
    let n: Int32 = x < 0 && r > 0 ? 1 : 0
    return (yh - n) >> Int32(r)
}

/// The largest |requantize(x << L, m)| over the values x of `type` with |x| ≤ `magnitude` (the
/// operand's proven range; nil: the type's): an add operand's scaled value, whose sum with the
/// other operand's the output requantization sees. |x|·2^L·m plus 1
/// for the two roundings, or x << s where the kernels shift instead (exactAddShift).
public func addOperandBound(_ type: StorageType, magnitude: Int64? = nil, leftShift L: Int, _ m: QuantMultiplier) -> Int64 {
    let x = magnitude ?? type.maxMagnitude
    if let s = exactAddShift(m, leftShift: L, operandBytes: type.byteWidth) { return x << Int64(s) }
    return Int64((Double(x << Int64(L)) * m.real).rounded(.up)) + 1
}
