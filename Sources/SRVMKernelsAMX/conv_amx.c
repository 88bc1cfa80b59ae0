// AMX conv tiles: see include/srvm_amx.h and SPEC.md §5.6. Every function that touches tiles or
// zmm registers carries its own target attribute, so the rest of this file (the CPU check) is
// plain x86-64 and safe to call on any CPU.
#include "srvm_amx.h"
#include <immintrin.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <unistd.h>
#include <sys/syscall.h>

#define AMX_TARGET __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl")))
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_state = -1;

int srvm_amx_available(void) {
    int s = __atomic_load_n(&amx_state, __ATOMIC_ACQUIRE);
    if (s >= 0) return s;
    unsigned a, b, c, d;
    int ok = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1) && (d >> 25 & 1)) {
        // The OS must enable the tile config and data state in XCR0 (bits 17, 18), and Linux
        // gives a process the (8 KiB) tile data state only when it asks.
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo >> 17 & 3) == 3 && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0) ok = 1;
    }
    __atomic_store_n(&amx_state, ok, __ATOMIC_RELEASE);
    return ok;
}

/// The 64-byte tile configuration (palette 1).
typedef struct {
    uint8_t palette, startRow, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_config;

AMX_TARGET void srvm_amx_configure(int kBytes) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 4; t++) { c.rows[t] = 16; c.colsb[t] = 64; }
    for (int t = 4; t < 6; t++) { c.rows[t] = 16; c.colsb[t] = (uint16_t)kBytes; }
    for (int t = 6; t < 8; t++) { c.rows[t] = (uint8_t)(kBytes / 4); c.colsb[t] = 64; }
    _tile_loadconfig(&c);
}

/// Where the tile rows of the 16 pixels from call pixel p0, tap t, read their kBytes: straight
/// from the source with the run's stride when all 16 are inside the image, else gathered into
/// `scratch` (64-byte rows; masked loads, so no byte past a pixel's K is touched), the pad pixel
/// for those outside the image and zeros for rows past the call's last pixel (their sums are
/// never stored). SPLIT16 gathers its high plane at scratch + 1024. Only the interleaved split
/// format reads the pad pixel's high bytes (hiOffset = S, the pad's layout): a merged conv's taps
/// cover every output pixel of the row (its staged rows hold the pad columns), and its hiOffset
/// is a staged plane, far past the pad pixel.
AMX_TARGET static inline const uint8_t *source_rows(const srvm_amx_conv_args *a, long p0, long t, long off,
                                                    uint8_t *scratch, long *stride) {
    long n = a->pixels - p0;
    if (n > 16) n = 16;
    const srvm_amx_tap *tap = &a->taps[t];
    const long x = a->x0 + p0;
    if (n == 16 && x >= tap->xLo && x + 16 <= tap->xHi) {
        *stride = a->pixelStride;
        return (const uint8_t *)(tap->base + x * a->pixelStride) + off;
    }
    __mmask64 m = a->kBytes >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << a->kBytes) - 1);
    for (long r = 0; r < 16; r++) {
        if (r >= n) {
            _mm512_store_si512((void *)(scratch + r * 64), _mm512_setzero_si512());
            if (a->format == SRVM_AMX_SPLIT16) _mm512_store_si512((void *)(scratch + 1024 + r * 64), _mm512_setzero_si512());
            continue;
        }
        const int inside = x + r >= tap->xLo && x + r < tap->xHi;
        const uint8_t *p = (inside ? (const uint8_t *)(tap->base + (x + r) * a->pixelStride) : a->pad) + off;
        _mm512_store_si512((void *)(scratch + r * 64), _mm512_maskz_loadu_epi8(m, p));
        if (a->format == SRVM_AMX_SPLIT16)
            _mm512_store_si512((void *)(scratch + 1024 + r * 64), _mm512_maskz_loadu_epi8(m, p + a->hiOffset));
    }
    *stride = 64;
    return scratch;
}

