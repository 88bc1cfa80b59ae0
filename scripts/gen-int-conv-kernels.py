#!/usr/bin/env python3
"""Generates srvm's unrolled int conv register tiles (NR output pixels x MR blocks of 8 output
channels), one Swift file per ISA module. Accumulators must be named variables to stay in
registers, so every (variant, NR, MR) is written out.

Operand formats ("kinds", SPEC.md §5.6), all exact:
  pair   s16 x s16 -> s32; a step is 2 input channels (one broadcast dword).
           AVX2: vpmaddwd + vpaddd.  AVX-VNNI: vpdpwssd.
  quadU  u8 x s8; a step is 4 input channels.
           AVX2: vpmaddubsw into s16 partial sums, added to the int32 sums (vpmaddwd by ones)
                 every K steps; only where 2*max|x|*max|w|*K <= 32767 (no saturation).
                 K = 1 keeps the int32 sums in registers; K > 1 keeps the s16 sums in
                 registers and the int32 sums in the tile's memory (flushes are rare).
           AVX-VNNI: vpdpbusd (u8 x s8 quads straight into int32; exact for every operand).
  quadS  signed i8 sources: |x| is the unsigned operand and x's sign moves onto w
         (vpabsb, vpsignb; exact while no weight is -128). AVX2, only where K >= 2.
  quadO  signed i8 sources read as the unsigned byte x + o (vpaddb; o = a.sourceOffset, the
         negated lower bound of the source, or 128 with VNNI), o*sum(w) taken out of the bias
         when the conv is prepared. AVX2: as quadU with max|x + o| in the bound (4-bit sources
         in [-7, 7] become [0, 14]); VNNI: one vpdpbusd per quad.
Usage: scripts/gen-int-conv-kernels.py            (writes both files)
       scripts/gen-int-conv-kernels.py --check    (fails when a file is stale)
"""
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MRS = [1, 2]
# Largest NR per variant: accumulators + MR weight vectors + a broadcast (and |x| for signed
# sources) must fit the 16 ymm registers.
MAX_NR = {"pair": 6, "quadU": 6, "quadS": 5, "quadO": 6, "quad1U": 4}


def store(reg, p, m, mr):
    return f"_mm256_storeu_si256(UnsafeMutableRawPointer(a.acc + {p * mr * 8 + m * 8}).assumingMemoryBound(to: __m256i.self), {reg})"


def acc_ptr(p, m, mr):
    return f"UnsafeMutableRawPointer(a.acc + {p * mr * 8 + m * 8}).assumingMemoryBound(to: __m256i.self)"


