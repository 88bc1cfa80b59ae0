import FixedPoint
import QSRFormat
import SRImage

/// srvm's reference interpreter (SPEC.md §5.3): binds H and W from the image, evaluates every
/// value's shape, gives each slot a buffer sized for the largest value assigned to it, and
/// runs the instructions with scalar kernels. Output pixels come back as RGB.
public final class VirtualMachine {
    public let program: Program
    /// Constants widened once (int4 weights are already unpacked in `Program`).
    private let constants: [[Int32]]

    /// Validates the program (the same checks the reader runs), so a hand-built program
    /// cannot make a kernel read outside its buffers.
    public init(program: Program) throws {
        try validate(program)
        self.program = program
        self.constants = program.constants.map(\.values)
    }

    /// The upscaled image, in RGB order.
    public func run(_ image: RGBImage) throws -> RGBImage {
        try execute(image, keep: false).image
    }

    /// Every value the program writes (indexed by ValueID, elements widened to Int32 in
    /// [C,H,W] order), captured right after its instruction — for comparing intermediates
    /// with the compiler's simulation. The output image is returned too.
    public func runRaw(_ image: RGBImage) throws -> (image: RGBImage, values: [ValueID: [Int32]]) {
        let r = try execute(image, keep: true)
        return (r.image, r.values)
    }

    /// Each value's evaluated (C, H, W) for an input of `width` x `height`; errors when a size
    /// comes out < 1 (image too small) or absurdly large, or when shapes disagree.
    public func shapes(width: Int, height: Int) throws -> [(c: Int, h: Int, w: Int)] {
        guard width >= 1, height >= 1 else { throw VMError("the image is empty (\(width)x\(height))") }
        var out: [(c: Int, h: Int, w: Int)] = []
        for v in program.values {
            let h = v.height.evaluate(height: height, width: width), w = v.width.evaluate(height: height, width: width)
            guard h >= 1, w >= 1 else {
                throw VMError("a \(width)x\(height) image is too small: value \(v.name) would be \(h)x\(w)")
            }
            let (hw, o1) = h.multipliedReportingOverflow(by: w)
            let (n, o2) = hw.multipliedReportingOverflow(by: Int(v.channels) * v.type.byteWidth)
            guard !o1, !o2, n <= 1 << 36 else { throw VMError("value \(v.name) [\(v.channels),\(h),\(w)] is too large") }
            out.append((Int(v.channels), h, w))
        }
        for (i, ins) in program.instructions.enumerated() {
            do {
                try checkInstructionShapes(ins, index: i, program: program, input: (height, width)) { out[Int($0)] }
            } catch let e as QSRError {
                throw VMError("at \(width)x\(height): \(e.description)")
            }
        }
        return out
    }

    /// Bytes of each slot's buffer for an input of `width` x `height` (the largest value
    /// assigned to the slot); their sum is the peak activation memory.
    public func slotBytes(width: Int, height: Int) throws -> [Int] {
        let s = try shapes(width: width, height: height)
        var bytes = [Int](repeating: 0, count: program.slotCount)
        for (v, d) in zip(program.values, s) {
            bytes[Int(v.slot)] = max(bytes[Int(v.slot)], d.c * d.h * d.w * v.type.byteWidth)
        }
        return bytes
    }

    private func execute(_ image: RGBImage, keep: Bool) throws -> (image: RGBImage, values: [ValueID: [Int32]]) {
        let p = program
        let shape = try shapes(width: image.width, height: image.height)
        let sizes = try slotBytes(width: image.width, height: image.height)
        let buffers = sizes.map { UnsafeMutableRawPointer.allocate(byteCount: max($0, 1), alignment: 16) }
        defer { for b in buffers { b.deallocate() } }
        func view(_ id: ValueID, base: UnsafeMutableRawPointer? = nil) -> TensorView {
            let v = p.values[Int(id)], s = shape[Int(id)]
            return TensorView(base: base ?? buffers[Int(v.slot)], type: v.type, c: s.c, h: s.h, w: s.w)
        }
        var kept: [ValueID: [Int32]] = [:]
        var result: RGBImage?

        for ins in p.instructions {
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
