#if arch(x86_64)
import _Builtin_intrinsics.intel
import SRVMKernelsCommon

// The element-wise loops are generic over how they load and store 16 lanes, so the storage
// types the shared models' programs use (i16 sources; i16, i8 and u8 results) get loops of their
// own, with the type chosen once per call; any other type goes through AnyLanes16, which picks
// it per vector (the switch and its jump table are what made these loops slower than their
// vector work).

/// Loads 16 elements widened to int32 lanes, and stores 16 lanes already clamped into the type
/// (the narrowing moves truncate, exactly).
protocol LaneIO16 {
    var bytes: Int { get }
    var type: StorageType { get }
    func load(_ p: UnsafeRawPointer) -> __m512i
    func store(_ v: __m512i, _ o: UnsafeMutableRawPointer)
}

extension LaneIO16 {
    /// The first lanes of `mask` only (a pixel's last channels; no byte past them is touched).
    @inline(__always) func load(_ p: UnsafeRawPointer, mask: __mmask16) -> __m512i { load16Lanes(p, type, mask: mask) }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer, mask: __mmask16) { store16Lanes(v, o, type, mask: mask) }
}

/// A storage type fixed at compile time: the loops specialized for it fold load16Lanes' and
/// store16Lanes' switches away.
protocol FixedStorage { static var type: StorageType { get } }
enum I16Storage: FixedStorage { static var type: StorageType { .i16 } }
enum I8Storage: FixedStorage { static var type: StorageType { .i8 } }
enum U8Storage: FixedStorage { static var type: StorageType { .u8 } }

struct FixedLanes16<S: FixedStorage>: LaneIO16 {
    var bytes: Int { S.type.byteWidth }
    var type: StorageType { S.type }
    @inline(__always) func load(_ p: UnsafeRawPointer) -> __m512i { load16Lanes(p, S.type) }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer) { store16Lanes(v, o, S.type) }
}

typealias I16Lanes = FixedLanes16<I16Storage>
typealias I8Lanes = FixedLanes16<I8Storage>
typealias U8Lanes = FixedLanes16<U8Storage>

/// Any storage type, chosen per vector.
struct AnyLanes16: LaneIO16 {
    let type: StorageType
    var bytes: Int { type.byteWidth }
    @inline(__always) func load(_ p: UnsafeRawPointer) -> __m512i { load16Lanes(p, type) }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer) { store16Lanes(v, o, type) }
}
#endif
