// srvm's AMX conv tiles (SPEC.md §5.6, "AMX"). C, not Swift: AMX's intrinsics are macros over
// builtins that take tile numbers as immediates, which Swift's clang importer cannot call.
#ifndef SRVM_AMX_H
#define SRVM_AMX_H
#include <stdint.h>

/// 1 when the CPU has AMX-TILE and AMX-INT8 and the OS granted this process the tile data
/// state (Linux arch_prctl ARCH_REQ_XCOMP_PERM); 0 otherwise. Cheap after the first call.
int srvm_amx_available(void);

/// Loads this thread's tile configuration for convs whose K steps read `kBytes` input bytes
/// (4...64, a multiple of 4): tiles 0-3 accumulators (16 rows x 16 int32), 4-5 sources
/// (16 pixels x kBytes), 6-7 weights (kBytes/4 rows x 16 outputs x 4 bytes).
void srvm_amx_configure(int kBytes);

/// Operand formats of the AMX tiles.
enum {
    SRVM_AMX_U8 = 0,       // u8 sources x s8 weights (tdpbusd)
    SRVM_AMX_S8 = 1,       // s8 sources x s8 weights (tdpbssd)
    SRVM_AMX_SPLIT16 = 2,  // s16 sources staged as a low byte plane (u8) and a high one (s8): lo·w + 256·(hi·w)
};

/// Where one tap (or merged kernel row) of a row of output pixels reads: output pixel x reads
/// base + x·pixelStride when xLo ≤ x < xHi (inside the image), the pad pixel otherwise. `base`
/// is an address computed for x = 0, which may lie outside the source (never read there).
typedef struct {
    intptr_t base;
    long xLo, xHi;
} srvm_amx_tap;

/// One call's work: output pixels x0 ..< x0 + pixels of one row (a multiple of 32 but the last),
/// x 16·halves output channels, int32 sums into acc [pixel][16·halves] (all 16 rows of a started
/// pixel group are written: acc holds `pixels` rounded up to 16).
typedef struct {
    const srvm_amx_tap *taps;
    const uint8_t *pad;
    const int8_t *weights;   // [tap][kStep][half][kBytes/4][16][4]
    int32_t *acc;
    uint8_t *scratch;        // 64-byte aligned, 2 x 16 x 64 bytes (gathered source rows)
    long x0, pixels, tapCount, halves, kBytes, kSteps;
    long pixelStride;        // bytes from one output pixel's source to the next (stride x pixel bytes)
    long hiOffset;           // SPLIT16: bytes from a pixel's low-byte plane to its high-byte plane
    int format;
} srvm_amx_conv_args;

void srvm_amx_conv(const srvm_amx_conv_args *a);

/// s16 elements -> low bytes (u8) and high bytes (s8), the SPLIT16 operand format: pixel p's
/// `channels` elements (at src + p·srcStride) to lo + p·dstStride and hi + p·dstStride (hi = lo +
/// S and dstStride 2·S: each pixel's low then high bytes; hi a plane away: a merged conv's planes).
void srvm_amx_split16(const int16_t *src, long srcStride, uint8_t *lo, uint8_t *hi, long pixels, long channels,
                             long dstStride);

/// The register-only tdpbusd rate (4 independent accumulators, no loads) over `iterations` x 4
/// instructions (the AMX peak `srvm microbench` compares against); returns a checksum.
int32_t srvm_amx_peak_loop(long iterations);

#endif