def kernel(isa, variant, nr, mr):
    """variant: pair, quadU, quadS (flush every K steps, AVX2) or quad1U (K = 1, AVX2). There is no
    K = 1 signed quad: |x|, the sign move, vpmaddubsw and vpmaddwd put three operations per quad
    on the multiply ports where s16 pairs put two, so such convs take pairs (PreparedConv)."""
    name = f"conv{variant[0].upper()}{variant[1:]}{isa}_N{nr}M{mr}"
    signed = variant.endswith("S")
    offset = variant == "quadO"
    mem = isa == "AVX2" and variant in ("quadU", "quadS", "quadO")      # s16 sums in registers, int32 in memory
    quad1 = variant.startswith("quad1")
    L = [f"@inline(never) func {name}(_ a: ConvMicroArgs) {{"]
    for p in range(nr):
        for m in range(mr):
            L.append(f"    var {'s' if mem else 'c'}{p}_{m} = _mm256_setzero_si256()")
    if mem:
        for p in range(nr):
            for m in range(mr):
                L.append(f"    {store('_mm256_setzero_si256()', p, m, mr)}")
        L.append("    var left = a.flushInterval")
    if quad1:
        L.append("    let ones = _mm256_set1_epi16(1)")
    if offset:
        L.append("    let shift = _mm256_set1_epi8(Int8(truncatingIfNeeded: a.sourceOffset))")
    L.append("    var wp = a.weights")
    L.append("    for t in 0..<a.taps {")
    for p in range(nr):
        L.append(f"        let x{p} = a.pointers[{p} &* a.taps &+ t] + a.channelOffset")
    L.append("        var o = 0")
    L.append("        for _ in 0..<a.steps {")
    for m in range(mr):
        L.append(f"            let w{m} = _mm256_loadu_si256((wp + {32 * m}).assumingMemoryBound(to: __m256i.self))")
    for p in range(nr):
        if offset:
            L.append(f"            let b{p} = _mm256_add_epi8(_mm256_set1_epi32(x{p}.loadUnaligned(fromByteOffset: o, as: Int32.self)), shift)")
        else:
            L.append(f"            let b{p} = _mm256_set1_epi32(x{p}.loadUnaligned(fromByteOffset: o, as: Int32.self))")
        if signed:
            L.append(f"            let u{p} = _mm256_abs_epi8(b{p})")
        for m in range(mr):
            wv = f"_mm256_sign_epi8(w{m}, b{p})" if signed else f"w{m}"
            xv = f"u{p}" if signed else f"b{p}"
            if variant == "pair":
                if isa == "AVX2":
                    L.append(f"            c{p}_{m} = _mm256_add_epi32(c{p}_{m}, _mm256_madd_epi16(b{p}, w{m}))")
                else:
                    L.append(f"            c{p}_{m} = _mm256_dpwssd_avx_epi32(c{p}_{m}, b{p}, w{m})")
            elif isa == "VNNI":
                L.append(f"            c{p}_{m} = _mm256_dpbusd_avx_epi32(c{p}_{m}, {xv}, {wv})")
            elif quad1:
                L.append(f"            c{p}_{m} = _mm256_add_epi32(c{p}_{m}, _mm256_madd_epi16(_mm256_maddubs_epi16({xv}, {wv}), ones))")
            else:
                L.append(f"            s{p}_{m} = _mm256_add_epi16(s{p}_{m}, _mm256_maddubs_epi16({xv}, {wv}))")
    L.append(f"            wp += {32 * mr}; o &+= 4")
    if mem:
        L.append("            left &-= 1")
        L.append("            if left == 0 {")
        L.append("                left = a.flushInterval")
        L.append("                let ones = _mm256_set1_epi16(1)")
        for p in range(nr):
            for m in range(mr):
                ptr = acc_ptr(p, m, mr)
                L.append(f"                {ptr}.pointee = _mm256_add_epi32({ptr}.pointee, _mm256_madd_epi16(s{p}_{m}, ones)); s{p}_{m} = _mm256_setzero_si256()")
        L.append("            }")
    L.append("        }")
    L.append("    }")
    if mem:
        L.append("    let ones = _mm256_set1_epi16(1)")
        for p in range(nr):
            for m in range(mr):
                ptr = acc_ptr(p, m, mr)
                L.append(f"    {ptr}.pointee = _mm256_add_epi32({ptr}.pointee, _mm256_madd_epi16(s{p}_{m}, ones))")
    else:
        for p in range(nr):
            for m in range(mr):
                L.append(f"    {store(f'c{p}_{m}', p, m, mr)}")
    L.append("}")
    return name, "\n".join(L)


def module(isa, variants, doc):
    out = ["// Generated by scripts/gen-int-conv-kernels.py: edit the generator, not this file.",
           "#if arch(x86_64)", "import _Builtin_intrinsics.intel", "import SRVMKernelsCommon", ""]
    names = {}
    for v in variants:
        for nr in range(1, MAX_NR[v] + 1):
            for mr in MRS:
                n, code = kernel(isa, v, nr, mr)
                names[(v, nr, mr)] = n
                out.append(code)
                out.append("")
    fn = f"convMicro{isa}"
    out.append(f"/// The most output pixels one {isa} tile of `kind` computes (`flushInterval` as in ConvMicroArgs).")
    out.append(f"public func {fn}MaxPixels(_ kind: ConvMicroKind, flushInterval: Int) -> Int {{")
    out.append("    switch kind {")
    out.append(f"    case .pair: return {MAX_NR['pair']}")
    if isa == "AVX2":
        out.append(f"    case .quadUnsigned: return flushInterval == 1 ? {MAX_NR['quad1U']} : {MAX_NR['quadU']}")
        out.append(f"    case .quadSigned: return {MAX_NR['quadS']}   // chosen only where K ≥ 2")
        out.append(f"    case .quadOffset: return {MAX_NR['quadO']}   // chosen only where K ≥ 2")
    else:
        out.append(f"    case .quadUnsigned: return {MAX_NR['quadU']}")
        out.append(f"    case .quadOffset: return {MAX_NR['quadO']}")
        out.append("    case .quadSigned: return 0   // VNNI takes signed bytes as .quadOffset")
    out.append("    }")
    out.append("}")
    out.append("")
    out.append(f"/// {doc}")
    out.append(f"/// Runs the tile of `kind` for `pixels` (1...{fn}MaxPixels) output pixels and `blocks` (1...2)")
    out.append("/// blocks of 8 output channels; the int32 sums land in `a.acc` as [pixel][block·8 + lane].")
    out.append(f"public func {fn}(_ kind: ConvMicroKind, pixels: Int, blocks: Int, _ a: ConvMicroArgs) {{")
    if isa == "AVX2":
        out.append("    let once = a.flushInterval == 1")
    out.append("    switch (kind, pixels, blocks) {")
    for (v, nr, mr), n in names.items():
        if v == "pair":
            out.append(f"    case (.pair, {nr}, {mr}): {n}(a)")
        elif isa == "AVX2":
            kind = {"U": "quadUnsigned", "S": "quadSigned", "O": "quadOffset"}[v[-1]]
            cond = "once" if v.startswith("quad1") else "!once"
            out.append(f"    case (.{kind}, {nr}, {mr}) where {cond}: {n}(a)")
        else:
            kind = {"quadU": "quadUnsigned", "quadS": "quadSigned", "quadO": "quadOffset"}[v]
            out.append(f"    case (.{kind}, {nr}, {mr}): {n}(a)")
    out.append(f"    default: preconditionFailure(\"{fn}: no tile for \\(kind) \\(pixels) pixels x \\(blocks) blocks\")")
    out.append("    }")
    out.append("}")
    out.append("#endif")
    return "\n".join(out) + "\n"



