import Foundation
import QSRFormat
import SRImage

/// A .qsr file read from disk: its program and its size in bytes.
public struct ProgramFile {
    public let path: String
    public let program: Program
    public let byteCount: Int

    /// Reads and fully validates `path`; a missing or corrupt file is a `VMError` naming it.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw VMError("\(path): cannot read the file") }
        do {
            program = try decode([UInt8](data))
        } catch let e as QSRError {
            throw VMError("\(path): not a valid .qsr file: \(e.description)")
        }
        self.path = path
        byteCount = data.count
    }
}

/// The text of `srvm info`: metadata, instruction counts, constant bytes by kind, parameter
/// count, values and slots, peak activation memory at `width` x `height`, and the compression
/// figure (float source bytes vs. .qsr bytes). Memory and operand formats are those of `kernels`.
public func programInfo(_ p: Program, fileBytes: Int, width: Int, height: Int, kernels: KernelSet = .best) throws -> String {
    let vm = try VirtualMachine(program: p, kernels: kernels)
    let m = p.metadata
    var lines: [String] = []
    lines.append("model: \(m.modelName)")
    lines.append("scale: x\(m.scale)  channels: \(m.channelOrder == .rgb ? "rgb" : "bgr")  range: \(m.valueRange)")
    lines.append("input: \(m.inputName)  output: \(m.outputName)")
    for key in m.notes.keys.sorted() { lines.append("note: \(key)=\(m.notes[key]!)") }

    var byMnemonic: [String: Int] = [:]
    for ins in p.instructions { byMnemonic[ins.mnemonic, default: 0] += 1 }
    let counts = Opcode.allCases.compactMap { op in byMnemonic[op.mnemonic].map { "\(op.mnemonic) \($0)" } }
    lines.append("instructions: \(p.instructions.count) (\(counts.joined(separator: ", ")))")

    var kindBytes: [Constant.Kind: (n: Int, bytes: Int)] = [:]
    for c in p.constants {
        let b: Int
        switch c.kind { case .int4: b = (c.count + 1) / 2; case .int8, .uint8: b = c.count; case .int32: b = 4 * c.count }
        kindBytes[c.kind, default: (0, 0)].n += 1
        kindBytes[c.kind, default: (0, 0)].bytes += b
    }
    let kinds: [(Constant.Kind, String)] = [(.int4, "int4"), (.int8, "int8"), (.int32, "int32"), (.uint8, "uint8")]
    let total = kindBytes.values.reduce(0) { $0 + $1.bytes }
    let parts = kinds.compactMap { k, name in kindBytes[k].map { "\(name) \($0.bytes) B in \($0.n)" } }
    lines.append("constants: \(p.constants.count), \(total) bytes (\(parts.joined(separator: ", ")))")

    var parameters = 0
    for ins in p.instructions {
        if case let .conv(_, _, _, w, _, b, _, _) = ins { parameters += p.constants[Int(w)].count + p.constants[Int(b)].count }
    }
    lines.append("parameters: \(parameters) (conv weights and biases)")
    lines.append("values: \(p.values.count)  slots: \(p.slotCount)")
    let buffers = try vm.slotBytes(width: width, height: height)
    let peak = buffers.reduce(0, +)
    lines.append("peak activation memory at \(width)x\(height): \(peak) bytes (\(mebibytes(peak)) MiB) in \(buffers.count) buffers, --kernels \(vm.kernels.rawValue)")
    if let kinds = vm.convKernelSummary { lines.append("conv operand formats, --kernels \(kinds)") }
    if m.sourceBytes > 0 && fileBytes > 0 {
        let ratio = Double(m.sourceBytes) / Double(fileBytes)
        let percent = 100 * Double(fileBytes) / Double(m.sourceBytes)
        lines.append("compression: float source \(m.sourceBytes) bytes -> .qsr \(fileBytes) bytes: \(fixed(ratio, 2))x smaller (\(fixed(percent, 1))% of the source)")
    } else {
        lines.append("compression: float source size unknown; .qsr \(fileBytes) bytes")
    }
    return lines.joined(separator: "\n") + "\n"
}

private func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
private func mebibytes(_ b: Int) -> String { fixed(Double(b) / 1_048_576, 2) }
