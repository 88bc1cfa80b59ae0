import FixedPoint
import SRImage
import XCTest
import QSRFormat
@testable import SRVM

/// A tensor in its own buffer, for calling a kernel directly.
final class Buffer {
    let raw: UnsafeMutableRawPointer
    let view: TensorView
    init(_ type: ElementType, _ c: Int, _ h: Int, _ w: Int, _ values: [Int32]? = nil) {
        raw = .allocate(byteCount: max(c * h * w * type.byteWidth, 1), alignment: 16)
        view = TensorView(base: raw, type: type, c: c, h: h, w: w)
        for (i, v) in (values ?? [Int32](repeating: 0, count: c * h * w)).enumerated() { view.store(i, v) }
    }
    deinit { raw.deallocate() }
    var values: [Int32] { view.toArray() }
}

// pseudoRandom and Fixtures come from ../QSRFormatTests/Fixtures.swift (symlinked).

/// Conv written straight from SPEC.md §5.3 with 64-bit sums and per-tap bounds checks,
/// independently of the VM's padded-buffer kernel.
func referenceConv(_ x: [Int32], c C: Int, h H: Int, w W: Int, params q: ConvParameters, weights: [Int32], bias: [Int32],
                   requant r: Requantization, pad: [Int32]?) -> (values: [Int32], h: Int, w: Int) {
    let O = Int(q.outputChannels), G = Int(q.group), cg = C / G, og = O / G
    let kh = Int(q.kernelHeight), kw = Int(q.kernelWidth)
    let Ho = (H + Int(q.padTop) + Int(q.padBottom) - Int(q.dilationY) * (kh - 1) - 1) / Int(q.strideY) + 1
    let Wo = (W + Int(q.padLeft) + Int(q.padRight) - Int(q.dilationX) * (kw - 1) - 1) / Int(q.strideX) + 1
    var out: [Int32] = []
    for o in 0..<O {
        let g = o / og
        for y in 0..<Ho {
            for xo in 0..<Wo {
                var acc = Int64(bias[o])
                for c in 0..<cg {
                    let ci = g * cg + c
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            let iy = y * Int(q.strideY) - Int(q.padTop) + ky * Int(q.dilationY)
                            let ix = xo * Int(q.strideX) - Int(q.padLeft) + kx * Int(q.dilationX)
                            let v = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[(ci * H + iy) * W + ix] : (pad?[ci] ?? 0)
                            acc += Int64(weights[((o * cg + c) * kh + ky) * kw + kx]) * Int64(v)
                        }
                    }
                }
                let a = Int32(acc)
                let m = a < 0 && r.negative != nil ? (r.negative!.count == 1 ? r.negative![0] : r.negative![o])
                                                     : (r.positive.count == 1 ? r.positive[0] : r.positive[o])
                out.append(clamp(requantize(a, m), r.clampMin, r.clampMax))
            }
        }
    }
    return (out, Ho, Wo)
}

/// The reference kernels' output for `image` (checked not to be flat, which would make the
/// comparison vacuous), after checking that every kernel set in `sets`, at every thread count in
/// `threads`, computes the same pixels. `label` starts each failure message.
@discardableResult
func assertKernelSetsMatchTheReference(_ p: Program, _ image: RGBImage, sets: [KernelSet], threads: [Int], _ label: String = "",
                                       file: StaticString = #filePath, line: UInt = #line) throws -> RGBImage {
    let reference = try VirtualMachine(program: p, kernels: .reference, threads: 1).run(image)
    XCTAssertGreaterThan(Set(reference.pixels).count, 16, "a flat output would make the comparison vacuous", file: file, line: line)
    for set in sets {
        for t in threads {
            XCTAssertEqual(try VirtualMachine(program: p, kernels: set, threads: t).run(image), reference,
                           "\(label)--kernels \(set) --threads \(t)", file: file, line: line)
        }
    }
    return reference
}

/// Every kernel set but the reference that this CPU runs `p` with.
func kernelSetsThisCPURuns(_ p: Program) -> [KernelSet] {
    KernelSet.allCases.filter { $0 != .reference && (try? VirtualMachine(program: p, kernels: $0)) != nil }
}

/// A hand-built program's file around its parts: RGB pixels 0...255 in, input "in", output "out".
func rgbProgram(_ name: String, scale: Int = 1, values: [ValueDescriptor], constants: [Constant], instructions: [Instruction], slots: Int) -> Program {
    let meta = ModelMetadata(modelName: name, scale: scale, channelOrder: .rgb, valueRange: 255, inputName: "in", outputName: "out", sourceBytes: 1)
    return Program(metadata: meta, values: values, constants: constants, instructions: instructions, slotCount: slots)
}