def kernel512(variant, nr, blocks):
    """AVX-512 VNNI tile: `blocks` 2 or 4 (one zmm holds 2 blocks of 8), nr pixels; or blocks 1,
    where a zmm holds 2 pixels (low half pixel 2q, high half 2q+1; weights broadcast to both)."""
    offset = variant == "quadO"
    if blocks == 1:
        npair = nr
        name = f"conv{variant[0].upper()}{variant[1:]}AVX512_P{npair}B1"
        L = [f"@inline(never) func {name}(_ a: ConvMicroArgs) {{"]
        for q in range(npair):
            L.append(f"    var c{q} = _mm512_setzero_si512()")
        if offset:
            L.append("    let shift = _mm512_set1_epi8(Int8(truncatingIfNeeded: a.sourceOffset))")
        L.append("    var wp = a.weights")
        L.append("    for t in 0..<a.taps {")
        for p in range(2 * npair):
            L.append(f"        let x{p} = a.pointers[{p} &* a.taps &+ t] + a.channelOffset")
        L.append("        var o = 0")
        L.append("        for _ in 0..<a.steps {")
        L.append("            let w = _mm512_broadcast_i64x4(_mm256_loadu_si256(wp.assumingMemoryBound(to: __m256i.self)))")
        for q in range(npair):
            e = f"_mm512_mask_set1_epi32(_mm512_set1_epi32(x{2*q}.loadUnaligned(fromByteOffset: o, as: Int32.self)), 0xFF00, x{2*q+1}.loadUnaligned(fromByteOffset: o, as: Int32.self))"
            if offset:
                e = f"_mm512_add_epi8({e}, shift)"
            L.append(f"            let b{q} = {e}")
            op = "_mm512_dpwssd_epi32" if variant == "pair" else "_mm512_dpbusd_epi32"
            L.append(f"            c{q} = {op}(c{q}, b{q}, w)")
        L.append("            wp += 32; o &+= 4")
        L.append("        }")
        L.append("    }")
        for q in range(npair):
            L.append(f"    _mm512_storeu_si512(UnsafeMutableRawPointer(a.acc + {q * 16}), c{q})")
        L.append("}")
        return name, "\n".join(L)
    mr = blocks // 2
    name = f"conv{variant[0].upper()}{variant[1:]}AVX512_N{nr}B{blocks}"
    L = [f"@inline(never) func {name}(_ a: ConvMicroArgs) {{"]
    for p in range(nr):
        for m in range(mr):
            L.append(f"    var c{p}_{m} = _mm512_setzero_si512()")
    if offset:
        L.append("    let shift = _mm512_set1_epi8(Int8(truncatingIfNeeded: a.sourceOffset))")
    L.append("    var wp = a.weights")
    L.append("    for t in 0..<a.taps {")
    for p in range(nr):
        L.append(f"        let x{p} = a.pointers[{p} &* a.taps &+ t] + a.channelOffset")
    L.append("        var o = 0")
    L.append("        for _ in 0..<a.steps {")
    for m in range(mr):
        L.append(f"            let w{m} = _mm512_loadu_si512(wp + {64 * m})")
    for p in range(nr):
        e = f"_mm512_set1_epi32(x{p}.loadUnaligned(fromByteOffset: o, as: Int32.self))"
        if offset:
            e = f"_mm512_add_epi8({e}, shift)"
        L.append(f"            let b{p} = {e}")
        for m in range(mr):
            op = "_mm512_dpwssd_epi32" if variant == "pair" else "_mm512_dpbusd_epi32"
            L.append(f"            c{p}_{m} = {op}(c{p}_{m}, b{p}, w{m})")
    L.append(f"            wp += {64 * mr}; o &+= 4")
    L.append("        }")
    L.append("    }")
    for p in range(nr):
        for m in range(mr):
            L.append(f"    _mm512_storeu_si512(UnsafeMutableRawPointer(a.acc + {p * blocks * 8 + m * 16}), c{p}_{m})")
    L.append("}")
    return name, "\n".join(L)


