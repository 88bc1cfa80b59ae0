import FixedPoint

/// add's operand scaling requantize(x << L, M) is the plain shift x << (L − 1 − k) when M is
/// exactly 2^(−1−k) (mantissa 2^30, exponent −k ≤ 0) and L − 1 − k ≥ 0: x << L is even, so
/// the rounding doubling high multiply by 2^30 halves it exactly, and the rounding right shift
/// by k drops only zero bits. EDSR's residual adds scale their larger operand so. The operand
/// must fit `x << L` in int32 (`operandBytes` ≤ 2, L ≤ 16), as the reference's shift does.
/// nil where the shortcut is not exact.
public func exactAddShift(_ m: QuantMultiplier, leftShift L: Int, operandBytes: Int) -> Int? {
    guard m.mantissa == 1 << 30, m.shift <= 0, operandBytes <= 2, L <= 16 else { return nil }
    let s = L - 1 + Int(m.shift)
    return s >= 0 ? s : nil
}
