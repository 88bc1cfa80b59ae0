import ArgumentParser

/// `srcc`: the model compiler's command line. Lives in a library so tests call it directly.
public struct SrccCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "srcc",
        abstract: "Compile float super-resolution models (ONNX) and inspect, run and evaluate them.",
        discussion: """
        Typical use:
          srcc compile model.onnx -b 4           # float ONNX -> model.qsr (4-bit body)
          srcc dump model.onnx                   # diffable text form of the graph
          srcc run model.onnx in.png -o out.png  # upscale with the fp32 engine
          srcc eval model.onnx --dataset DIR --scale 2

        Models trained on 0..255 or BGR inputs need --range 255 or --channels bgr.
        """,
        subcommands: [CompileCommand.self, DumpCommand.self, RunCommand.self, EvalCommand.self, BenchCommand.self])
    public init() {}
}
