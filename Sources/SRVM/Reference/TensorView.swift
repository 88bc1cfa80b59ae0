import QSRFormat

/// One activation tensor [C, H, W] viewed in its slot's raw bytes with its element type.
/// Kernels read every element widened to Int32 and store clamped Int32 results, so one
/// scalar kernel serves all element types.
struct TensorView {
    let base: UnsafeMutableRawPointer
    let type: ElementType
    let c: Int, h: Int, w: Int
    var plane: Int { h * w }
    var count: Int { c * h * w }

    @inline(__always) func load(_ i: Int) -> Int32 {
        switch type {
        case .u8: return Int32(base.load(fromByteOffset: i, as: UInt8.self))
        case .i8: return Int32(base.load(fromByteOffset: i, as: Int8.self))
        case .i16: return Int32(base.load(fromByteOffset: 2 * i, as: Int16.self))
        case .i32: return base.load(fromByteOffset: 4 * i, as: Int32.self)
        }
    }

    /// `v` is within the type's range (the validator checks every clamp against it).
    @inline(__always) func store(_ i: Int, _ v: Int32) {
        switch type {
        case .u8: base.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
        case .i8: base.storeBytes(of: Int8(truncatingIfNeeded: v), toByteOffset: i, as: Int8.self)
        case .i16: base.storeBytes(of: Int16(truncatingIfNeeded: v), toByteOffset: 2 * i, as: Int16.self)
        case .i32: base.storeBytes(of: v, toByteOffset: 4 * i, as: Int32.self)
        }
    }

    func toArray() -> [Int32] { (0..<count).map(load) }
}