/// One group of up to 32 pixels (byte sources) or 16 (split s16) from call pixel p0 into acc.
/// Byte sources: the second 16 in source tile 5, u8 x s8 (tdpbusd) or s8 x s8 (tdpbssd) into
/// tiles 0-3 = (pixel group, half). Split s16 sources: x·w = lo·w + 256·(hi·w) with lo = x & 255
/// (u8, tile 4, tdpbusd into tiles 0, 1) and hi = x >> 8 (s8, tile 5, tdpbssd into tiles 2, 3);
/// the int32 sums wrap like the reference's, so joining them is exact. Weights: tile 6 for the
/// first half of the outputs, 7 for the second.
///
/// Why the full (2 x 2) case interleaves loads and products: tiles are not renamed, so a load
/// into a tile waits until every product reading it has read it. Loading all four operands
/// before the four products leaves the multiplier idle for a load's latency every K step.
/// Instead each load comes right before the product that first needs it, and consecutive steps
/// alternate the product order so the next step's first product reads the two tiles whose last
/// use came earliest (even steps: 00 01 11 10, odd steps: 01 00 10 11, tiles named C(pixel
/// group)(half)).
#define DP_LO(c, b) do { if (fmt == SRVM_AMX_S8) _tile_dpbssd(c, 4, b); else _tile_dpbusd(c, 4, b); } while (0)
#define DP_HI(c, b) do { if (fmt == SRVM_AMX_U8) _tile_dpbusd(c, 5, b); else _tile_dpbssd(c, 5, b); } while (0)

/// A split s16 source's high-byte rows: beside the gathered low rows, or hiOffset past the source's.
static inline const uint8_t *split_high_rows(const srvm_amx_conv_args *a, const uint8_t *low) {
    return low == a->scratch ? low + 1024 : low + a->hiOffset;
}

AMX_TARGET static inline __attribute__((always_inline)) void
conv_tiles_full(const srvm_amx_conv_args *a, long p0, const int fmt) {
    const int split = fmt == SRVM_AMX_SPLIT16;
    const long bBytes = a->kBytes / 4 * 64;
    const int8_t *w = a->weights;
    int odd = 0;
    for (long t = 0; t < a->tapCount; t++) {
        for (long s = 0; s < a->kSteps; s++, odd ^= 1) {
            const long off = s * a->kBytes;
            long stride0, stride1;
            const uint8_t *x0 = source_rows(a, p0, t, off, a->scratch, &stride0), *x1;
            if (split) { x1 = split_high_rows(a, x0); stride1 = stride0; }
            else x1 = source_rows(a, p0 + 16, t, off, a->scratch + 1024, &stride1);
            const int8_t *w1 = w + bBytes;
            if (!odd) {
                _tile_loadd(4, x0, stride0); _tile_loadd(6, w, 64); DP_LO(0, 6);
                _tile_loadd(7, w1, 64); DP_LO(1, 7);
                _tile_loadd(5, x1, stride1); DP_HI(3, 7); DP_HI(2, 6);
            } else {
                _tile_loadd(4, x0, stride0); _tile_loadd(7, w1, 64); DP_LO(1, 7);
                _tile_loadd(6, w, 64); DP_LO(0, 6);
                _tile_loadd(5, x1, stride1); DP_HI(2, 6); DP_HI(3, 7);
            }
            w += 2 * bBytes;
        }
    }
}

AMX_TARGET static void conv_tiles(const srvm_amx_conv_args *a, long p0, int32_t *acc) {
    const int fmt = a->format, split = fmt == SRVM_AMX_SPLIT16, two = !split && a->pixels - p0 > 16, both = a->halves == 2;
    const long bBytes = a->kBytes / 4 * 64;
    const int8_t *w = a->weights;
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    if (both && (two || split)) {
        if (fmt == SRVM_AMX_U8) conv_tiles_full(a, p0, SRVM_AMX_U8);
        else if (fmt == SRVM_AMX_S8) conv_tiles_full(a, p0, SRVM_AMX_S8);
        else conv_tiles_full(a, p0, SRVM_AMX_SPLIT16);
    } else {
        // One half of the outputs, or both for a byte conv's last 16 pixels of a row: loads first.
        for (long t = 0; t < a->tapCount; t++) {
            for (long s = 0; s < a->kSteps; s++) {
                const long off = s * a->kBytes;
                long stride;
                const uint8_t *x = source_rows(a, p0, t, off, a->scratch, &stride);
                _tile_loadd(4, x, stride);
                if (split) _tile_loadd(5, split_high_rows(a, x), stride);
                if (two) { x = source_rows(a, p0 + 16, t, off, a->scratch + 1024, &stride); _tile_loadd(5, x, stride); }
                _tile_loadd(6, w, 64);
                if (both) _tile_loadd(7, w + bBytes, 64);
                w += a->halves * bBytes;
                DP_LO(0, 6);
                if (both) DP_LO(1, 7);   // then neither two nor split (the full case above)
                if (two || split) DP_HI(2, 6);
            }
        }
    }
    const long row = a->halves * 16;   // int32 per acc row
    _tile_stored(0, acc, row * 4);
    if (both) _tile_stored(1, acc + 16, row * 4);
    if (two) {
        _tile_stored(2, acc + 16 * row, row * 4);
        if (both) _tile_stored(3, acc + 16 * row + 16, row * 4);
    }
    if (split) {
        int32_t high[16 * 32] __attribute__((aligned(64)));
        _tile_stored(2, high, row * 4);
        if (both) _tile_stored(3, high + 16, row * 4);
        for (long i = 0; i < 16 * row; i += 16) {
            __m512i lo = _mm512_loadu_si512((const void *)(acc + i)), hi = _mm512_load_si512((const void *)(high + i));
            _mm512_storeu_si512((void *)(acc + i), _mm512_add_epi32(lo, _mm512_slli_epi32(hi, 8)));
        }
    }
}

