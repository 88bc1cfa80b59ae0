import FixedPoint
import QSRFormat
import SRImage

/// srvm's reference interpreter (SPEC.md §5.3): planar [C,H,W] tensors, one buffer per slot
/// sized for the largest value assigned to it, scalar kernels that widen every element to
/// Int32. Obviously correct and slow: the oracle every optimized kernel is tested against
/// (`--kernels reference`).
struct ReferenceInterpreter {
    let program: Program
    /// Constants widened once (int4 weights are already unpacked in `Program`).
    let constants: [[Int32]]

    init(program: Program) {
        self.program = program
        self.constants = program.constants.map(\.values)
    }

    /// Runs the program; `shape` and `sizes` are the VM's evaluated value shapes and slot bytes.
    /// `keep` captures every written value widened to Int32 in [C,H,W] order; `profile`, when
    /// given, receives each instruction's seconds.
    func execute(_ image: RGBImage, shape: [(c: Int, h: Int, w: Int)], sizes: [Int], keep: Bool,
                 profile: InstructionProfile?) throws -> (image: RGBImage, values: [ValueID: [Int32]]) {
        let p = program
        let buffers = sizes.map { UnsafeMutableRawPointer.allocate(byteCount: max($0, 1), alignment: 16) }
        defer { for b in buffers { b.deallocate() } }
        func view(_ id: ValueID, base: UnsafeMutableRawPointer? = nil) -> TensorView {
            let v = p.values[Int(id)], s = shape[Int(id)]
            return TensorView(base: base ?? buffers[Int(v.slot)], type: v.type, c: s.c, h: s.h, w: s.w)
        }
        var kept: [ValueID: [Int32]] = [:]
        var result: RGBImage?

        for (index, ins) in p.instructions.enumerated() {
            let started = profile != nil ? monotonicSeconds() : 0
            // A destination sharing a slot with one of its sources is computed aside and copied.
            var scratch: UnsafeMutableRawPointer? = nil
            if let d = ins.destination, ins.sources.contains(where: { p.values[Int($0)].slot == p.values[Int(d)].slot }) {
                scratch = .allocate(byteCount: max(sizes[Int(p.values[Int(d)].slot)], 1), alignment: 16)
            }
            defer { scratch?.deallocate() }
            let dst = ins.destination.map { view($0, base: scratch) }

            switch ins {
            case .inputPixels:
                inputPixelsKernel(dst: dst!, image: image, order: p.metadata.channelOrder)
            case let .outputPixels(src):
                result = outputPixelsKernel(src: view(src), order: p.metadata.channelOrder)
            case let .conv(_, src, q, w, _, b, r, pad):
                convKernel(dst: dst!, src: view(src), params: q, weights: constants[Int(w)], bias: constants[Int(b)],
                           requant: r, padValues: pad.map { constants[Int($0)] })
            case let .requantize(_, src, r):
                requantizeKernel(dst: dst!, src: view(src), requant: r)
            case let .add(_, a, b, shift, ma, mb, mo, subtract, lo, hi):
                addKernel(dst: dst!, a: view(a), b: view(b), leftShift: shift, ma: ma, mb: mb, mo: mo, subtract: subtract, lo: lo, hi: hi)
            case let .mul(_, a, b, m, lo, hi):
                mulKernel(dst: dst!, a: view(a), b: view(b), m: m, lo: lo, hi: hi)
            case let .concat(_, sources, ms, lo, hi):
                concatKernel(dst: dst!, sources: sources.map { view($0) }, multipliers: ms, lo: lo, hi: hi)
            case let .sliceChannels(_, src, start):
                sliceKernel(dst: dst!, src: view(src), start: Int(start))
            case let .depthToSpace(_, src, b, crd):
                depthToSpaceKernel(dst: dst!, src: view(src), block: Int(b), crd: crd)
            case let .reduceMean(_, src, m, lo, hi):
                reduceMeanKernel(dst: dst!, src: view(src), m: m, lo: lo, hi: hi)
            case let .sqrt(_, src, m, lo, hi):
                sqrtKernel(dst: dst!, src: view(src), m: m, lo: lo, hi: hi)
            case let .lookup(_, src, t):
                try lookupKernel(dst: dst!, src: view(src), srcMin: p.values[Int(src)].qmin, table: constants[Int(t)])
            }

            if let d = ins.destination {
                let slot = Int(p.values[Int(d)].slot)
                if let scratch { buffers[slot].copyMemory(from: scratch, byteCount: dst!.count * dst!.type.byteWidth) }
                if keep { kept[d] = view(d).toArray() }
            }
            if let profile { profile.seconds[index] += monotonicSeconds() - started }
        }
        guard let result else { throw VMError("the program produced no output") }
        return (result, kept)
    }
}

/// input_pixels: dst[c,y,x] = the image's pixel, channels in the program's order.
func inputPixelsKernel(dst: TensorView, image: RGBImage, order: ModelMetadata.ChannelOrder) {
    image.pixels.withUnsafeBufferPointer { px in
        for c in 0..<3 {
            let ic = order == .rgb ? c : 2 - c
            for i in 0..<(dst.h * dst.w) { dst.store(c * dst.plane + i, Int32(px[i * 3 + ic])) }
        }
    }
}

/// output_pixels: the u8 [3, sH, sW] result as an RGB image.
func outputPixelsKernel(src: TensorView, order: ModelMetadata.ChannelOrder) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: src.plane * 3)
    for c in 0..<3 {
        let oc = order == .rgb ? c : 2 - c
        for i in 0..<src.plane { pixels[i * 3 + oc] = UInt8(truncatingIfNeeded: src.load(c * src.plane + i)) }
    }
    return RGBImage(width: src.w, height: src.h, pixels: pixels)
}
