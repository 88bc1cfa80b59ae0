import FixedPoint

/// Per-channel requantization of one instruction, split into the lanes SIMD code loads: the
/// mantissa, the left shift max(e, 0) and the right shift max(−e, 0) of each channel's
/// multiplier (SPEC.md §5.2), for accumulators ≥ 0 and < 0. Padded to whole blocks of 8.
public struct RequantTables {
    public var mantissa: UnsafePointer<Int32>
    public var leftShift: UnsafePointer<Int32>
    public var rightShift: UnsafePointer<Int32>
    /// The negative side's tables (the positive ones when the instruction has none).
    public var negMantissa: UnsafePointer<Int32>
    public var negLeftShift: UnsafePointer<Int32>
    public var negRightShift: UnsafePointer<Int32>
    /// Added to the accumulator first (conv's bias), or nil.
    public var bias: UnsafePointer<Int32>?
    public var hasNegative: Bool
    public var hasLeftShift: Bool
    public var offset: Int32
    public var clampMin: Int32
    public var clampMax: Int32
    /// Every value this requantization sees (bias added) is proven to satisfy |x| < 2^30, so
    /// the SIMD kernels may use the bounded form (`requantizeBoundedInput`), which needs fewer
    /// operations; false when nothing bounds them (a 16-bit conv whose sums may wrap).
    public var boundedInputs: Bool

    public init(mantissa: UnsafePointer<Int32>, leftShift: UnsafePointer<Int32>, rightShift: UnsafePointer<Int32>,
                negMantissa: UnsafePointer<Int32>, negLeftShift: UnsafePointer<Int32>, negRightShift: UnsafePointer<Int32>,
                bias: UnsafePointer<Int32>?, hasNegative: Bool, hasLeftShift: Bool, offset: Int32, clampMin: Int32, clampMax: Int32,
                boundedInputs: Bool = false) {
        self.mantissa = mantissa; self.leftShift = leftShift; self.rightShift = rightShift
        self.negMantissa = negMantissa; self.negLeftShift = negLeftShift; self.negRightShift = negRightShift
        self.bias = bias; self.hasNegative = hasNegative; self.hasLeftShift = hasLeftShift
        self.offset = offset; self.clampMin = clampMin; self.clampMax = clampMax
        self.boundedInputs = boundedInputs
    }

    /// The multiplier of channel `c` for a value `x` (bias already added).
    @inline(__always) public func multiplier(_ c: Int, _ x: Int32) -> QuantMultiplier {
        let neg = x < 0 && hasNegative
        let m = neg ? negMantissa[c] : mantissa[c]
        let l = neg ? negLeftShift[c] : leftShift[c], r = neg ? negRightShift[c] : rightShift[c]
        return QuantMultiplier(mantissa: m, shift: Int8(l - r))
    }
}

extension RequantTables {
    /// Whether a store that saturates to `store` (nil: none) already applies the clamp's upper
    /// bound, so an epilogue may skip its min: the bound is the type's maximum and the lower
    /// bound, which the epilogue still applies, keeps the values inside the type. (The epilogues
    /// apply the lower bound first, so an unsigned narrow never sees a negative value.)
    @inline(__always) public func clampIsLeftTo(_ store: StorageType?) -> Bool {
        guard let store else { return false }
        let r = store.valueRange
        return clampMax == r.upperBound && clampMin >= r.lowerBound
    }
}

/// Element types of activation storage, numbered as the .qsr's (1 u8, 2 i8, 3 i16, 4 i32).
public enum StorageType: UInt8, Sendable {
    case u8 = 1, i8 = 2, i16 = 3, i32 = 4
    public var byteWidth: Int { switch self { case .u8, .i8: return 1; case .i16: return 2; case .i32: return 4 } }
    /// The largest |value| an element holds (255 for u8, 2^31 for i32).
    public var maxMagnitude: Int64 { max(-Int64(valueRange.lowerBound), Int64(valueRange.upperBound)) }
    /// The values an element holds.
    public var valueRange: ClosedRange<Int32> {
        switch self { case .u8: return 0...255; case .i8: return -128...127; case .i16: return -32768...32767; case .i32: return .min ... .max }
    }
}

@inline(__always) public func storeElement(_ v: Int32, _ p: UnsafeMutableRawPointer, _ i: Int, _ t: StorageType) {
    switch t {
    case .u8: p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
    case .i8: p.storeBytes(of: Int8(truncatingIfNeeded: v), toByteOffset: i, as: Int8.self)
    case .i16: p.storeBytes(of: Int16(truncatingIfNeeded: v), toByteOffset: 2 * i, as: Int16.self)
    case .i32: p.storeBytes(of: v, toByteOffset: 4 * i, as: Int32.self)
    }
}

@inline(__always) public func loadElement(_ p: UnsafeRawPointer, _ i: Int, _ t: StorageType) -> Int32 {
    switch t {
    case .u8: return Int32(p.load(fromByteOffset: i, as: UInt8.self))
    case .i8: return Int32(p.load(fromByteOffset: i, as: Int8.self))
    case .i16: return Int32(p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
    case .i32: return p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)
    }
}

/// Portable epilogue: out[i] = clamp(requantize(acc[i] + bias[c+i], M(c+i, sign)) + offset, lo, hi)
/// for i in 0..<count.
public func requantizeStorePortable(_ acc: UnsafePointer<Int32>, _ t: RequantTables, channel c: Int, count: Int,
                                    out: UnsafeMutableRawPointer, type: StorageType) {
    for i in 0..<count {
        let x = acc[i] &+ (t.bias?[c + i] ?? 0)
        storeElement(clamp(requantize(x, t.multiplier(c + i, x)) &+ t.offset, t.clampMin, t.clampMax), out, i, type)
    }
}

