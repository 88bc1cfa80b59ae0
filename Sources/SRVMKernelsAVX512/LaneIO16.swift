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

struct I16Lanes: LaneIO16 {
    var bytes: Int { 2 }
    var type: StorageType { .i16 }
    @inline(__always) func load(_ p: UnsafeRawPointer) -> __m512i {
        _mm512_cvtepi16_epi32(_mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self)))
    }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer) {
        _mm256_storeu_si256(o.assumingMemoryBound(to: __m256i.self), _mm512_cvtepi32_epi16(v))
    }
}

struct I8Lanes: LaneIO16 {
    var bytes: Int { 1 }
    var type: StorageType { .i8 }
    @inline(__always) func load(_ p: UnsafeRawPointer) -> __m512i {
        _mm512_cvtepi8_epi32(_mm_loadu_si128(p.assumingMemoryBound(to: __m128i.self)))
    }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer) {
        _mm_storeu_si128(o.assumingMemoryBound(to: __m128i.self), _mm512_cvtepi32_epi8(v))
    }
}

struct U8Lanes: LaneIO16 {
    var bytes: Int { 1 }
    var type: StorageType { .u8 }
    @inline(__always) func load(_ p: UnsafeRawPointer) -> __m512i {
        _mm512_cvtepu8_epi32(_mm_loadu_si128(p.assumingMemoryBound(to: __m128i.self)))
    }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer) {
        _mm_storeu_si128(o.assumingMemoryBound(to: __m128i.self), _mm512_cvtepi32_epi8(v))
    }
}

/// Any storage type, chosen per vector.
struct AnyLanes16: LaneIO16 {
    let type: StorageType
    var bytes: Int { type.byteWidth }
    @inline(__always) func load(_ p: UnsafeRawPointer) -> __m512i { load16Lanes(p, type) }
    @inline(__always) func store(_ v: __m512i, _ o: UnsafeMutableRawPointer) { store16Lanes(v, o, type) }
}
#endif
