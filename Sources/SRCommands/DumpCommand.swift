import ArgumentParser
import Foundation
import SRGraph
import SRQuant
import QSRFormat
import SRVM
import SRVMCommands

/// The stages after which `srcc dump --after` can print a model: import, each quantizer pass,
/// and the lowered integer program.
public var dumpStages: [String] { ["import"] + QuantizationPipeline.passNames + ["lower"] }

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a model as stable, diffable text: one line per value, weight and node.",
        discussion: """
        Weights are summarised by shape, min/max/mean and a content hash; nodes appear in \
        execution order with their input/output shapes (H and W stand for the input size). \
        A .qsr file prints in the same style with its quantization parameters (bits, scales, \
        multipliers, shifts, clamps). --after PASS runs the quantizer up to that pass with the \
        same options as srcc compile, so a diff shows exactly what a pass did. The format is \
        specified in SPEC.md, sections 2 and 5.4.

        Examples:
          diff <(srcc dump a.onnx) <(srcc dump b.onnx)
          diff <(srcc dump m.onnx --after insert-quant -b 4) <(srcc dump m.onnx --after calibrate -b 4)
          diff <(srcc dump m.onnx) <(srcc dump m.qsr)
        """)

    @Argument(help: "Model file (.onnx or .qsr).")
    var model: String

    @Option(help: ArgumentHelp("Print the model after this stage: \(dumpStages.joined(separator: ", ")).", valueName: "stage"))
    var after: String = "import"

    @Option(name: .shortAndLong, help: "Write the dump to this file instead of standard output.")
    var output: String?

    @OptionGroup var quantization: QuantizationArguments
    @OptionGroup var convention: ConventionOptions

    func validate() throws {
        guard dumpStages.contains(after) else {
            throw ValidationError("unknown stage '\(after)'; stages: \(dumpStages.joined(separator: ", "))")
        }
    }

    func run() throws {
        let log: (String) -> Void = { FileHandle.standardError.write(Data("srcc: \($0)\n".utf8)) }
        let text: String
        if (model as NSString).pathExtension.lowercased() == "qsr" {
            text = textDump(try wrapVM { try ProgramFile(path: model) }.program)
        } else if after == "lower" {
            text = textDump(try compileProgram(model: model, quantization: quantization, convention: convention.convention, threads: nil, log: log))
        } else {
            let graph = try loadGraph(path: model)
            if after == "import" {
                text = TextDump.render(graph)
            } else {
                let options = try quantization.options(for: graph, convention: convention.convention, threads: nil, log: log)
                text = TextDump.render(try QuantizationPipeline.run(graph, options: options, through: after, log: log))
            }
        }
        if let output { try writeAtomically(Array(text.utf8), to: output) } else { print(text, terminator: "") }
    }
}