AMX_TARGET void srvm_amx_conv(const srvm_amx_conv_args *a) {
    const long group = a->format == SRVM_AMX_SPLIT16 ? 16 : 32, row = a->halves * 16;
    for (long p0 = 0; p0 < a->pixels; p0 += group) conv_tiles(a, p0, a->acc + p0 * row);
}

/// srvm_amx_split16 with one byte permute (vpermb) per 32 elements instead of two narrowing
/// moves and a shift: the low bytes to the lower half, the high bytes to the upper half.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))
static void split16_vbmi(const int16_t *src, long srcStride, uint8_t *lo, uint8_t *hi, long pixels, long channels, long dstStride) {
    uint8_t order[64];
    for (int i = 0; i < 32; i++) { order[i] = (uint8_t)(2 * i); order[32 + i] = (uint8_t)(2 * i + 1); }
    const __m512i idx = _mm512_loadu_si512((const void *)order);
    for (long p = 0; p < pixels; p++) {
        const int16_t *s = src + p * srcStride;
        for (long c = 0; c < channels; c += 32) {
            long n = channels - c < 32 ? channels - c : 32;
            __mmask32 m = n == 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1);
            const __m512i v = _mm512_permutexvar_epi8(idx, _mm512_maskz_loadu_epi16(m, s + c));
            _mm256_mask_storeu_epi8(lo + p * dstStride + c, m, _mm512_castsi512_si256(v));
            _mm256_mask_storeu_epi8(hi + p * dstStride + c, m, _mm512_extracti64x4_epi64(v, 1));
        }
    }
}

/// Whether the CPU has AVX-512 VBMI (every AMX CPU so far does; checked anyway).
static int has_vbmi(void) {
    static int state = -1;
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (s >= 0) return s;
    unsigned a, b, c, d;
    s = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 1 & 1);
    __atomic_store_n(&state, s, __ATOMIC_RELEASE);
    return s;
}

AMX_TARGET void srvm_amx_split16(const int16_t *src, long srcStride, uint8_t *lo, uint8_t *hi, long pixels,
                                 long channels, long dstStride) {
    if (has_vbmi()) { split16_vbmi(src, srcStride, lo, hi, pixels, channels, dstStride); return; }
    for (long p = 0; p < pixels; p++) {
        const int16_t *s = src + p * srcStride;
        for (long c = 0; c < channels; c += 32) {
            long n = channels - c < 32 ? channels - c : 32;
            __mmask32 m = n == 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1);
            __m512i v = _mm512_maskz_loadu_epi16(m, s + c);
            _mm256_mask_storeu_epi8(lo + p * dstStride + c, m, _mm512_cvtepi16_epi8(v));
            _mm256_mask_storeu_epi8(hi + p * dstStride + c, m, _mm512_cvtepi16_epi8(_mm512_srai_epi16(v, 8)));
        }
    }
}

AMX_TARGET int32_t srvm_amx_peak_loop(long iterations) {
    static uint8_t x[2][16][64] __attribute__((aligned(64)));
    static int8_t w[2][16][64] __attribute__((aligned(64)));
    int32_t out[16][16] __attribute__((aligned(64)));
    srvm_amx_configure(64);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    _tile_loadd(4, x[0], 64); _tile_loadd(5, x[1], 64); _tile_loadd(6, w[0], 64); _tile_loadd(7, w[1], 64);
    for (long i = 0; i < iterations; i++) {
        _tile_dpbusd(0, 4, 6); _tile_dpbusd(1, 4, 7); _tile_dpbusd(2, 5, 6); _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    return out[0][0];
}

#else
int srvm_amx_available(void) { return 0; }
void srvm_amx_configure(int kBytes) { (void)kBytes; }
void srvm_amx_conv(const srvm_amx_conv_args *a) { (void)a; }
void srvm_amx_split16(const int16_t *src, long srcStride, uint8_t *lo, uint8_t *hi, long pixels, long channels,
                             long dstStride) {
    (void)src; (void)srcStride; (void)lo; (void)hi; (void)pixels; (void)channels; (void)dstStride;
}
int32_t srvm_amx_peak_loop(long iterations) { (void)iterations; return 0; }
#endif
