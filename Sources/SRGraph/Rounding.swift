/// `x.rounded()` (half away from zero, the quantizer's rounding, SPEC.md §5.1) without the libm
/// call: Swift lowers `.rounded()` to `roundf`, an opaque call per element that kept the
/// fake-quantize loops scalar (13% of a compile). Same value, sign and NaN for every Float:
/// below 2^23 the integer part comes from a truncating conversion (exact) and the fraction
/// `|x| - trunc|x|` is exact too, so comparing it with 0.5 decides the rounding exactly;
/// from 2^23 up every Float is already an integer (and NaN and infinities pass through).
extension Float {
    @inlinable @inline(__always)
    public var roundedHalfAwayFromZero: Float {
        let a = Swift.abs(self)
        guard a < 8_388_608 else { return self }
        let t = Float(Int32(a))
        let r = a - t >= 0.5 ? t + 1 : t
        return Float(signOf: self, magnitudeOf: r)
    }
}