AVX512_NR = 8        # pixels per tile for 2 or 4 blocks (up to 16 zmm accumulators of 32)
AVX512_PAIRS = 8     # pixel pairs per tile for 1 block


def module512():
    out = ["// Generated by scripts/gen-int-conv-kernels.py: edit the generator, not this file.",
           "#if arch(x86_64)", "import _Builtin_intrinsics.intel", "import SRVMKernelsCommon", ""]
    cases = []
    kinds = {"pair": "pair", "quadU": "quadUnsigned", "quadO": "quadOffset"}
    for v in ["pair", "quadU", "quadO"]:
        for blocks in [4, 2]:
            for nr in range(1, AVX512_NR + 1):
                n, code = kernel512(v, nr, blocks)
                out.append(code); out.append("")
                cases.append(f"    case (.{kinds[v]}, {blocks}, {nr}): {n}(a)")
        for npair in range(1, AVX512_PAIRS + 1):
            n, code = kernel512(v, npair, 1)
            out.append(code); out.append("")
            cases.append(f"    case (.{kinds[v]}, 1, {2 * npair - 1}), (.{kinds[v]}, 1, {2 * npair}): {n}(a)")
    out.append("/// The most output pixels one AVX-512 tile of `blocks` blocks computes (blocks 1, 2 or 4).")
    out.append("public func convMicroAVX512MaxPixels(blocks: Int) -> Int {")
    out.append(f"    blocks == 1 ? {2 * AVX512_PAIRS} : {AVX512_NR}")
    out.append("}")
    out.append("")
    out.append("/// AVX-512 VNNI tiles: vpdpwssd pairs and vpdpbusd quads on zmm, int32 sums throughout; a zmm")
    out.append("/// holds two blocks of 8 output channels, or (1-block chunks) one block of two pixels, which")
    out.append("/// then reads the pointers of an even number of pixels (the caller pads the table).")
    out.append("/// The int32 sums land in `a.acc` as [pixel][block·8 + lane] (an odd last pixel's pair partner too).")
    out.append("public func convMicroAVX512(_ kind: ConvMicroKind, pixels: Int, blocks: Int, _ a: ConvMicroArgs) {")
    out.append("    switch (kind, blocks, pixels) {")
    out.extend(cases)
    out.append("    default: preconditionFailure(\"convMicroAVX512: no tile for \\(kind) \\(pixels) pixels x \\(blocks) blocks\")")
    out.append("    }")
    out.append("}")
    out.append("#endif")
    return "\n".join(out) + "\n"


FILES = {
    "Sources/SRVMKernelsAVX2/ConvMicroKernelsAVX2.swift":
        module("AVX2", ["pair", "quadU", "quadS", "quadO", "quad1U"],
               "AVX2 tiles: vpmaddwd pairs, vpmaddubsw quads with s16 partial sums (exact by the flush bound)."),
    "Sources/SRVMKernelsVNNI/ConvMicroKernelsVNNI.swift":
        module("VNNI", ["pair", "quadU", "quadO"],
               "AVX-VNNI tiles: vpdpwssd pairs and vpdpbusd quads, int32 sums throughout."),
    "Sources/SRVMKernelsAVX512/ConvMicroKernelsAVX512.swift": module512(),
}

if __name__ == "__main__":
    check = "--check" in sys.argv
    stale = []
    for rel, text in FILES.items():
        path = os.path.join(ROOT, rel)
        if check:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(rel)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    if stale:
        sys.exit("gen-int-conv-kernels: stale, run scripts/gen-int-conv-kernels.py: " + ", ".join(stale))
