import ArgumentParser
import Foundation
import SRGraph
import SRQuant
import QSRFormat
import SRVMCommands

struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a float ONNX model into an integer program (.qsr) for srvm.",
        discussion: """
        Runs the quantizer's passes (\(QuantizationPipeline.passNames.joined(separator: ", "))) and lowers the result to integer instructions: weights int8/int4, biases int32, \
        gemmlowp-style requantization everywhere, u8 pixels in and out (SPEC.md §5). Progress, \
        the calibrated α and the ODM γ chosen per layer are printed to standard error. The \
        output is written atomically.

        Examples:
          srcc compile edsr.onnx -b 8 --range 255 --calib ../shared/datasets/Set14/LR_bicubic/X2
          srcc compile xlsr.onnx -b 4 --channels bgr -o xlsr_w4a4.qsr
          srcc dump model.onnx --after odm -b 4     # the graph at any stage
        """)

    @Argument(help: "Float model (.onnx).")
    var model: String

    @Option(name: .shortAndLong, help: "Output program (default: <model>.qsr beside the model).")
    var output: String?

    @OptionGroup var quantization: QuantizationArguments
    @OptionGroup var convention: ConventionOptions

    @Option(help: "Worker threads for calibration (default: all cores).")
    var threads: Int?

    @Flag(name: .shortAndLong, help: "Print less: only errors.")
    var quiet = false

    func run() throws {
        let log: (String) -> Void = { line in if !quiet { FileHandle.standardError.write(Data("srcc: \(line)\n".utf8)) } }
        let program = try compileProgram(model: model, quantization: quantization, convention: convention.convention, threads: threads, log: log)
        let bytes = encode(program)
        let out = output ?? ((model as NSString).deletingPathExtension + ".qsr")
        try writeAtomically(bytes, to: out)
        let ratio = Double(bytes.count) / Double(max(1, program.metadata.sourceBytes)) * 100
        log("wrote \(out): \(bytes.count) bytes, \(String(format: "%.1f", ratio))% of the float model's \(program.metadata.sourceBytes)")
    }
}

/// ONNX file -> passes -> lowering -> program (shared by compile, dump --after lower, tests).
func compileProgram(model: String, quantization: QuantizationArguments, convention: ModelConvention,
                    threads: Int?, log: (String) -> Void) throws -> Program {
    let graph = try loadGraph(path: model)
    let scale = try upscaleFactor(of: graph)
    let options = try quantization.options(for: graph, convention: convention, threads: threads, log: log)
    let quantized = try QuantizationPipeline.run(graph, options: options, log: log)
    let size = (try? FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
    let metadata = ModelMetadata(
        modelName: ((model as NSString).lastPathComponent as NSString).deletingPathExtension, scale: scale,
        channelOrder: convention.channels == .bgr ? .bgr : .rgb, valueRange: Int(convention.range.fullScale),
        inputName: graph.inputs[0].name, outputName: graph.outputs[0].name, sourceBytes: size,
        notes: ["quantization": quantization.summary, "calibration": quantization.calib ?? "synthetic"])
    log("lower: integer program")
    do { return try lowerToProgram(quantized, metadata: metadata) } catch { throw CLIError("\(model): \(error)") }
}
