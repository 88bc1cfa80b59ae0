import FixedPoint
import QSRFormat
import SRImage
import SRRuntime

/// srvm: validates a program once, prepares it for the chosen kernels, and runs it on images.
/// `.reference` runs the scalar planar interpreter (the oracle, `Reference/`); the other
/// kernel sets run the prepared program (`Prepared/`): packed weights, channels-innermost
/// activations, SIMD kernels chosen by CPU features at run time, row bands across threads.
/// Every kernel set computes bit-identical outputs (SPEC.md §5.3 is the contract).
public final class VirtualMachine {
    public let program: Program
    public let kernels: KernelSet
    public let threads: Int
    private let reference: ReferenceInterpreter
    private let prepared: PreparedProgram?

    /// Validates the program (the same checks the reader runs), so a hand-built program
    /// cannot make a kernel read outside its buffers. `threads` nil: one per core.
    public init(program: Program, kernels: KernelSet = .best, threads: Int? = nil) throws {
        try validate(program)
        if let threads, threads < 1 { throw VMError("--threads must be at least 1 (got \(threads))") }
        self.program = program
        self.kernels = try kernels.resolved()
        self.threads = threads ?? defaultThreadCount()
        self.reference = ReferenceInterpreter(program: program)
        switch self.kernels {
        case .reference: prepared = nil
        case .avx2: prepared = PreparedProgram(program: program, isa: .avx2)
        case .vnni: prepared = PreparedProgram(program: program, isa: .vnni)
        case .avx512: prepared = PreparedProgram(program: program, isa: .avx512)
        case .amx: prepared = PreparedProgram(program: program, isa: .avx512, amx: true)
        default: prepared = PreparedProgram(program: program, isa: .portable)
        }
    }

    /// The upscaled image, in RGB order.
    public func run(_ image: RGBImage) throws -> RGBImage {
        try execute(image, keep: false, profile: nil).image
    }

    /// The upscaled image, with each instruction's wall time added to `profile`.
    public func run(_ image: RGBImage, profile: InstructionProfile) throws -> RGBImage {
        precondition(profile.seconds.count == program.instructions.count, "profile made for another program")
        return try execute(image, keep: false, profile: profile).image
    }

    /// Every value the program writes (indexed by ValueID, elements widened to Int32 in
    /// [C,H,W] order), captured right after its instruction — for comparing intermediates
    /// between kernel sets and with the compiler. The output image is returned too.
    public func runRaw(_ image: RGBImage) throws -> (image: RGBImage, values: [ValueID: [Int32]]) {
        try execute(image, keep: true, profile: nil)
    }

    private func execute(_ image: RGBImage, keep: Bool, profile: InstructionProfile?) throws -> (image: RGBImage, values: [ValueID: [Int32]]) {
        let shape = try shapes(width: image.width, height: image.height)
        switch kernels {
        case .reference:
            let sizes = try fileSlotBytes(width: image.width, height: image.height)
            return try reference.execute(image, shape: shape, sizes: sizes, keep: keep, profile: profile)
        default:
            return try prepared!.execute(image, shapes: shape, threads: threads, keep: keep, profile: profile)
        }
    }

    /// How the prepared engine runs the convs: the kernel set, then each operand format with
    /// its conv count (SPEC.md §5.6), e.g. "avx512: 16 quadUnsigned, 4 pair"; nil for the reference.
    public var convKernelSummary: String? {
        guard let prepared else { return nil }
        var counts: [String: Int] = [:]
        for c in prepared.preparedConvs {
            let name = c.amxPlan.map(\.formatName) ?? "\(c.kind)" + (c.gathers ? " (gathered)" : "")
            counts[name, default: 0] += 1
        }
        let parts = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.value) \($0.key)" }
        return "\(kernels.rawValue): " + parts.joined(separator: ", ")
    }

    /// slice_channels the prepared engine reads in place (0 for the reference).
    var viewSlices: Int { prepared?.viewSliceCount ?? 0 }
    /// Concat sources the prepared engine's convs store straight into the concat (0 for the reference).
    var concatPartsStoredByConvs: Int { prepared?.concatPartCount ?? 0 }
    /// Requantizes the prepared engine runs in row bands with the add or conv that makes their source.
    var bandedRequantizeCount: Int { prepared?.bandedRequantizeCount ?? 0 }
    /// Convs the prepared engine runs storing through the depth_to_space after them.
    var depthToSpaceFolds: Int { prepared?.depthToSpaceFoldCount ?? 0 }
    /// Sibling convs the prepared engine runs as one: first conv's index -> every member's index
    /// (empty for the reference). A profile times the group on its first conv.
    public var siblingConvGroups: [Int: [Int]] { prepared?.siblingGroups ?? [:] }
    /// Grouped convs the prepared engine runs as convs of two groups each (AMX only).
    var groupPairConvs: Int { prepared?.groupPairCount ?? 0 }

    /// Multiply-accumulates of one run at `width` x `height` (conv products; for GMAC/s).
    public func multiplyAccumulates(width: Int, height: Int) throws -> Int {
        let s = try shapes(width: width, height: height)
        var total = 0
        for ins in program.instructions {
            guard case let .conv(dst, _, q, _, _, _, _, _) = ins else { continue }
            let o = s[Int(dst)]
            total += o.c * o.h * o.w * Int(q.inputChannels / q.group) * Int(q.kernelHeight * q.kernelWidth)
        }
        return total
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

    /// Bytes of each activation buffer this VM allocates for an input of `width` x `height`;
    /// their sum is the peak activation memory. The prepared engine places values itself
    /// (BufferPlan, at its pixel layout); the reference uses the file's slots.
    public func slotBytes(width: Int, height: Int) throws -> [Int] {
        if let prepared { return prepared.bufferPlan(shapes: try shapes(width: width, height: height), folds: true).bytes }
        return try fileSlotBytes(width: width, height: height)
    }

    /// Bytes of each of the file's slots: the largest value assigned to it.
    func fileSlotBytes(width: Int, height: Int) throws -> [Int] {
        let s = try shapes(width: width, height: height)
        var bytes = [Int](repeating: 0, count: program.slotCount)
        for (v, d) in zip(program.values, s) {
            bytes[Int(v.slot)] = max(bytes[Int(v.slot)], d.c * d.h * d.w * v.type.byteWidth)
        }
        return bytes
    }
}
