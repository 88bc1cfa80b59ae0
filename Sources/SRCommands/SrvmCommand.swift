import ArgumentParser

/// `srvm`: the integer VM that runs compiled .qsr programs.
public struct SrvmCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "srvm",
        abstract: "Run compiled super-resolution programs (.qsr) with integer kernels.",
        discussion: """
        A .qsr file is a quantized model compiled by srcc: fixed-point instructions, int4/int8 \
        weights and their requantization parameters (SPEC.md section 5). srvm validates the \
        whole file before using it.

        Typical use:
          srvm info model.qsr                   # metadata, sizes, memory, compression
          srvm run model.qsr in.png -o out.png  # upscale with the integer kernels
        """,
        subcommands: [SrvmRunCommand.self, SrvmInfoCommand.self])
    public init() {}
}
