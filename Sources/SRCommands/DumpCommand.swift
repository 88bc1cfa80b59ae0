import ArgumentParser
import SRGraph

/// The stages after which `srcc dump --after` can print the graph. The compiler's passes
/// append themselves here as they are added.
public let dumpStages = ["import"]

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a model as stable, diffable text: one line per value, weight and node.",
        discussion: """
        Weights are summarised by shape, min/max/mean and a content hash; nodes appear in \
        execution order with their input/output shapes (H and W stand for the input size). \
        The format is specified in SPEC.md, section 2.

        Example: diff <(srcc dump a.onnx) <(srcc dump b.onnx)
        """)

    @Argument(help: "Model file (.onnx).")
    var model: String

    @Option(help: "Print the graph after this stage (\(dumpStages.joined(separator: ", "))).")
    var after: String = "import"

    @Option(name: .shortAndLong, help: "Write the dump to this file instead of standard output.")
    var output: String?

    func validate() throws {
        guard dumpStages.contains(after) else {
            throw ValidationError("unknown stage '\(after)'; stages: \(dumpStages.joined(separator: ", "))")
        }
    }

    func run() throws {
        let graph = try loadGraph(path: model)
        let text = TextDump.render(graph)
        if let output { try writeAtomically(Array(text.utf8), to: output) } else { print(text, terminator: "") }
    }
}
